"""What a lock asks of the resolver besides the spec: which pins may move, and what to keep."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    network_share: int = 1  # resolutions running at once
    prefer: tuple[tuple[str, str], ...] = ()  # (name, version) to keep where allowed, when there is no previous lock
