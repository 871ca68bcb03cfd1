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
    """Replace PATH with TEXT atomically.  Returns False (and leaves the file alone) when it already holds TEXT.
    A PATH that is a symbolic link stays one: the file it points to is replaced (atomically, in its folder).

    A PATH that is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is written into, never replaced:
    a rename over a device would turn it into a plain file that breaks every other program.  Any failure (no such
    directory, no permission, a full disk) leaves the old file as it was and is raised as an ``EnvbuildError``
    naming the path.
    """
    try:
        return _write_atomic(path, text)
    except OSError as exc:
        raise EnvbuildError(f"{path}: cannot write: {exc.strerror or exc}") from None


def is_special(path: Path) -> bool:
    """Is PATH something other than a regular file or a directory (a device, a FIFO, a socket)?"""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_atomic(path: Path, text: str) -> bool:
    import tempfile

    data = text.encode("utf-8")
    if path.is_symlink():  # a lock shared between projects by a link: written where the link points, link kept
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise EnvbuildError(f"{path}: a link to {os.readlink(path)}, whose folder does not exist")
        path = target
    if path.is_dir():
        raise EnvbuildError(f"{path}: is a directory; give a file name")
    if is_special(path):
        with open(path, "wb") as handle:
            handle.write(data)
        return True
    try:
        if path.read_bytes() == data:
            return False
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
