"""Writing the lock safely: atomically (a temporary file, fsync, rename), one ``envbuild lock`` at a time (flock),
and without credentials in any URL."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from envbuild.errors import EnvbuildError


def strip_credentials(url: str) -> str:
    """Drop any user:password@ from a URL (resolvers may echo an authenticated URL back)."""
    if "@" not in url:  # most URLs, and cheaply (a conda lock strips two of each of its records)
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def strip_credentials_in(text: str) -> str:
    """TEXT (a tool's message) with the userinfo of every URL in it removed: resolvers and installers quote the
    URLs they fetched, credentials and all."""
    if "@" not in text:
        return text
    import re

    return re.sub(r"(\w+://)[^/\s@]+@", r"\1", text)


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on the lock's directory, so two ``envbuild lock`` runs do not interleave.

    The second run waits; both then write whole files.  Where the filesystem has no flock, it goes on
    without one (the rename is still atomic).
    """
    import fcntl

    if is_special(lock_path):  # -o /dev/null: nothing to protect, and no temporary files beside a device
        yield
        return
    directory = lock_path.parent
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        _remove_stale_temporaries(lock_path)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _remove_stale_temporaries(lock_path: Path) -> None:
    """Temporary files left by a killed run (only called while holding the directory lock)."""
    for stale in lock_path.parent.glob(f".{lock_path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def write_atomic(path: Path, text: str) -> bool:
    """Replace PATH with TEXT atomically and durably (``envbuild.atomic``).  Returns False (and leaves the file
    alone) when it already holds TEXT.  A PATH that is a symbolic link stays one: the file it points to is
    replaced.  A device or FIFO is written into.  Any failure (no such directory, no permission, a full disk)
    leaves the old file as it was and is raised as an ``EnvbuildError`` naming the path.
    """
    from envbuild import atomic

    if path.is_dir():
        raise EnvbuildError(f"{path}: is a directory; give a file name")
    if path.is_symlink() and not Path(os.path.realpath(path)).parent.is_dir():
        raise EnvbuildError(f"{path}: a link to {os.readlink(path)}, whose folder does not exist")
    try:
        return atomic.write(path, text.encode("utf-8"), sync=True)
    except OSError as exc:
        raise EnvbuildError(f"{path}: cannot write: {exc.strerror or exc}") from None


def is_special(path: Path) -> bool:
    """Is PATH something other than a regular file or a directory (a device, a FIFO, a socket)?"""
    from envbuild import atomic

    return atomic.is_special(path)
