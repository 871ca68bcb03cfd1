"""What changed between two locks' pins (the summary ``envbuild lock`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

from envbuild.lockfile.model import PythonLock, SystemLock


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
    before = old.by_name() if old else {}
    after = new.by_name()
    return _diff({n: (p.version, p.hashes) for n, p in before.items()},
                 {n: (p.version, p.hashes) for n, p in after.items()})


def diff_system(old: SystemLock | None, new: SystemLock | None) -> LockDiff:
    before = old.by_name() if old else {}
    after = new.by_name() if new else {}
    return _diff({n: (p.version, (p.sha256,)) for n, p in before.items()},
                 {n: (p.version, (p.sha256,)) for n, p in after.items()})


def _diff(before: dict[str, tuple[str, tuple[str, ...]]], after: dict[str, tuple[str, tuple[str, ...]]]) -> LockDiff:
    """Pins (name -> (version, hashes)) before and after."""
    added = tuple((n, after[n][0]) for n in sorted(set(after) - set(before)))
    removed = tuple((n, before[n][0]) for n in sorted(set(before) - set(after)))
    both = sorted(set(before) & set(after))
    changed = tuple((n, before[n][0], after[n][0]) for n in both if before[n][0] != after[n][0])
    rehashed = tuple(n for n in both if before[n][0] == after[n][0] and before[n][1] != after[n][1])
    return LockDiff(added=added, removed=removed, changed=changed, rehashed=rehashed)
