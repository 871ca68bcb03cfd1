"""What the lock says the environment holds: the part of ``envbuild.lock`` that the check compares.

The lock is read and validated by ``envbuild.lockfile`` (the one lock reader, a layer above this core) and reduced
to plain data, ``Expected``, by the ``ReadLock`` its caller hands in (``envbuild.lockview.read``: the core imports
nothing above it).  That reduction is cached, keyed by the lock's exact bytes: a node that checks the same lock
before every job parses it once, and a changed lock is never mistaken for the cached one.
"""

import os
import sys

import envbuild.cache
from envbuild.errors import unreadable_lock

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
VIEW_FORMAT = 4  # raise when Expected's shape changes: a cached view of another shape is then never read

if TYPE_CHECKING:
    from collections.abc import Callable

    from envbuild.check.shapes import Expected

    ReadLock = Callable[[str, str, "str | None"], Expected]  # (the lock's text, its name, platform) -> its view


def load(path: str, platform: "str | None", read_lock: "ReadLock") -> "Expected":
    """The check's view of the lock at PATH, for PLATFORM (default: the lock's only platform, else this host's),
    made by READ_LOCK when it is not cached.  A lock that cannot be read, or has no such platform, is a
    ``LockfileError`` (exit 2)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise unreadable_lock(path, exc, with_option=True) from None
    where = platform or f"{sys.platform}-{os.uname().machine}"  # the view depends on it
    # the cached view holds the lock's bytes, so a changed lock is never taken for the cached one
    name = f"lock{VIEW_FORMAT}-{where.replace('/', '-')}-{envbuild.cache.slug(os.path.abspath(path))}"
    cached = envbuild.cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == data:
        expected: Expected = cached[1]
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise unreadable_lock(path, exc) from None
        expected = read_lock(text, path, platform)
        envbuild.cache.write(name, (data, expected))
    expected["lock"] = path
    return expected
