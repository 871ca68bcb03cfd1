"""Differences between the Python versions envbuild runs on (3.10 and later), in one place."""

from __future__ import annotations

import sys

try:  # tomli is the parser the standard library took in as tomllib; its wheels are compiled (mypyc), 3.5x faster
    import tomli as tomllib
except ImportError:  # pragma: no cover - the drift check inside an image runs on the standard library alone
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        raise

__all__ = ["tomllib"]
