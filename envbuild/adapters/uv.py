"""uv: the default Python resolver (``uv pip compile``) and installer (``uv venv``, ``uv pip sync``).

uv writes its answer as a PEP 751 ``pylock.toml``, which we read with tomllib: structured data with each
file's URL and sha256 for the target platform, no text scraping.  An existing output file is how uv takes
preferences, so the previous lock is handed to it that way (``-P NAME`` then frees just that package).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envbuild.adapters import process
from envbuild.compat import tomllib
from envbuild.errors import ResolutionError, SyncError, ToolMissing
from envbuild.lockfile import PythonFile, PythonPackage, strip_credentials

if TYPE_CHECKING:
    from envbuild.resolve.python import CompileRequest

NAME = "uv"
OUTPUT = "pylock.envbuild.toml"
# Settings that would change the answer behind the spec's back are dropped; these stay.
_KEEP = (r"UV_CACHE_DIR", r"UV_NO_CACHE", r"UV_HTTP_TIMEOUT", r"UV_CONCURRENT_DOWNLOADS", r"UV_NATIVE_TLS",
         r"UV_KEYRING_PROVIDER", r"UV_OFFLINE", r"UV_INDEX_.*_(USERNAME|PASSWORD)", r"UV_PYTHON_INSTALL_DIR",
         r"UV_PYTHON_DOWNLOADS", r"UV_LINK_MODE", r"UV_HTTP_RETRIES")


@cache
def binary() -> str:
    """The uv that came with envbuild (beside this interpreter), else uv's own finder, else PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    import shutil

    found = shutil.which("uv")
    if found is None:
        raise ToolMissing("uv", "install it with `pip install uv` (it comes with envbuild)")
    return found


SHARED_CONNECTIONS = 32  # uv's connections when several resolutions run at once (uv alone opens up to 50)


