"""The lock in other tools' formats: ``requirements`` and ``pylock`` (the pip layer, for pip, uv and PEP 751
installers; ``python``), ``conda-lock`` and ``explicit`` (the conda environment; ``conda``), ``cyclonedx`` (an SBOM
of the whole environment; ``sbom``)."""

from __future__ import annotations

from envbuild.errors import ExportError
from envbuild.export.python import pylock_for, requirements_text
from envbuild.lockfile import LockFile
from envbuild.lockfile.pylock import pylock_text

FORMATS = ("requirements", "pylock", "conda-lock", "explicit", "cyclonedx")

__all__ = ["FORMATS", "export", "pylock_for", "pylock_text", "requirements_text"]


def export(whole: LockFile, platform: str, fmt: str, text: str | None = None, *, local: str | None = None) -> str:
    """The lock (PLATFORM's view, for the formats of one platform) in format FMT.  TEXT: the lock file's text, whose
    sha256 the SBOM names (default: the lock as envbuild writes it).  LOCAL: the lock's directory, which holds its
    local archives."""
    if fmt == "conda-lock":
        from envbuild.export.conda import conda_lock_yml

        return conda_lock_yml(whole)
    lock = whole.view(platform)
    if fmt == "requirements":
        return requirements_text(lock, local)
    if fmt == "pylock":
        return pylock_for(lock)
    if fmt == "cyclonedx":
        from envbuild.export.sbom import cyclonedx_json
        from envbuild.lockfile import dumps

        return cyclonedx_json(lock, text if text is not None else dumps(whole))
    if fmt == "explicit":
        from envbuild.export.conda import explicit

        return explicit(lock)
    raise ExportError(f"unknown export format {fmt!r} (use one of: {', '.join(FORMATS)})")
