"""A lock's text parsed as TOML: the parse kept in a cache, and parsed apart, in a child process, while this one
reads another lock.

tomllib takes 60 ms on a lock of 1,000 packages (tomli 23 ms), reading its parse back from the cache 2 ms, and
every command reads the lock: a large lock's parse is kept in the check's marshal cache (``envbuild.cache``).
The entry is named by the text's length and CRC-32 and holds the text itself, which must match: two texts sharing
a name cost a miss, never a wrong parse (no cryptographic hash is needed for that, and hashlib alone takes 5 ms to
import).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from envbuild.compat import tomllib
from envbuild.errors import LockfileError

CACHED_FROM = 1 << 16  # bytes: a smaller lock parses in about the time its cache entry takes to read


def parsed(text: str, shown: str) -> dict[str, Any]:
    """TEXT parsed as TOML (from the cache when it holds this very text); an error names SHOWN."""
    from envbuild import cache

    data = text.encode("utf-8", "surrogateescape")
    name = _entry(data)
    cached = cache.read(name) if name else None
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == data and isinstance(cached[1], dict):
        return cached[1]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(shown, f"not valid TOML ({exc}); regenerate it with envbuild lock") from None
    except RecursionError:  # tomllib's own limit for inline arrays and tables, or Python's
        raise LockfileError(shown, "not valid TOML (nested deeper than a lock can be); regenerate it with "
                                   "envbuild lock") from None
    if name:
        cache.write(name, (data, raw))  # a TOML date or time cannot be marshalled: then nothing is kept
    return raw


def _entry(data: bytes) -> str | None:
    """The cache entry's name for a lock's bytes; None for a small lock, which is parsed every time."""
    import zlib

    return f"lock-parse-{len(data)}-{zlib.crc32(data):08x}" if len(data) > CACHED_FROM else None


def apart(text: str) -> int | None:
    """Start parsing TEXT into the cache in a forked child, and return its process id, for ``join``.

    None where that would not save time or is not safe: a small text (no entry), one already in the cache, a
    single CPU, a system other than Linux (macOS frameworks do not survive a fork), or a thread running (a fork
    copies only this one).  The child leaves with ``os._exit``, running nothing of this process's (no buffered
    output flushed twice, no exit handler).  Whatever goes wrong in it leaves at most no entry: the lock is then
    parsed here, and its error, if it has one, raised here."""
    if sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2:
        return None
    threading = sys.modules.get("threading")  # not imported: no thread was started
    if threading is not None and threading.active_count() > 1:
        return None
    from envbuild import cache

    name = _entry(text.encode("utf-8", "surrogateescape"))
    if name is None or cache.exists(name):
        return None
    try:
        child = os.fork()
    except OSError:  # no process left to make: it is parsed here
        return None
    if child == 0:
        try:
            parsed(text, "")
        finally:
            os._exit(0)
    return child


def join(child: int | None) -> None:
    """Wait for a child that ``apart`` started (nothing for None)."""
    if child is not None:
        os.waitpid(child, 0)
