"""Facts as data: each file cites where its rows come from."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from envbuild.compat import tomllib


@cache
def load(name: str) -> dict[str, Any]:
    """Parse ``envbuild/data/<name>.toml`` (read once per process)."""
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)
