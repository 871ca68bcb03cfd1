"""Writing a file whole or not at all, the one way envbuild does it (a base module, standard library only: the check
core writes its reports with it, in images too).

A reader never sees half a file: the new content goes to a temporary file beside the target, then replaces it in
one rename.  What is not a regular file (``/dev/stdout``, a FIFO, a device) is written into, never replaced: a
rename would turn it into a plain file that breaks every other program.  A symbolic link stays one: the file it
points to is replaced (a lock shared between projects by a link).  OSError is the caller's to say in its words.
"""

import itertools
import os

_NAMES = itertools.count()  # temporary files of one process never share a name (next() is atomic: threads too)


def is_special(path: "str | os.PathLike[str]") -> bool:
    """Is PATH something other than a regular file or a directory (a device, a FIFO, a socket)?"""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write(path: "str | os.PathLike[str]", data: bytes, *, mode: "int | None" = None, sync: bool = False,
          unchanged: bool = True, replace: bool = True) -> bool:
    """Write DATA to PATH whole.  Returns False when PATH already held DATA and UNCHANGED says to leave it (its mtime
    kept).  MODE: the new file's permissions (default: the old file's, else 0o644).  SYNC: flush it and its folder
    to the disk (a lock).  REPLACE false: PATH must not exist; an existing one raises FileExistsError, and nothing
    that appeared meanwhile is replaced (a link from the finished temporary file)."""
    target = os.fspath(path)
    if os.path.islink(target):
        target = os.path.realpath(target)
    if is_special(target):
        with open(target, "wb") as handle:
            handle.write(data)
        return True
    same, old_mode = _previous(target, data) if replace else (False, None)
    if same and unchanged:
        return False
    folder = os.path.dirname(target) or "."
    temporary = os.path.join(folder, f".{os.path.basename(target)}.{os.getpid()}-{next(_NAMES)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temporary, mode if mode is not None else old_mode if old_mode is not None else 0o644)
        if replace:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)
    finally:
        try:  # noqa: SIM105 - contextlib would be one more import on the check's path
            os.unlink(temporary)
        except OSError:
            pass
    if sync:  # the rename itself, on the disk
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
    return True


def _previous(target: str, data: bytes) -> "tuple[bool, int | None]":
    """(does TARGET hold DATA already, its permissions); (False, None) when there is none."""
    try:
        with open(target, "rb") as handle:
            same = handle.read() == data
        return same, os.stat(target).st_mode & 0o777
    except (FileNotFoundError, IsADirectoryError):
        return False, None
