"""Dotted version strings as envbuild compares them: Python ("3.11.2") and CUDA ("12.4.127") releases."""


def minor(version: str) -> str:
    """``3.11.2`` -> ``3.11``."""
    return ".".join(version.split(".")[:2])


def within(version: str, prefix: str) -> bool:
    """Is VERSION the release PREFIX names? ``3.11.2`` is within ``3.11`` and ``3.11.2``, not within ``3.1``."""
    return version == prefix or version.startswith(prefix + ".")
