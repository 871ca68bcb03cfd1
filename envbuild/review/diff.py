"""What changed between two locks, part by part (image, interpreter, system, python, conda, cuda, env), for a
reviewer: added, removed, upgraded and downgraded packages, major-version jumps set apart, and a package whose
version stayed while its files changed (``rebuilt``: a re-upload, which matters for security review).

Each platform of the locks is compared through its view; a change seen on every platform is listed once, one
seen on some carries their names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envbuild.lockfile import Lock, LockFile

if TYPE_CHECKING:
    from envbuild.review.why import Why

PARTS = ("image", "interpreter", "system", "python", "build", "conda", "cuda", "env")  # build: lock version 6


@dataclass(frozen=True)
class Change:
    """One change a reviewer sees: a package (or fact) of one part, before and after."""

    part: str  # one of PARTS
    name: str
    change: str  # added | removed | upgraded | downgraded | rebuilt | changed
    old: str | None
    new: str | None
    major: bool = False  # an upgrade or downgrade across a major version
    platforms: tuple[str, ...] = ()  # () = every platform compared
    via: tuple[str, ...] = field(default=())  # why it is there (filled once the lock records it)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"part": self.part, "name": self.name, "change": self.change, "old": self.old,
                                  "new": self.new, "via": list(self.via)}
        if self.major:
            out["major"] = True
        if self.platforms:
            out["platforms"] = list(self.platforms)
        return out


def diff(old: LockFile, new: LockFile) -> list[Change]:
    """The changes from OLD to NEW, in PARTS order, then by name."""
    platforms = sorted(set(old.platforms) | set(new.platforms))
    compared = [p for p in platforms if p in old.platforms and p in new.platforms]
    views = {p: new.view(p) for p in compared}  # NEW's, once: an added package's chains are found in them too
    seen: dict[tuple[str, str, str, str | None, str | None, bool], list[str]] = {}
    for platform in compared:
        for c in _view_changes(old.view(platform), views[platform]):
            seen.setdefault((c.part, c.name, c.change, c.old, c.new, c.major), []).append(platform)
    out = [Change("image", f"platform {p}", "added" if p in new.platforms else "removed", None, None)
           for p in platforms if (p in new.platforms) != (p in old.platforms)]
    asked: dict[str, Why] = {}  # per platform of NEW, built when an added package first needs it
    for (part, name, change, before, after, major), where in seen.items():
        via: tuple[str, ...] = ()
        if change == "added" and part in ("python", "system", "conda") and new.keeps_edges:
            if where[0] not in asked:
                from envbuild.review.why import Why  # only an added package needs it

                asked[where[0]] = Why(views[where[0]])
            via = _why_added(asked[where[0]], part, name)
        out.append(Change(part, name, change, before, after, major,
                          () if len(where) == len(compared) else tuple(where), via))
    return sorted(out, key=lambda c: (PARTS.index(c.part), c.name, c.platforms))


def _why_added(new: Why, part: str, name: str) -> tuple[str, ...]:
    """What brought an added package in: the shortest chain from the spec to it, less the package itself (empty
    when the spec asks for it)."""
    from envbuild.errors import EnvbuildError

    try:
        chains = new.chains(name, part)
    except EnvbuildError:
        return ()
    return chains[0].steps[:-1] if chains else ()


def _view_changes(old: Lock, new: Lock) -> Iterable[Change]:
    yield from _image(old, new)
    before, after = old.python.target_version, new.python.target_version
    if before != after or old.python.source != new.python.source:
        yield _versioned("interpreter", "python", f"{before} ({old.python.source or '?'})",
                         f"{after} ({new.python.source or '?'})", _python_order(before, after))
    yield from _records("system", _apt(old), _apt(new), _debian_order)
    yield from _records("python", {p.name: (p.version, tuple(p.hashes) or (p.vcs or "",)) for p in old.python.packages},
                        {p.name: (p.version, tuple(p.hashes) or (p.vcs or "",)) for p in new.python.packages},
                        _python_order)
    yield from _build(old, new)
    yield from _records("conda", _conda(old), _conda(new), _python_order)
    yield from _cuda(old, new)
    yield from _records("env", {k: (v, ()) for k, v in old.env}, {k: (v, ()) for k, v in new.env}, None)


def _build(old: Lock, new: Lock) -> Iterable[Change]:
    """What the sdists of build-dependencies compile with: the build group, and the build image's digest."""
    yield from _records("build", {p.name: (p.version, tuple(p.hashes)) for p in old.python.build_packages},
                        {p.name: (p.version, tuple(p.hashes)) for p in new.python.build_packages}, _python_order)
    a, b = old.build_image, new.build_image
    if a is not None or b is not None:
        before = f"{a.reference}@{a.digest}" if a else None
        after = f"{b.reference}@{b.digest}" if b else None
        if before != after:
            name = b.reference if b is not None else a.reference if a is not None else ""
            yield Change("build", name, "added" if a is None else "removed" if b is None else "changed", before,
                         after)


