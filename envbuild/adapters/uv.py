"""uv: the default Python resolver (``uv pip compile``) and installer (``uv venv``, ``uv pip sync``).

uv writes its answer as a PEP 751 ``pylock.toml``, read back by ``lockfile.pylock``: structured data with each
file's URL and sha256 for the target platform, no text scraping.  An existing output file is how uv takes
preferences, so the previous lock is handed to it that way (``-P NAME`` then frees just that package).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from envbuild.adapters import process
from envbuild.adapters.uv_errors import trim_error
from envbuild.errors import ResolutionError, SyncError, ToolMissing
from envbuild.lockfile import PythonPackage, strip_credentials, strip_credentials_in
from envbuild.lockfile.pylock import read_markers, read_pylock

if TYPE_CHECKING:
    from envbuild.adapters.resolver import CompileRequest

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


def uv_env(share: int = 1) -> dict[str, str]:
    """uv's environment: the user's resolver settings dropped.  SHARE resolutions at once (one per platform) split
    SHARED_CONNECTIONS (or the user's UV_CONCURRENT_DOWNLOADS): two of uv's bursts at once overrun proxies that
    limit a client's connections (measured behind one: 15 s instead of 3 s for two platforms)."""
    env = process.scrubbed_env(["UV_"], keep=_KEEP, extra={"NO_COLOR": "1"})
    if share > 1:
        budget = int(env.get("UV_CONCURRENT_DOWNLOADS", "0") or 0) or SHARED_CONNECTIONS
        env["UV_CONCURRENT_DOWNLOADS"] = str(max(4, budget // share))
    return env


def index_env(index_url: str, extra_index_urls: Sequence[str]) -> dict[str, str]:
    """The indexes as uv's environment (UV_DEFAULT_INDEX, UV_INDEX), never its argv: their URLs may hold
    credentials, and any user of a shared login node can read a process's command line (/proc/PID/cmdline), while
    its environment is its owner's alone."""
    return {"UV_DEFAULT_INDEX": index_url, **({"UV_INDEX": " ".join(extra_index_urls)} if extra_index_urls else {})}


def _named_index_env(indexes: Sequence[tuple[str, str, bool]]) -> tuple[list[tuple[str, str, bool]], dict[str, str]]:
    """Named indexes ([tool.uv.index] of the project file) without credentials in their URLs, and those credentials
    as uv reads them for a named index: UV_INDEX_<NAME>_USERNAME and _PASSWORD."""
    from urllib.parse import unquote, urlsplit

    out, env = [], {}
    for name, url, explicit in indexes:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
        if userinfo:
            user, _, password = userinfo.partition(":")
            key = re.sub(r"[^A-Z0-9]", "_", name.upper())
            env[f"UV_INDEX_{key}_USERNAME"] = unquote(user)
            if password:
                env[f"UV_INDEX_{key}_PASSWORD"] = unquote(password)
        out.append((name, strip_credentials(url), explicit))
    return out, env


def compile(request: CompileRequest) -> list[PythonPackage]:
    """Resolve REQUEST for its target platform and Python, with hashes."""
    return _compile(request)[0]


def compile_universal(request: CompileRequest) -> tuple[list[PythonPackage], dict[tuple[str, str], str]]:
    """Resolve REQUEST once for every environment of ``request.environments`` (PEP 508 markers, one per target):
    uv's universal resolution, restricted to them (``[tool.uv] environments``).  Each package comes with every file
    of its version (all platforms' wheels) and hashes; the markers say where a package is installed ((name,
    version) -> marker; none: everywhere), so a package forked by platform appears once per version."""
    return _compile(request)


def _compile(request: CompileRequest) -> tuple[list[PythonPackage], dict[tuple[str, str], str]]:
    from envbuild.lockfile.pylock import pylock_text

    with tempfile.TemporaryDirectory(prefix="envbuild-uv-") as tmp:
        work = Path(tmp)
        indexes, credentials = _named_index_env(request.indexes)
        (work / "pyproject.toml").write_text(_project(request, indexes), encoding="utf-8")
        preferences = [p for p in request.preferences if not (p.direct_url or p.path)]  # a URL is its own pin
        if preferences:
            (work / OUTPUT).write_text(pylock_text(preferences, request.index_url), encoding="utf-8")
        provided: list[str] = []
        if request.provided:  # the environment has these (conda's): at that version, and not installed by pip
            (work / "provided.txt").write_text("".join(f"{n}=={v}\n" for n, v in request.provided), encoding="utf-8")
            provided = ["--constraint", "provided.txt"]
            for name, _ in request.provided:
                provided += ["--no-emit-package", name]
        if request.constraints:  # another group's pins (the build group matches the runtime's versions)
            (work / "constraints.txt").write_text("".join(f"{n}=={v}\n" for n, v in request.constraints),
                                                  encoding="utf-8")
            provided += ["--constraint", "constraints.txt"]
        # The target is --python-version/--python-platform; --python only names the interpreter that builds an
        # sdist's metadata when a package has no wheel. Naming ours spares uv a search of PATH for a matching
        # interpreter (it runs each candidate: 0.4 s and more with pyenv shims), which ends in a fallback anyway.
        target = (["--universal"] if request.environments else ["--python-platform", request.python_platform])
        base = [binary(), "pip", "compile", "pyproject.toml", "--python-version", request.python_version, *target,
                "--python", sys.executable,
                "--quiet", "--color", "never", "--no-header", *provided]
        argv = [*base, "--output-file", OUTPUT, "--generate-hashes"]
        if request.upgrade:
            argv.append("--upgrade")
        for name in request.upgrade_packages:
            argv += ["--upgrade-package", name]
        # Settings come from the project file in WORK alone: the user's and the system's uv.toml are out of reach
        # (--no-config would drop the project's too, and --config-file cannot hold environments).
        env = {**uv_env(share=request.network_share), **index_env(request.index_url, request.extra_index_urls),
               **credentials, "XDG_CONFIG_HOME": str(work), "XDG_CONFIG_DIRS": str(work)}
        done = process.run(argv, env=env, cwd=work)
        if done.returncode != 0:
            raise ResolutionError(NAME, trim_error(done.stderr), full=strip_credentials_in(done.stderr))
        answer = (work / OUTPUT).read_text(encoding="utf-8")
        packages = read_pylock(answer, NAME, sources=dict(request.sources), local=dict(request.local_files))
        markers = read_markers(answer)
        edges = _edges(base, packages, markers, work, env)
    out = []
    for package in packages:
        requested, via = edges.get(package.name, (False, ()))
        out.append(replace(package, requested=requested, via=via))
    return out, markers


_ROOT = "envbuild-requirements (pyproject.toml)"  # how uv names the spec in its "# via" annotations


def _edges(base: list[str], packages: list[PythonPackage], markers: dict[tuple[str, str], str], work: Path,
           env: dict[str, str]) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """name -> (is it a requirement of the spec, the packages that require it), from uv's own "# via" annotations:
    the same resolution again, written as requirements.txt (PEP 751 has no edges), with the pins (and the markers of
    a universal resolution) as preferences and every index answer in uv's cache (--offline), so it takes
    milliseconds.  A universal resolution's edges are those of every environment together."""
    def pin(p: PythonPackage) -> str:
        marker = markers.get((p.name, p.version))
        return f"{p.name}=={p.version}" + (f" ; {marker}" if marker else "") + "\n"

    (work / "via.txt").write_text("".join(pin(p) for p in packages if not (p.direct_url or p.path or p.vcs)),
                                  encoding="utf-8")
    argv = [*base, "--output-file", "via.txt"]
    done = process.run([*argv, "--offline"], env=env, cwd=work)  # all in uv's cache: no round trip to revalidate
    if done.returncode != 0:  # something was not cached (uv's cache off, or pruned meanwhile): ask the index
        done = process.run(argv, env=env, cwd=work)
    if done.returncode != 0:  # the pins are right; only the explanation is missing
        return {}
    parents: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (work / "via.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "#")):  # "name==1.0", "name @ URL", then its "    # via ..." lines
            current = parents.setdefault(canonicalize_name(re.split(r"[=@ ;\[]", line, maxsplit=1)[0]), [])
            continue
        comment = line.strip().removeprefix("#").strip()
        comment = comment[len("via"):].strip() if comment.startswith("via") else comment
        if current is not None and comment:
            current.append(comment)
    return {name: (_ROOT in found, tuple(sorted({canonicalize_name(p) for p in found
                                                  if p != _ROOT and " " not in p and not p.startswith("-")})))
            for name, found in parents.items()}


def _project(request: CompileRequest, indexes: Sequence[tuple[str, str, bool]]) -> str:
    """The requirements as a pyproject.toml with every uv setting of the resolution under [tool.uv]: index pins
    (sources) and the named INDEXES (their URLs without credentials), what sdists need to build their metadata, and
    a universal resolution's environments (which uv reads from a project file only, not from a uv.toml)."""
    import tomlkit
    from packaging.requirements import Requirement

    requirements = []
    local = dict(request.local_files)
    for text in request.requirements:
        req = Requirement(text)
        if req.name in local and request.root is not None:  # the spec's relative path, for uv as a file URL
            req.url = (request.root / local[req.name]).resolve().as_uri()
        requirements.append(str(req))
    doc = tomlkit.document()
    doc.add("project", {"name": "envbuild-requirements", "version": "0", "dependencies": requirements})
    uv = tomlkit.table(is_super_table=True)
    if request.environments:  # a universal resolution for these targets only
        uv.add("environments", list(request.environments))
    if request.build_dependencies:  # what sdists need to build their metadata
        uv.add("extra-build-dependencies", {name: list(reqs) for name, reqs in request.build_dependencies})
    if request.build_env:  # uv has no variables for all builds, only per package
        uv.add("extra-build-variables", {name: dict(request.build_env) for name, _ in request.build_dependencies})
    if request.sources or indexes or len(uv):
        if request.sources:
            uv.add("sources", {name: {"index": index} for name, index in request.sources})
        if indexes:
            uv.add("index", [{"name": n, "url": u, "explicit": e} for n, u, e in indexes])
        doc.add("tool", {"uv": uv})
    return tomlkit.dumps(doc)


# --------------------------------------------------------------------------------------------------------
# Installing


def create_venv(path: Path, python: str, *, downloads: bool = True) -> None:
    """A new virtual environment at PATH for Python PYTHON (a version such as "3.11" or an interpreter path).
    DOWNLOADS false: only an interpreter this host has (no managed Python is fetched)."""
    argv = [binary(), "venv", str(path), "--python", python, "--no-config", "--quiet", "--color", "never"]
    done = process.run([*argv, *([] if downloads else ["--no-python-downloads"])], env=uv_env())
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
                        "--no-config"], env=uv_env())
    if done.returncode != 0:
        raise SyncError(f"could not list packages of {python}: {trim_error(done.stderr)}")
    from packaging.utils import canonicalize_name

    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(done.stdout or "[]")}


def sync(python: Path, requirements_text: str, index_url: str, extra_index_urls: Sequence[str]) -> None:
    """Make the environment of PYTHON hold exactly the hash-pinned REQUIREMENTS_TEXT (installs and removals).
    Every index is searched for each exact pin; the hashes let only the locked file install."""
    with tempfile.TemporaryDirectory(prefix="envbuild-sync-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements_text, encoding="utf-8")
        argv = [binary(), "pip", "sync", str(req), "--python", str(python), "--require-hashes", "--no-config",
                "--color", "never", "--quiet"]
        if extra_index_urls:
            argv += ["--index-strategy", "unsafe-best-match"]
        done = process.run(argv, env={**uv_env(), **index_env(index_url, extra_index_urls),
                                      "VIRTUAL_ENV": os.fspath(python.parent.parent)})
    if done.returncode != 0:
        raise SyncError(f"uv pip sync failed: {trim_error(done.stderr)}")


_BUNDLED = ("import ensurepip, os, sysconfig; print(sysconfig.get_config_var('WHEEL_PKG_DIR') or "
            "os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))")  # where ensurepip keeps its pip wheel


def add_pip(python: Path, index_url: str, extra_index_urls: Sequence[str]) -> str:
    """Install pip into the venv of PYTHON (the newest the indexes have, else the wheel the interpreter bundles for
    ensurepip), so that ``pip install`` in the activated venv goes into it, not into another Python; its version."""
    argv = [binary(), "pip", "install", "pip", "--python", str(python), "--no-config", "--color", "never", "--quiet"]
    env = {**uv_env(), "VIRTUAL_ENV": os.fspath(python.parent.parent)}
    done = process.run(argv, env={**env, **index_env(index_url, extra_index_urls)})
    if done.returncode != 0:  # an index without pip (a private one): the interpreter's own copy, offline
        bundled = process.run([str(python), "-I", "-c", _BUNDLED]).stdout.strip()
        if not bundled or process.run([*argv, "--no-index", "--find-links", bundled], env=env).returncode != 0:
            raise SyncError(f"could not install pip into {python.parent.parent}: the index has none "
                            f"({trim_error(done.stderr)}) and {python} bundles none for ensurepip")
    return installed(python).get("pip", "?")


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
                "--no-config", "--color", "never", "--quiet"]
        done = process.run(argv, env={**uv_env(), **index_env(index_url, extra_index_urls)})
    if done.returncode != 0:
        raise SyncError(f"uv pip install failed: {trim_error(done.stderr)}")
    extra = sorted(set(installed(python)) - wanted - {str(canonicalize_name(n)) for n in keep})
    if extra:
        done = process.run([binary(), "pip", "uninstall", "--python", str(python), "--no-config", "--quiet", *extra],
                           env=uv_env())
        if done.returncode != 0:
            raise SyncError(f"uv pip uninstall failed: {trim_error(done.stderr)}")
