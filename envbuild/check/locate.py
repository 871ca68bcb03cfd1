"""Which lock, and which environment: the two questions a check answers before it reads anything.

The lock: ``-l LOCK``, else ``envbuild.lock`` in the working directory (beside the spec, which is read from there
too; the spec itself is not needed to check).

The environment, when no ``--python``, ``--root`` or ``--image`` names it, is the one the user means, in this
order (never envbuild's own installation, unless it is one of these):

1. the active virtual environment, ``$VIRTUAL_ENV``;
2. ``.venv`` beside the lock, which ``envbuild sync`` makes;
3. the ``python3`` on ``PATH``.

Inside an image, ``envbuild-check`` checks the interpreter it runs under (the image's venv).
"""

from __future__ import annotations

import os
import sys

from envbuild.errors import EnvbuildError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from envbuild.check.shapes import Target

DEFAULT_LOCK = "envbuild.lock"


def target(*, python: str | None = None, root: str | None = None, image: str | None = None,
           lock: str = DEFAULT_LOCK, in_image: bool = False) -> Target:
    """What to check, from the options (at most one of PYTHON, ROOT, IMAGE) and the lock's place."""
    if sum(x is not None for x in (python, root, image)) > 1:
        raise EnvbuildError("--python, --root and --image check different things; give one of them")
    if python is not None:
        return {"kind": "python", "path": _interpreter(python, "--python"), "why": ""}
    if root is not None:
        if not os.path.isdir(root):
            raise EnvbuildError(f"--root {root}: the directory does not exist")
        return {"kind": "root", "path": root, "why": ""}
    if image is not None:
        return {"kind": "image", "path": image, "why": ""}
    if in_image:
        return {"kind": "self", "path": sys.executable, "why": "the interpreter envbuild-check runs under"}
    return _default(lock)


def _default(lock: str) -> Target:
    """The environment the user means: $VIRTUAL_ENV, else .venv beside the lock, else python3 on PATH."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        return {"kind": "python", "path": _interpreter(os.path.join(venv, "bin", "python"), "$VIRTUAL_ENV"),
                "why": "$VIRTUAL_ENV"}
    beside = os.path.join(os.path.dirname(os.path.abspath(lock)), ".venv", "bin", "python")
    if os.path.exists(beside):
        return {"kind": "python", "path": _interpreter(beside, ".venv"), "why": ".venv beside the lock"}
    found = _on_path("python3")
    if found is None:
        raise EnvbuildError("no Python environment to check: no $VIRTUAL_ENV, no .venv beside the lock, no python3 "
                            "on PATH; give --python PATH (or run envbuild sync)")
    return {"kind": "python", "path": found, "why": "python3 on PATH"}


def is_self(executable: str) -> bool:
    """Is EXECUTABLE the interpreter running this check (the same binary in the same environment)?"""
    if executable == sys.executable:
        return True
    here = os.path.dirname(sys.executable)
    return (os.path.realpath(os.path.dirname(executable)) == os.path.realpath(here)
            and os.path.realpath(executable) == os.path.realpath(sys.executable))


def _interpreter(path: str, what: str) -> str:
    if not os.path.exists(path):
        raise EnvbuildError(f"{what}: {path} does not exist; give the path of a Python interpreter "
                            "(a virtual environment's bin/python)")
    if os.path.isdir(path):
        inside = os.path.join(path, "bin", "python")
        if os.path.exists(inside):
            return os.path.abspath(inside)
        raise EnvbuildError(f"{what}: {path} is a directory without bin/python; give the interpreter's path")
    return os.path.abspath(path)


def _on_path(name: str) -> str | None:
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None
