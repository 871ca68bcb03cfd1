"""Facts as data: each file cites where its rows come from."""

from __future__ import annotations

import pkgutil
from functools import cache
from typing import Any

from envbuild.compat import tomllib


@cache
def load(name: str) -> dict[str, Any]:
    """Parse ``envbuild/data/<name>.toml`` (read once per process)."""
    return tomllib.loads(read(f"{name}.toml").decode("utf-8"))


def read(name: str) -> bytes:
    """The bytes of ``envbuild/data/<name>`` ("keys/debian.asc"), read through the package's loader: from a file or
    from the image's envbuild-check.pyz alike.  ``pkgutil.get_data`` imports in 2 ms, ``importlib.resources`` in 11
    (a lock reads its distro table before its conda channels start loading)."""
    data = pkgutil.get_data(__package__, name)
    if data is None:  # a loader that cannot read data: not one envbuild is installed with
        raise FileNotFoundError(f"envbuild/data/{name}")
    return data
