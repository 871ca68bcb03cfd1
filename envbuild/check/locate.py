"""Which lock, and which environment: the two questions a check answers before it reads anything.

The lock: ``-l LOCK``, else ``envbuild.lock`` in the working directory (beside the spec, which is read from there
too; the spec itself is not needed to check).

The environment, when no ``--python``, ``--root``, ``--image`` or ``--prefix`` names it, is the one the user
means, in this order (never envbuild's own installation, unless it is one of these):

1. the active virtual environment, ``$VIRTUAL_ENV``;
2. the active conda environment's Python, ``$CONDA_PREFIX/bin/python``;
3. ``.venv`` beside the lock, which ``envbuild sync`` makes;
4. the Python of the lock's conda environment, at its prefix (``envbuild sync --prefix`` or an image put it there);
5. the ``python3`` on ``PATH``.

A lock with a conda part has its conda environment read too: ``--prefix``, else ``$CONDA_PREFIX``, else the lock's
prefix.  Inside an image, ``envbuild-check`` checks the interpreter it runs under (the image's venv).
Another interpreter (``--python``, a venv) is asked once what it sees at start-up (``python -I -c ...``: its
version and the directories on its path, without the user's PYTHONPATH or user site), and the answer is cached,
keyed by the interpreter's binary, its venv's ``pyvenv.cfg`` and the ``.pth`` files of its site directories, as
uv caches its interpreter queries: what the check reads is the path that Python itself builds, so an editable
install made after the query (a new ``.pth``) is seen, and a hidden ``.pth`` counts where that Python reads it.
"""

import os
import sys

from envbuild import cache
from envbuild.errors import EnvbuildError
from envbuild.paths import LOCK_FILE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

    from envbuild.check.shapes import Checked

DEFAULT_LOCK = LOCK_FILE


def target(*, python: "str | None" = None, root: "str | None" = None, image: "str | None" = None,
           prefix: "str | None" = None, lock: str = DEFAULT_LOCK, in_image: bool = False,
           conda: "str | None" = None) -> "Checked":
    """What to check, from the options (at most one of PYTHON, ROOT, IMAGE; PREFIX, a conda environment, with any
    but IMAGE) and the lock (its place; CONDA, the prefix its conda environment is installed at, if it has one)."""
    if sum(x is not None for x in (python, root, image)) > 1:
        raise EnvbuildError("--python, --root and --image check different things; give one of them")
    if prefix is not None:
        if image is not None:
            raise EnvbuildError("--prefix names a conda environment on this host; an image's is the lock's prefix")
        if not os.path.isdir(os.path.join(prefix, "conda-meta")):
            raise EnvbuildError(f"--prefix {prefix}: not a conda environment (no conda-meta)")
        prefix = os.path.abspath(prefix)
    where = _conda_prefix(prefix, conda, root is not None or image is not None or in_image)
    if python is not None:
        return {"kind": "python", "path": interpreter(python, "--python"), "why": "", "conda": where}
    if root is not None:
        if not os.path.isdir(root):
            raise EnvbuildError(f"--root {root}: the directory does not exist")
        return {"kind": "root", "path": root, "why": "", "conda": where}
    if image is not None:
        return {"kind": "image", "path": image, "why": "", "conda": where}
    if in_image:
        return {"kind": "self", "path": sys.executable, "why": "the interpreter envbuild-check runs under",
                "conda": where}
    if prefix is not None and os.path.exists(os.path.join(prefix, "bin", "python")):
        return {"kind": "python", "path": os.path.join(prefix, "bin", "python"), "why": "--prefix", "conda": where}
    return {**_default(lock, where), "conda": where}


def _conda_prefix(given: "str | None", locked: "str | None", inside: bool) -> "str | None":
    """The conda environment to read: --prefix, else (on a host) the active one ($CONDA_PREFIX), else the lock's
    prefix (where images have it).  None when the lock has no conda part and none was named."""
    if given is not None:
        return given
    if locked is None:
        return None
    if not inside and os.environ.get("CONDA_PREFIX"):
        return os.environ["CONDA_PREFIX"]
    return locked


