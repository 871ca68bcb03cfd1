"""``envbuild render``: a lock becomes a build context: a Dockerfile, an Apptainer recipe or a devcontainer.

The templates are Jinja2 files in ``templates/`` (shipped in the wheel as ``envbuild/templates``).  With
``--templates DIR`` a file of the same name in DIR replaces the built-in one, and can extend it to replace only
some blocks: ``{% extends "builtin/Dockerfile.j2" %}{% block ca %}...{% endblock %}`` (the blocks are listed at
the top of each template).

Every value from the lock that reaches a build file is validated here, at the edge, with the lock's key path in
the error, and then quoted for the place it lands in: ``dq`` for Dockerfile ENV/LABEL strings, ``sh`` for shell
words.  A value that cannot be made safe (a newline in an env value, a package name with a space) is refused.

The context holds, beside the build file, a ``.envbuild/`` folder that envbuild owns: a copy of the lock, the
hash-pinned requirements, the apt sources and the sha256 of every .deb, and ``envbuild-check.pyz`` (the stdlib
drift check, run in the image as ``envbuild-check``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild.errors import RenderError
from envbuild.lockfile import Lock
from envbuild.render.checker import checker_archive
from envbuild.render.context import (
    APT_CACHE,
    apt_source_lines,
    build_context,
    deb_file_name,
    dockerfile_string,
    interpreter,
    shell_word,
)
from envbuild.render.cross import HOST, host_view
from envbuild.render.jinja import environment, template
from envbuild.render.names import FORMATS, MARKER, PREFIX, SUPPORT

__all__ = ["FORMATS", "MARKER", "Rendered", "build_context", "checker_archive", "dockerfile_string", "environment",
           "plan", "render", "shell_word", "support_files"]


@dataclass(frozen=True)
class Rendered:
    directory: Path
    build_file: Path  # the Dockerfile, the .def, or .devcontainer/devcontainer.json
    files: tuple[Path, ...]  # everything written, build file first


def render(lock_path: Path, out_dir: Path, fmt: str = "dockerfile", templates: Path | None = None,
           platform: str | None = None) -> Rendered:
    """Write the build context for LOCK_PATH's PLATFORM (default: its only one, else this host's) into OUT_DIR in
    format FMT."""
    from envbuild import lockfile

    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    if templates is not None and not templates.is_dir():
        raise RenderError(f"--templates {templates}: no such directory")
    lock_text = lockfile.read_lock_text(lock_path)
    lock = lockfile.loads(lock_text, shown=str(lock_path), platform=platform)
    host = host_view(lock_text, lock) if fmt == "dockerfile" else None
    context = build_context(lock, lock_text, host)
    env = environment(templates)
    files = plan(lock, lock_text, context, env, fmt, base=lock_path.parent, host=host)
    root = out_dir / ".devcontainer" if fmt == "devcontainer" else out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise RenderError(f"-o {out_dir}: not a directory (render writes a build context: a folder of files)")
    _refuse_foreign(root, files)
    written = []
    for relative, data in files.items():
        target = root / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(f"{target.parent}: cannot create the folder ({exc.strerror or exc})") from None
        _write(target, data, executable=relative.endswith(("/envbuild-check", f"{SUPPORT}/uv", f"{HOST}/uv")))
        written.append(target)
    from envbuild.render.conda import stage

    staged = stage(lock, root)  # the conda environment, installed as it will be in the image (or nothing)
    if staged is not None:
        written.append(staged)
    return Rendered(directory=root, build_file=written[0], files=tuple(written))


def plan(lock: Lock, lock_text: str, context: dict[str, Any], env: Any, fmt: str, *,
         base: Path | None = None, host: Lock | None = None) -> dict[str, bytes]:
    """The files of the context (relative path -> bytes), the build file first.  BASE: the lock's directory (which
    holds the local archives the lock names)."""
    files: dict[str, bytes] = {}
    if fmt == "apptainer":
        files["envbuild.def"] = template(env, "envbuild.def.j2", context).encode()
    else:
        files["Dockerfile"] = template(env, "Dockerfile.j2", context).encode()
    if fmt == "devcontainer":
        text = template(env, "devcontainer.json.j2", context)
        try:
            devcontainer = json.loads(text)
        except ValueError as exc:
            raise RenderError(f"devcontainer.json.j2 did not render to JSON ({exc})") from None
        header = f"// {MARKER} from envbuild.lock; do not edit. Regenerate: envbuild render --format devcontainer\n"
        files = {"devcontainer.json": (header + json.dumps(devcontainer, indent=2) + "\n").encode(), **files}
    files.update(support_files(lock, lock_text, base, host))
    return files


def support_files(lock: Lock, lock_text: str, base: Path | None = None, host: Lock | None = None) -> dict[str, bytes]:
    from envbuild.export.sbom import cyclonedx_json
    from envbuild.render.python import python_files

    out = {f"{SUPPORT}/envbuild.lock": lock_text.encode(),
           f"{SUPPORT}/sbom.cdx.json": cyclonedx_json(lock, lock_text).encode(),
           f"{SUPPORT}/envbuild-check.pyz": checker_archive(lock.python.target_version),
           f"{SUPPORT}/envbuild-check": (f'#!/bin/sh\n# {MARKER}: the drift check of this image against its lock.\n'
                                         f'exec {interpreter(lock)} {PREFIX}/envbuild-check.pyz "$@"\n').encode()}
    out.update(python_files(lock, base))
    out.update(apt_files(lock, SUPPORT))
    if host is not None:  # the python stage of an image for another platform: the first platform's apt and uv
        from envbuild.render.installer import uv_binary

        out.update(apt_files(host, f"{SUPPORT}/{HOST}"))
        out[f"{SUPPORT}/{HOST}/uv"] = uv_binary(host.target.platform)
    return out


def apt_files(lock: Lock, folder: str) -> dict[str, bytes]:
    """LOCK's apt sources, key and the sha256 of each .deb, in FOLDER of the context."""
    if lock.system is None or not lock.system.packages:
        return {}
    out = {f"{folder}/apt.sources": "".join(f"{line}\n" for line in apt_source_lines(lock)).encode()}
    if lock.system.key:
        out[f"{folder}/apt-key.asc"] = (lock.system.key.strip() + "\n").encode()
    out[f"{folder}/apt.sha256"] = "".join(
        f"{p.sha256}  {APT_CACHE}/archives/{deb_file_name(p.name, p.version, p.architecture)}\n"
        for p in lock.system.packages).encode()
    return out


# ---------------------------------------------------------------------------------------------------------
# Writing, without clobbering what is not ours


def _refuse_foreign(root: Path, files: dict[str, bytes]) -> None:
    """Refuse to overwrite a build file that envbuild did not write (a hand-written Dockerfile, say)."""
    for relative in files:
        if relative.startswith(SUPPORT + "/"):
            continue  # .envbuild/ is ours
        target = root / relative
        if target.exists():
            try:
                head = target.read_text(encoding="utf-8", errors="replace")[:400]
            except OSError as exc:
                raise RenderError(f"{target}: cannot read it ({exc.strerror})") from None
            if MARKER not in head:
                raise RenderError(f"{target} exists and was not written by envbuild; render into another "
                                  "directory (-o DIR) or move it away")


def _write(target: Path, data: bytes, *, executable: bool = False) -> None:
    """TARGET holds DATA (``envbuild.atomic``: whole, a device or FIFO written into; unchanged keeps its mtime)."""
    from envbuild import atomic

    try:
        atomic.write(target, data, mode=0o755 if executable else 0o644)
    except OSError as exc:
        raise RenderError(f"{target}: cannot write ({exc.strerror or exc})") from None
