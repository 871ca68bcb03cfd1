"""``envbuild export``: the lock at a path, for one platform, in another tool's format (``envbuild.export``)."""

from __future__ import annotations

from pathlib import Path

from envbuild import lockfile


def export_lock(lock_path: Path, platform: str | None, fmt: str) -> str:
    """The text of LOCK_PATH's PLATFORM (default: its only one, else this host's) in format FMT; local archives are
    named from the lock's directory."""
    from envbuild.export import export

    source = lockfile.read_lock_text(lock_path)
    whole = lockfile.loads_file(source, shown=str(lock_path))
    return export(whole, lockfile.choose_platform(whole, platform, str(lock_path)), fmt, source,
                  local=str(lock_path.parent.resolve()))


def write_output(output: Path, text: str) -> None:
    """TEXT into OUTPUT, atomically (a device or a FIFO is written into, never replaced)."""
    lockfile.write_atomic(output, text)
