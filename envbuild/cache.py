"""The marshal cache: what a command learnt once and can reuse while its source is unchanged (a base module:
the drift check and the lock reader both keep things here, and it imports nothing of theirs).

Four things go here: the check's view of a lock (keyed by the lock's exact bytes), what another interpreter
said about itself (keyed by the interpreter binary and its venv's ``pyvenv.cfg``), the host's dpkg status
(keyed by the status file's identity), and the parse of a large lock for every command (named by the text's
length and CRC-32, and holding the text).
Entries are ``marshal`` files (built in, so reading one imports nothing) named after this Python's version, under
``<cache root>/check/``.  A cache that cannot be read or written is simply not used: the check then does the
work again, it never fails because of the cache.
"""

import marshal
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 2  # raise when the shape of an entry changes (2: dpkg facts are name -> version)


def _directory() -> str:
    from envbuild.cachedir import cache_root

    return os.path.join(cache_root(), "check")


def _path(name: str) -> str:
    return os.path.join(_directory(), f"{name}.py{sys.version_info[0]}{sys.version_info[1]}.v{FORMAT}")


def slug(text: str) -> str:
    """A file name for TEXT (a path): readable, and at most 150 characters, keeping its end.  Two texts may share
    one (entries hold their full key, so that costs a miss, never a wrong answer); no hash, so no zlib to load."""
    name = text.replace("%", "%25").replace("/", "%2F")
    return name if len(name) <= 150 else f"{len(name)}-{name[-140:]}"


def read(name: str) -> object:
    """The value stored under NAME, or None."""
    try:
        with open(_path(name), "rb") as handle:
            data = handle.read()  # whole: marshal.load on a file object reads it piece by piece, 10x slower
        return marshal.loads(data)  # noqa: S302 - the user's own cache, written by this module (as .pyc files are)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def exists(name: str) -> bool:
    """Is there an entry under NAME (which may hold another key than the caller's)?"""
    return os.path.exists(_path(name))


def write(name: str, value: "Any") -> None:
    """Store VALUE under NAME atomically (a concurrent reader sees the old entry or the new one)."""
    import envbuild.atomic

    path = _path(name)
    try:
        data = marshal.dumps(value)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        envbuild.atomic.write(path, data, unchanged=False)
    except (OSError, ValueError):
        pass  # not kept: the work is done again next time
