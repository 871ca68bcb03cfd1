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
What another interpreter sees is ``query.describe``'s answer (the one process the check core runs).
"""

import os
import sys

from envbuild.errors import EnvbuildError
from envbuild.paths import LOCK_FILE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
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