def _env(share: int = 1) -> dict[str, str]:
    """uv's environment: the user's resolver settings dropped.  SHARE resolutions at once (one per platform) split
    SHARED_CONNECTIONS (or the user's UV_CONCURRENT_DOWNLOADS): two of uv's bursts at once overrun proxies that
    limit a client's connections (measured behind one: 15 s instead of 3 s for two platforms)."""
    env = process.scrubbed_env(["UV_"], keep=_KEEP, extra={"NO_COLOR": "1"})
    if share > 1:
        budget = int(env.get("UV_CONCURRENT_DOWNLOADS", "0") or 0) or SHARED_CONNECTIONS
        env["UV_CONCURRENT_DOWNLOADS"] = str(max(4, budget // share))
    return env


def _index_args(index_url: str, extra_index_urls: Sequence[str]) -> list[str]:
    args = ["--index-url", index_url]
    for url in extra_index_urls:
        args += ["--extra-index-url", url]
    return args


def compile(request: CompileRequest) -> list[PythonPackage]:
    """Resolve REQUEST for its target platform and Python, with hashes."""
    from envbuild.export import pylock_text

    with tempfile.TemporaryDirectory(prefix="envbuild-uv-") as tmp:
        work = Path(tmp)
        (work / "requirements.in").write_text("".join(f"{r}\n" for r in request.requirements), encoding="utf-8")
        if request.preferences:
            (work / OUTPUT).write_text(pylock_text(request.preferences, request.index_url), encoding="utf-8")
        provided: list[str] = []
        if request.provided:  # the environment has these (conda's): at that version, and not installed by pip
            (work / "provided.txt").write_text("".join(f"{n}=={v}\n" for n, v in request.provided), encoding="utf-8")
            provided = ["--constraint", "provided.txt"]
            for name, _ in request.provided:
                provided += ["--no-emit-package", name]
        # The target is --python-version/--python-platform; --python only names the interpreter that builds an
        # sdist's metadata when a package has no wheel. Naming ours spares uv a search of PATH for a matching
        # interpreter (it runs each candidate: 0.4 s and more with pyenv shims), which ends in a fallback anyway.
        argv = [binary(), "pip", "compile", "requirements.in", "--output-file", OUTPUT, "--generate-hashes",
                "--python-version", request.python_version, "--python-platform", request.python_platform,
                "--python", sys.executable,
                "--no-config", "--quiet", "--color", "never", "--no-header", *provided,
                *_index_args(request.index_url, request.extra_index_urls)]
        if request.upgrade:
            argv.append("--upgrade")
        for name in request.upgrade_packages:
            argv += ["--upgrade-package", name]
        done = process.run(argv, env=_env(share=request.network_share), cwd=work)
        if done.returncode != 0:
            raise ResolutionError(NAME, trim_error(done.stderr))
        return parse_pylock((work / OUTPUT).read_text(encoding="utf-8"))


def trim_error(stderr: str) -> str:
    """uv's ``error:`` line and its ``cause:`` chain, in uv's own words, on one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    parts: list[str] = []
    for line in lines:
        if line.startswith("error:"):
            parts.append(line[len("error:"):].strip())
        elif line.startswith("cause:"):
            parts.append(line[len("cause:"):].strip())
        elif line.startswith(("warning:", "hint:")):
            continue
        elif parts:
            parts[-1] += " " + line
    if not parts:
        return " ".join(lines[-3:]) or "uv failed and printed nothing"
    if len(parts) > 4:  # a long transport chain: the headline and the innermost causes say it all
        parts = [parts[0], parts[1], *parts[-2:]]
    return ": ".join(p.rstrip(".:") for p in parts) + "."


def parse_pylock(text: str) -> list[PythonPackage]:
    """The pinned packages of a PEP 751 lock written by uv."""
    doc = tomllib.loads(text)
    out = []
    for entry in doc.get("packages", []):
        name, version = entry["name"], entry.get("version")
        files = [_file(f) for f in entry.get("wheels", [])]
        for key in ("sdist", "archive"):
            if key in entry:
                files.append(_file(entry[key]))
        if version is None or not files or not all(f.hash for f in files):
            source = "a VCS or local directory" if ("vcs" in entry or "directory" in entry) else "a source"
            raise ResolutionError(NAME, f"{name} comes from {source} that has no version or hash; "
                                  "publish it to an index (or a wheel URL) so that it can be locked")
        out.append(PythonPackage(name=name, version=str(version),
                                 hashes=tuple(sorted({f.hash for f in files})),
                                 files=tuple(sorted(files, key=lambda f: f.name))))
    return sorted(out, key=lambda p: p.name)


def _file(entry: dict[str, Any]) -> PythonFile:
    url = strip_credentials(str(entry.get("url") or entry.get("path") or ""))
    name = str(entry.get("name") or url.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0])
    sha = entry.get("hashes", {}).get("sha256")
    return PythonFile(name=name, url=url, hash=f"sha256:{sha}" if sha else "")


# --------------------------------------------------------------------------------------------------------
# Installing


def create_venv(path: Path, python: str, *, downloads: bool = True) -> None:
    """A new virtual environment at PATH for Python PYTHON (a version such as "3.11" or an interpreter path).
    DOWNLOADS false: only an interpreter this host has (no managed Python is fetched)."""
    argv = [binary(), "venv", str(path), "--python", python, "--no-config", "--quiet", "--color", "never"]
    done = process.run([*argv, *([] if downloads else ["--no-python-downloads"])], env=_env())
    if done.returncode != 0:
        raise SyncError(f"could not create a virtual environment at {path} for Python {python}: "
                        f"{trim_error(done.stderr)}")


def venv_python_version(python: Path) -> str:
    done = process.run([str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
    if done.returncode != 0:
        raise SyncError(f"{python} does not run: {done.stderr.strip()[-200:]}")
    return done.stdout.strip()


def installed(python: Path) -> dict[str, str]:
    """name -> version of what is installed for the interpreter PYTHON."""
    import json

    done = process.run([binary(), "pip", "list", "--python", str(python), "--format", "json", "--color", "never",
                        "--no-config"], env=_env())
    if done.returncode != 0:
        raise SyncError(f"could not list packages of {python}: {trim_error(done.stderr)}")
    from packaging.utils import canonicalize_name

    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(done.stdout or "[]")}


def sync(python: Path, requirements_text: str, index_url: str, extra_index_urls: Sequence[str]) -> None:
    """Make the environment of PYTHON hold exactly the hash-pinned REQUIREMENTS_TEXT (installs and removals)."""
    with tempfile.TemporaryDirectory(prefix="envbuild-sync-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements_text, encoding="utf-8")
        argv = [binary(), "pip", "sync", str(req), "--python", str(python), "--require-hashes", "--no-config",
                "--color", "never", "--quiet", *_index_args(index_url, extra_index_urls)]
        done = process.run(argv, env={**_env(), "VIRTUAL_ENV": os.fspath(python.parent.parent)})
    if done.returncode != 0:
        raise SyncError(f"uv pip sync failed: {trim_error(done.stderr)}")


def install_exact(python: Path, requirements_text: str, index_url: str, extra_index_urls: Sequence[str], *,
                  keep: set[str]) -> None:
    """Install the hash-pinned REQUIREMENTS_TEXT for PYTHON without touching what another installer put there
    (a conda environment's own Python packages, KEEP), then remove what pip installed that the lock does not list.
    ``uv pip sync`` would uninstall conda's packages too."""
    from packaging.utils import canonicalize_name

    wanted = {str(canonicalize_name(line.split("==", 1)[0])) for line in requirements_text.splitlines()
              if "==" in line and not line.startswith(("#", "-"))}
    with tempfile.TemporaryDirectory(prefix="envbuild-sync-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements_text, encoding="utf-8")
        argv = [binary(), "pip", "install", "-r", str(req), "--python", str(python), "--require-hashes", "--no-deps",
                "--no-config", "--color", "never", "--quiet", *_index_args(index_url, extra_index_urls)]
        done = process.run(argv, env=_env())
    if done.returncode != 0:
        raise SyncError(f"uv pip install failed: {trim_error(done.stderr)}")
    extra = sorted(set(installed(python)) - wanted - {str(canonicalize_name(n)) for n in keep})
    if extra:
        done = process.run([binary(), "pip", "uninstall", "--python", str(python), "--no-config", "--quiet", *extra],
                           env=_env())
        if done.returncode != 0:
            raise SyncError(f"uv pip uninstall failed: {trim_error(done.stderr)}")
