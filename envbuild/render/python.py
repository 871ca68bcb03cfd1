"""The Python part of a build context: the hash-pinned requirements, the local archives the lock names (copied in,
checked against the lock's sha256), and the sdists that images build against the locked environment, each with the
key of the wheel cache that keeps its built wheel between builds."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envbuild.errors import RenderError
from envbuild.lockfile import Lock, PythonPackage
from envbuild.render.names import PREFIX, SUPPORT

if TYPE_CHECKING:
    from envbuild.export.python import BuildStep

LOCAL = "local"  # the folder of the context (under SUPPORT) and of the image (under PREFIX) with the local archives
BUILT_SCRIPT = Path(__file__).parent.parent / "check" / "built.py"  # run by the image's interpreter, as a script
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*(?:/[A-Za-z0-9_][A-Za-z0-9._+-]*)*")


def python_files(lock: Lock, base: Path | None) -> dict[str, bytes]:
    """requirements.txt (what pip installs as it is), sdists/NAME.txt (each sdist built against the environment),
    and local/PATH (the local archives, from BASE: the lock's directory)."""
    from envbuild.export.python import install_plan

    if not lock.python.packages:
        return {}
    rest, steps = install_plan(lock, f"{PREFIX}/{LOCAL}")
    out = {f"{SUPPORT}/requirements.txt": rest.encode()}
    for step, text in steps:
        out[f"{SUPPORT}/sdists/{step.package.name}.txt"] = text.encode()
    if lock.python.build_packages:
        out[f"{SUPPORT}/build-requirements.txt"] = _build_group_text(lock).encode()
    if steps:  # the step that installs the built wheels records them (envbuild-check verifies them)
        out[f"{SUPPORT}/built.py"] = BUILT_SCRIPT.read_bytes()
    for pkg in lock.python.packages:
        if pkg.path:
            out[f"{SUPPORT}/{LOCAL}/{pkg.path}"] = _local_archive(pkg, base)
    if lock.python.source != "conda" or lock.python.build_packages:  # uv installs the venv, or the build group
        from envbuild.render.installer import uv_binary

        out[f"{SUPPORT}/uv"] = uv_binary(lock.target.platform)
    if lock.python.source != "conda":  # a venv: installed by uv, one layer per group of the plan
        from envbuild.render.layers import plan_json

        for name, text in _layer_files(lock):
            out[f"{SUPPORT}/layers/{name}.txt"] = text.encode()
        out[f"{SUPPORT}/layers.json"] = plan_json(lock).encode()
        if lock.python.packages:
            out[f"{SUPPORT}/compile_bytecode.py"] = (Path(__file__).parent / "compile_bytecode.py").read_bytes()
    return out


def _local_archive(pkg: PythonPackage, base: Path | None) -> bytes:
    where = f"[python.packages] -> {pkg.name!r} -> path"
    if pkg.path is None or not _PATH.fullmatch(pkg.path) or ".." in pkg.path.split("/"):
        raise RenderError(f"{where}: {pkg.path!r} is not safe to write into a build context")
    if base is None:
        raise RenderError(f"{where}: a local archive needs the lock's directory")
    path = base / pkg.path
    step = base
    for part in pkg.path.split("/"):  # the archive itself, beside the lock: never what a link points to
        step = step / part
        if step.is_symlink():
            raise RenderError(f"{where}: {step} is a symbolic link; the lock names the archive itself, in the "
                              "project (copy it there, then run envbuild lock)")
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            raise RenderError(f"{where}: {path} is not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise RenderError(f"{where}: {path}: cannot read it ({exc.strerror or exc}); it sits beside the lock, "
                          "as the spec named it") from None
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest not in pkg.hashes:
        raise RenderError(f"{where}: {pkg.path} has changed since it was locked (its sha256 is {digest}); run "
                          "envbuild lock")
    return data


def python_context(lock: Lock) -> dict[str, Any]:
    """What the templates need of the Python install: local archives to copy, and the sdists to build and their
    cache keys (the environment of their builds is checked with [env], in build_context)."""
    from envbuild.export.python import build_steps

    steps = build_steps(lock)
    checkouts = [s.package for s in steps if not s.hashed]
    if checkouts:
        _need_git(lock, checkouts[0])
    def step(s: BuildStep) -> dict[str, str]:
        return {"name": s.package.name, "key": cache_key(lock, s.package),
                "flags": " ".join((["--require-hashes"] if s.hashed else []) +
                                  ([] if s.isolated else ["--no-build-isolation"]))}

    group = _build_group_text(lock) if lock.python.build_packages else ""
    return {
        "layers": _layers(lock) if lock.python.source != "conda" else [],
        "local": any(p.path for p in lock.python.packages),
        "sdists": [step(s) for s in steps if not s.grouped],
        "kernels": [step(s) for s in steps if s.grouped],
        "build_group": hashlib.sha256(group.encode()).hexdigest() if group else None,
    }


def _build_group_text(lock: Lock) -> str:
    """The build group's requirements file: hash-checked, what uv installs in the stage that builds the sdists of
    build-dependencies (and nowhere else)."""
    from envbuild.export.python import requirements_text

    return requirements_text(lock, None, lock.python.build_packages)


def _layer_files(lock: Lock) -> list[tuple[str, str]]:
    """Each layer of the plan and its requirements file (hash-checked, as uv installs it in that layer's step)."""
    from envbuild.export.python import requirements_text
    from envbuild.render.layers import plan

    by_name = lock.python.by_name()
    return [(g.name, requirements_text(lock, f"{PREFIX}/{LOCAL}", [by_name[n] for n in g.packages]))
            for g in plan(lock)]


def _layers(lock: Lock) -> list[dict[str, str]]:
    """Each layer of the plan, with the sha256 of its requirements file: the RUN that installs it names that hash,
    because buildah's layer cache looks at a step's text, not at the files a step mounts."""
    return [{"name": name, "sha256": hashlib.sha256(text.encode()).hexdigest()} for name, text in _layer_files(lock)]


def _need_git(lock: Lock, pkg: PythonPackage) -> None:
    """pip checks a VCS requirement out with git, in the image."""
    have = {p.name for p in lock.system.packages} if lock.system is not None else set()
    if lock.base_image is not None and lock.base_image.packages:
        have |= {name for name, _ in lock.base_image.packages}
    if "git" not in have:
        raise RenderError(f"[python.packages] -> {pkg.name!r}: it is installed from git ({pkg.vcs}), so the image "
                          'needs git: add "git" to [system] packages and run envbuild lock')


def cache_key(lock: Lock, sdist: PythonPackage) -> str:
    """The wheel cache's key for SDIST: what its build depends on (the sdist, the interpreter, the platform, the
    locked versions of its build-dependencies, the build-env), and nothing else, so that a rebuild after an
    unrelated pin change reuses the wheel, while a new torch builds it again."""
    from packaging.requirements import Requirement

    declared = dict(lock.python.build_dependencies)
    if sdist.name in lock.python.built_with_group:  # the build group: its pins and hashes, and where it compiles
        image = lock.build_image
        group = sorted(f"{p.name}=={p.version} {' '.join(p.hashes)}" for p in lock.python.build_packages)
        where = [f"build-image {image.digest} {image.python}"] if image is not None else ["build-image none"]
    else:  # built against the environment: the locked versions of what it needs
        pins = lock.python.by_name()
        needs = sorted(Requirement(r).name for r in declared.get(sdist.name, ()))
        group, where = [f"{n}=={pins[n].version}" if n in pins else n for n in needs], []
    facts = [f"{sdist.name}=={sdist.version}", *sdist.hashes, sdist.vcs or "", lock.python.target_version,
             lock.target.platform, *group, *where, *(f"{k}={v}" for k, v in lock.python.build_env)]
    return f"{sdist.name}-{hashlib.sha256(chr(10).join(facts).encode()).hexdigest()[:32]}"
