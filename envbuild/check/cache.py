"""The drift check's own cache: what it learnt once and can reuse while its source is unchanged.

Two things go here: the check's view of a lock (keyed by the lock's exact bytes) and what another interpreter
said about itself (keyed by the interpreter binary and its venv's ``pyvenv.cfg``).  Entries are ``marshal``
files (built in, so reading one imports nothing) named after this Python's version, under
``<cache root>/check/``.  A cache that cannot be read or written is simply not used: the check then does the
work again, it never fails because of the cache.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1  # raise when the shape of an entry changes


def _directory() -> str:
    from envbuild.cachedir import cache_root

    return os.path.join(cache_root(), "check")


def _path(name: str) -> str:
    return os.path.join(_directory(), f"{name}.py{sys.version_info[0]}{sys.version_info[1]}.v{FORMAT}")


def read(name: str) -> object:
    """The value stored under NAME, or None."""
    try:
        with open(_path(name), "rb") as handle:
            return marshal.load(handle)  # noqa: S302 - the user's own cache, written by this module (as .pyc files are)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def write(name: str, value: Any) -> None:
    """Store VALUE under NAME atomically (a concurrent reader sees the old entry or the new one)."""
    path = _path(name)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            marshal.dump(value, handle)
        os.replace(temporary, path)
    except (OSError, ValueError):
        try:  # noqa: SIM105 - contextlib would be one more import on the check's path
            os.unlink(temporary)
        except OSError:
            pass
