"""``envbuild why NAME``: the chains from the spec to a locked package, in the lock at a path (``review.why``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envbuild import lockfile
from envbuild.review.why import Chain, why


@dataclass(frozen=True)
class WhyResult:
    platform: str  # the lock's platform the chains are of
    chains: tuple[Chain, ...]  # shortest first


def explain(lock_path: Path, name: str, platform: str | None) -> WhyResult:
    """Why NAME is in LOCK_PATH's PLATFORM (default: its only one, else this host's)."""
    whole = lockfile.read_lockfile(lock_path)
    view = whole.view(lockfile.choose_platform(whole, platform, str(lock_path)))
    return WhyResult(view.target.platform, tuple(why(view, name)))