def _image(old: Lock, new: Lock) -> Iterable[Change]:
    a, b = old.base_image, new.base_image
    if a is None and b is None:
        return
    if a is None or b is None:
        image = a or b
        assert image is not None  # noqa: S101 - one of the two, by the test above
        yield Change("image", image.reference, "added" if b else "removed", a.digest if a else None,
                     b.digest if b else None)
    elif a.reference != b.reference:
        yield Change("image", b.reference, "changed", f"{a.reference}@{a.digest}", f"{b.reference}@{b.digest}")
    elif a.digest != b.digest:  # the same tag, another image: what a security review wants to see
        yield Change("image", b.reference, "changed", a.digest, b.digest)


def _apt(lock: Lock) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name (name:arch where one name has several architectures) -> (version, (sha256,))."""
    packages = lock.system.packages if lock.system else ()
    count: dict[str, int] = {}
    for p in packages:
        count[p.name] = count.get(p.name, 0) + 1
    return {f"{p.name}:{p.architecture}" if count[p.name] > 1 else p.name: (p.version, (p.sha256,))
            for p in packages}


def _conda(lock: Lock) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (version, (build, sha256)): a new build of the same version is a rebuild."""
    return {p.name: (p.version, (p.build, p.sha256)) for p in (lock.conda.packages if lock.conda else ())}


def _cuda(old: Lock, new: Lock) -> Iterable[Change]:
    def facts(lock: Lock) -> dict[str, tuple[str, tuple[str, ...]]]:
        cuda = lock.cuda
        if cuda is None:
            return {}
        pairs = (("runtime", cuda.runtime), ("cudnn", cuda.cudnn), ("nccl", cuda.nccl),
                 ("min-driver", cuda.min_driver))
        return {name: (value, ()) for name, value in pairs if value}

    yield from _records("cuda", facts(old), facts(new), _python_order)


Order = Callable[[str, str], int]


def _records(part: str, before: dict[str, tuple[str, tuple[str, ...]]], after: dict[str, tuple[str, tuple[str, ...]]],
             order: Order | None) -> Iterable[Change]:
    for name in sorted(set(before) | set(after)):
        if name not in before:
            yield Change(part, name, "added", None, after[name][0])
        elif name not in after:
            yield Change(part, name, "removed", before[name][0], None)
        elif before[name][0] != after[name][0]:
            yield _versioned(part, name, before[name][0], after[name][0],
                             order(before[name][0], after[name][0]) if order else 0)
        elif before[name][1] != after[name][1]:
            yield Change(part, name, "rebuilt", before[name][0], after[name][0])


def _versioned(part: str, name: str, old: str, new: str, direction: int) -> Change:
    if direction == 0:
        return Change(part, name, "changed", old, new)
    return Change(part, name, "upgraded" if direction > 0 else "downgraded", old, new,
                  major=_major(old) != _major(new))


def _major(version: str) -> str:
    """The major release: ``1:2.39.5-0`` -> ``1:2``; ``2.5.1+cu124`` -> ``2``."""
    epoch, _, rest = version.rpartition(":")
    head = rest.split(".")[0].split("-")[0].split("+")[0]
    return f"{epoch}:{head}" if epoch else head


def _python_order(old: str, new: str) -> int:
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(old.split(" ", maxsplit=1)[0]), Version(new.split(" ", maxsplit=1)[0])
    except InvalidVersion:
        return 0
    return (a < b) - (a > b)


def _debian_order(old: str, new: str) -> int:
    from debian.debian_support import version_compare

    order = version_compare(old, new)
    return (order < 0) - (order > 0)
