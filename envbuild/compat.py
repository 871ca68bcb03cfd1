"""Differences between the Python versions envbuild runs on (3.10 and later), in one place."""

from __future__ import annotations

try:  # tomli is the parser the standard library took in as tomllib; its wheels are compiled (mypyc), 3.5x faster
    import tomli as tomllib
except ImportError:  # pragma: no cover - the drift check inside an image runs on the standard library alone
    import tomllib  # type: ignore[no-redef]  # Python 3.11+

__all__ = ["tomllib"]
