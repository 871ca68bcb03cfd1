"""What changed between two locks' pins (the summary ``envbuild lock`` prints)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from envbuild.lockfile.model import PythonLock, SystemLock, SystemPackage


@dataclass(frozen=True)
class LockDiff:
    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    changed: tuple[tuple[str, str, str], ...] = ()  # name, old, new
    rehashed: tuple[str, ...] = field(default=())  # same version, other files/hashes (a re-upload!)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.rehashed)


def diff_python(old: PythonLock | None, new: PythonLock) -> LockDiff:
    return _diff(_pins((p.name, p.version, p.hashes) for p in (old.packages if old else ())),
                 _pins((p.name, p.version, p.hashes) for p in new.packages))


def diff_system(old: tuple[SystemPackage, ...] | SystemLock | None,
                new: tuple[SystemPackage, ...] | SystemLock | None) -> LockDiff:
    def rows(packages: tuple[SystemPackage, ...] | SystemLock | None) -> Iterable[tuple[str, str, tuple[str, ...]]]:
        records = packages.packages if isinstance(packages, SystemLock) else packages or ()
        return ((p.name, p.version, (p.sha256,)) for p in records)

    return _diff(_pins(rows(old)), _pins(rows(new)))


def _pins(rows: Iterable[tuple[str, str, tuple[str, ...]]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (its version, or versions where platforms differ: "1.0, 1.1"; all its hashes)."""
    versions: dict[str, set[str]] = {}
    hashes: dict[str, set[str]] = {}
    for name, version, digests in rows:
        versions.setdefault(name, set()).add(version)
        hashes.setdefault(name, set()).update(digests)
    return {n: (", ".join(sorted(versions[n])), tuple(sorted(hashes[n]))) for n in versions}


def _diff(before: dict[str, tuple[str, tuple[str, ...]]], after: dict[str, tuple[str, tuple[str, ...]]]) -> LockDiff:
    """Pins (name -> (version, hashes)) before and after."""
    added = tuple((n, after[n][0]) for n in sorted(set(after) - set(before)))
    removed = tuple((n, before[n][0]) for n in sorted(set(before) - set(after)))
    both = sorted(set(before) & set(after))
    changed = tuple((n, before[n][0], after[n][0]) for n in both if before[n][0] != after[n][0])
    rehashed = tuple(n for n in both if before[n][0] == after[n][0] and before[n][1] != after[n][1])
    return LockDiff(added=added, removed=removed, changed=changed, rehashed=rehashed)
