"""The lock in other tools' formats: ``requirements`` and ``pylock`` (the pip layer, for pip, uv and PEP 751
installers; ``python``), ``conda-lock`` and ``explicit`` (the conda environment; ``conda``)."""

from __future__ import annotations

from envbuild.errors import ExportError
from envbuild.export.python import pylock_for, pylock_text, requirements_text
from envbuild.lockfile import LockFile

FORMATS = ("requirements", "pylock", "conda-lock", "explicit")

__all__ = ["FORMATS", "export", "pylock_for", "pylock_text", "requirements_text"]


def export(whole: LockFile, platform: str, fmt: str) -> str:
    """The lock (PLATFORM's view, for the formats of one platform) in format FMT."""
    if fmt == "conda-lock":
        from envbuild.export.conda import conda_lock_yml

        return conda_lock_yml(whole)
    lock = whole.view(platform)
    if fmt == "requirements":
        return requirements_text(lock)
    if fmt == "pylock":
        return pylock_for(lock)
    if fmt == "explicit":
        from envbuild.export.conda import explicit

        return explicit(lock)
    raise ExportError(f"unknown export format {fmt!r} (use one of: {', '.join(FORMATS)})")