def _default(lock: str, conda: "str | None") -> "Checked":
    """The environment the user means: $VIRTUAL_ENV, else the active conda environment's Python, else .venv beside
    the lock, else the lock's conda environment's Python, else python3 on PATH."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        return {"kind": "python", "path": interpreter(os.path.join(venv, "bin", "python"), "$VIRTUAL_ENV"),
                "why": "$VIRTUAL_ENV", "conda": conda}
    active = os.environ.get("CONDA_PREFIX")
    if active and os.path.exists(os.path.join(active, "bin", "python")):
        return {"kind": "python", "path": os.path.join(active, "bin", "python"), "why": "$CONDA_PREFIX",
                "conda": conda}
    beside = os.path.join(os.path.dirname(os.path.abspath(lock)), ".venv", "bin", "python")
    if os.path.exists(beside):
        return {"kind": "python", "path": interpreter(beside, ".venv"), "why": ".venv beside the lock",
                "conda": conda}
    if conda is not None and os.path.exists(os.path.join(conda, "bin", "python")):
        return {"kind": "python", "path": os.path.join(conda, "bin", "python"), "why": "the lock's conda environment",
                "conda": conda}
    found = _on_path("python3")
    if found is None:
        raise EnvbuildError("no Python environment to check: no $VIRTUAL_ENV, no .venv beside the lock, no python3 "
                            "on PATH; give --python PATH (or run envbuild sync)")
    return {"kind": "python", "path": found, "why": "python3 on PATH", "conda": conda}


def is_self(executable: str) -> bool:
    """Is EXECUTABLE the interpreter running this check (the same binary in the same environment)?"""
    if executable == sys.executable:
        return True
    here = os.path.dirname(sys.executable)
    return (os.path.realpath(os.path.dirname(executable)) == os.path.realpath(here)
            and os.path.realpath(executable) == os.path.realpath(sys.executable))


def interpreter(path: str, what: str) -> str:
    """PATH (a Python interpreter, or a venv holding bin/python) as an absolute interpreter path; an error naming
    WHAT (the option or variable that gave it) when there is none there."""
    if not os.path.exists(path):
        raise EnvbuildError(f"{what}: {path} does not exist; give the path of a Python interpreter "
                            "(a virtual environment's bin/python)")
    if os.path.isdir(path):
        inside = os.path.join(path, "bin", "python")
        if os.path.exists(inside):
            return os.path.abspath(inside)
        raise EnvbuildError(f"{what}: {path} is a directory without bin/python; give the interpreter's path")
    return os.path.abspath(path)


def _on_path(name: str) -> "str | None":
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


_QUERY = """\
import json, os, site, sys
sites = [os.path.abspath(p) for p in site.getsitepackages() if os.path.isdir(p)]
path = [os.path.abspath(p) for p in sys.path if p]
first = min([path.index(s) for s in sites if s in path] or [len(path)])
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "implementation": sys.implementation.name,
                  "executable": sys.executable, "prefix": sys.prefix, "base": path[:first],
                  "sites": [s for s in path if s in sites], "path": path}))
"""


def describe(executable: str) -> "dict[str, Any]":
    """``{version, implementation, executable, prefix, base, sites, path}``: BASE is the path before the site
    directories, SITES the site directories in path order, PATH the whole of it as the interpreter builds it at
    start-up (with what its ``.pth`` files add, by that Python's own rules: hidden ones from 3.13 on, ``import``
    lines run).  The answer is kept until the binary, its ``pyvenv.cfg`` or a ``.pth`` file of its site
    directories changes (one is added, removed or edited)."""
    key = _fingerprint(executable)
    name = f"python-{cache.slug(executable)}"
    cached = cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 3 and cached[0] == key and isinstance(cached[2], dict) \
            and cached[1] == _pth_files(cached[2].get("sites") or []):
        info: dict[str, Any] = cached[2]
        return info
    info = _ask(executable)
    cache.write(name, (key, _pth_files(info["sites"]), info))
    return info


def _pth_files(sites: "list[str]") -> "tuple[Any, ...]":
    """Every ``.pth`` file of the site directories SITES (hidden ones too), with what changes when it does."""
    out: list[tuple[str, str | None, int, int, int]] = []
    for directory in sites:
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.endswith(".pth"):
                        stat = entry.stat()
                        out.append((directory, entry.name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            out.append((directory, None, 0, 0, 0))
    return tuple(sorted(out, key=lambda row: (row[0], row[1] or "")))


def _fingerprint(executable: str) -> "tuple[Any, ...]":
    """What changes when the answer may change: the binary (an upgrade) and pyvenv.cfg (a recreated venv)."""
    try:
        binary = os.stat(executable)
    except OSError as exc:
        raise EnvbuildError(f"{executable}: not a Python interpreter ({exc.strerror})") from None
    parts: list[Any] = [executable, binary.st_dev, binary.st_ino, binary.st_size, binary.st_mtime_ns]
    try:
        config = os.stat(os.path.join(os.path.dirname(os.path.dirname(executable)), "pyvenv.cfg"))
        parts += [config.st_ino, config.st_size, config.st_mtime_ns]
    except OSError:
        parts.append(None)
    return tuple(parts)


def _ask(executable: str) -> "dict[str, Any]":
    import json
    import subprocess

    try:
        done = subprocess.run([executable, "-I", "-c", _QUERY], capture_output=True, text=True, timeout=120,
                              check=False)
    except OSError as exc:
        raise EnvbuildError(f"{executable}: cannot run it ({exc.strerror}); give the path of a Python "
                            "interpreter") from None
    except subprocess.TimeoutExpired:
        raise EnvbuildError(f"{executable}: did not answer within 120 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvbuildError(f"{executable}: not a Python 3 interpreter that envbuild can ask ({last})")
    try:
        info: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise EnvbuildError(f"{executable}: printed no answer to envbuild's question") from None
    return info
