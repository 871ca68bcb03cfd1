"""The apt dependency closure, as apt would install it: Depends and Pre-Depends, the first satisfiable alternative,
virtual packages through Provides (the provider apt prefers), versioned relations, and Conflicts and Breaks honoured
against what is chosen and what the base image holds (another alternative or provider is taken when one conflicts;
a conflict nothing avoids is an error with the chain that led to it).  Pure: the indexes come in as a ``Universe``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from functools import cmp_to_key, lru_cache
from itertools import count
from typing import Any

from debian.deb822 import PkgRelation
from debian.debian_support import version_compare

from envbuild.adapters.apt import DebRecord
from envbuild.errors import EnvbuildError
from envbuild.lockfile import SystemPackage

_OPS = {"<<": lambda c: c < 0, "<=": lambda c: c <= 0, "=": lambda c: c == 0, ">=": lambda c: c >= 0,
        ">>": lambda c: c > 0}
_PRIORITY = {name: rank for rank, name in enumerate(("required", "important", "standard", "optional", "extra"))}



class SystemResolutionError(EnvbuildError):
    """A system package does not exist, or a relation of the closure cannot be satisfied."""


class UnknownSystemPackages(SystemResolutionError):
    """Packages the spec asks for that the target's apt sources do not have (all of them, in one error)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"{', '.join(names)}: no such package in the target's apt sources")


def _cmp(a: str, b: str) -> int:
    return int(version_compare(a, b))


def _cmp_records(a: DebRecord, b: DebRecord) -> int:
    return _cmp(a.version, b.version)


class Universe:
    """The packages of a set of sources for one architecture, indexed for the closure."""

    def __init__(self, records: Iterable[DebRecord], arch: str) -> None:
        by_name: dict[str, dict[str, DebRecord]] = {}
        for rec in records:
            if rec.architecture not in (arch, "all"):
                continue
            by_name.setdefault(rec.package, {}).setdefault(rec.version, rec)
        newest = cmp_to_key(_cmp_records)
        self.candidates: dict[str, DebRecord] = {
            name: next(iter(versions.values())) if len(versions) == 1 else max(versions.values(), key=newest)
            for name, versions in by_name.items()
        }
        self._providers: dict[str, list[tuple[DebRecord, str | None]]] | None = None

    @property
    def providers(self) -> dict[str, list[tuple[DebRecord, str | None]]]:
        """virtual name -> [(candidate that provides it, provided version or None)], built on first use."""
        if self._providers is None:
            providers: dict[str, list[tuple[DebRecord, str | None]]] = {}
            for rec in self.candidates.values():
                for name, version in provides(rec.provides):
                    providers.setdefault(name, []).append((rec, version))
            for entries in providers.values():  # as apt prefers: higher Priority first, then by name
                entries.sort(key=lambda p: (_PRIORITY.get(p[0].priority, len(_PRIORITY)), p[0].package))
            self._providers = providers
        return self._providers


def provides(field: str) -> list[tuple[str, str | None]]:
    """``Provides: a (= 1.0), b`` -> [("a", "1.0"), ("b", None)].  Only "=" is allowed there (Policy 7.5)."""
    out = []
    for item in field.split(","):
        name, _, rest = item.strip().partition(" ")
        if name:
            version = rest.strip().strip("()").removeprefix("=").strip() or None
            out.append((name.split(":", 1)[0], version))
    return out


def _relations(text: str) -> list[list[Any]]:
    """Or-groups of a Depends-style field, parsed by python-debian."""
    return list(PkgRelation.parse_relations(text)) if text else []


def _satisfies(version: str | None, constraint: Any) -> bool:
    """Does VERSION meet CONSTRAINT, python-debian's ("op", "version") or None?"""
    if constraint is None:
        return True
    if version is None:
        return False
    op, wanted = constraint
    return bool(_OPS[op](_cmp(version, wanted)))


def resolve_closure(roots: Sequence[str], universe: Universe, installed: Mapping[str, str] | None = None,
                    ) -> list[SystemPackage]:
    """Pin ROOTS and everything they need that INSTALLED (name -> version, the base image) lacks."""
    unknown = [r for r in roots if r not in (installed or {}) and r not in universe.candidates
               and not universe.providers.get(r)]
    if unknown:
        raise UnknownSystemPackages(unknown)
    closure = _Closure(universe, dict(installed or {}))
    for root in roots:
        closure.add_root(root)
    closure.run()
    return sorted((SystemPackage(r.package, r.version, r.architecture, r.sha256,
                                 requested=closure.parent[r.package] is None,
                                 via=tuple(sorted(closure.users.get(r.package, ()))))
                   for r in closure.selected.values()), key=lambda p: p.name)


class _Closure:
    """The selection as it grows: what is chosen, who brought it (and who else needs it), and what it provides."""

    def __init__(self, universe: Universe, installed: dict[str, str]) -> None:
        self.universe, self.installed = universe, installed
        self.selected: dict[str, DebRecord] = {}
        self.parent: dict[str, str | None] = {}  # the chosen package that brought it in (None: a root)
        self.users: dict[str, set[str]] = {}  # the chosen packages it satisfies a relation of (or was upgraded for)
        self.providers: dict[str, list[tuple[str, str | None]]] = {}  # name -> (chosen package, version) providing it
        # name -> (order, chosen package, constraint) of the chosen packages' Conflicts and Breaks, in the order they
        # were chosen: a candidate is checked against these at once, not against every chosen package
        self.negated: dict[str, list[tuple[int, str, Any]]] = {}
        self.relations = count()
        self.queue: deque[DebRecord] = deque()

    def chain(self, name: str) -> str:
        path = [name]
        while self.parent.get(path[-1]):
            path.append(self.parent[path[-1]] or "")
        return " -> ".join(reversed(path))

    def add_root(self, root: str) -> None:
        if root in self.selected or root in self.installed:
            return
        record = _root_record(root, self.universe)
        problem = self.clash(record)
        if problem:
            raise SystemResolutionError(f"{root}: {problem}")
        self.select(record, None)

    def run(self) -> None:
        while self.queue:
            rec = self.queue.popleft()
            for group in _relations(rec.pre_depends) + _relations(rec.depends):
                self.satisfy(rec, group)

    def satisfy(self, rec: DebRecord, group: list[Any]) -> None:
        """Make one or-group of REC's dependencies hold: already, by an in-step upgrade, or by the first choice
        (alternative, then provider) that conflicts with nothing chosen."""
        upgrade = next((c for c in (self.in_step(rec, alt) for alt in group) if c is not None), None)
        if upgrade is not None:
            self.select(upgrade, rec.package)
            return
        for alt in group:
            holder = self.holder(alt)
            if holder is not None:  # already satisfied: by a chosen package, an edge of the lock; or by the base image
                if holder and holder != rec.package:
                    self.users.setdefault(holder, set()).add(rec.package)
                return
        clashes = []
        for alt in group:
            for choice in self.choices(alt):
                problem = None if choice.package in self.selected else self.clash(choice)
                if problem is None:
                    if choice.package not in self.selected:
                        self.select(choice, rec.package)
                    else:
                        self.users.setdefault(choice.package, set()).add(rec.package)
                    return
                clashes.append(problem)
        wanted = " | ".join(_format_alt(alt) for alt in group)
        if clashes:
            raise SystemResolutionError(f"{self.chain(rec.package)} -> {wanted}: every choice conflicts ("
                                        + "; ".join(clashes) + ")")
        found = ", ".join(f"{a['name']} {self.universe.candidates[str(a['name'])].version}" for a in group
                          if str(a["name"]) in self.universe.candidates)
        raise SystemResolutionError(f"{self.chain(rec.package)} -> {wanted}: nothing satisfies it"
                                    + (f" (available: {found})" if found else " (no such package)"))

    def holder(self, alt: Mapping[str, object]) -> str | None:
        """What already satisfies ALT: the chosen package (itself, or the first chosen provider), "" for the base
        image, None for nothing yet."""
        name, constraint = str(alt["name"]), alt.get("version")
        if name in self.selected and _satisfies(self.selected[name].version, constraint):
            return name
        if name in self.installed and _satisfies(self.installed[name], constraint):
            return ""
        return next((by for by, v in self.providers.get(name, []) if _satisfies(v, constraint)), None)

    def choices(self, alt: Mapping[str, object]) -> list[DebRecord]:
        """What can satisfy ALT, as apt prefers: the package itself, else its providers."""
        name, constraint = str(alt["name"]), alt.get("version")
        rec = self.universe.candidates.get(name)
        if rec is not None and _satisfies(rec.version, constraint):
            return [rec]
        return [provider for provider, version in self.universe.providers.get(name, [])
                if constraint is None or _satisfies(version, constraint)]

    def clash(self, rec: DebRecord) -> str | None:
        """Why REC cannot join the selection (a Conflicts or Breaks either way, or against the base image with no
        newer version to upgrade to), or None."""
        for name, constraint in _negative(rec):
            if name in self.selected and name != rec.package and _satisfies(self.selected[name].version, constraint):
                return f"{rec.package} conflicts with {self.chain(name)}"
            if name in self.installed and name not in self.selected and _satisfies(self.installed[name], constraint):
                newer = self.universe.candidates.get(name)
                if newer is None or _satisfies(newer.version, constraint):
                    return f"{rec.package} conflicts with {name} {self.installed[name]} (in the base image)"
            for other, version in self.providers.get(name, []):
                if other != rec.package and (constraint is None or _satisfies(version, constraint)):
                    return f"{rec.package} conflicts with {name}, which {self.chain(other)} provides"
        own = {rec.package: rec.version, **dict(provides(rec.provides))}
        against = [(order, by) for name, version in own.items() for order, by, constraint in self.negated.get(name, [])
                   if by != rec.package and (constraint is None or _satisfies(version, constraint))]
        if against:  # the first chosen package that conflicts with REC, as a walk of the selection would find it
            return f"{self.chain(min(against)[1])} conflicts with {rec.package}"
        return None

    def select(self, rec: DebRecord, by: str | None) -> None:
        self.selected[rec.package] = rec
        self.parent[rec.package] = by
        if by is not None:
            self.users.setdefault(rec.package, set()).add(by)
        for name, version in provides(rec.provides):
            self.providers.setdefault(name, []).append((rec.package, version))
        for name, constraint in _negative(rec):
            self.negated.setdefault(name, []).append((next(self.relations), rec.package, constraint))
        self.queue.append(rec)
        for name, constraint in _negative(rec):  # apt upgrades what the base image has that this breaks
            newer = self.universe.candidates.get(name)
            if (name in self.installed and name not in self.selected and newer is not None
                    and _satisfies(self.installed[name], constraint) and not _satisfies(newer.version, constraint)):
                self.select(newer, rec.package)

    def in_step(self, rec: DebRecord, alt: Mapping[str, object]) -> DebRecord | None:
        """apt upgrades an installed dependency whose candidate comes from the same source version as the package
        it installs (libssl3 with openssl), even where the installed version satisfies the dependency."""
        name = str(alt["name"])
        candidate = self.universe.candidates.get(name)
        if (name in self.installed and name not in self.selected and candidate is not None
                and candidate.version != self.installed[name] and candidate.source_id() == rec.source_id()
                and _satisfies(candidate.version, alt.get("version"))):
            return candidate
        return None


@lru_cache(maxsize=4096)
def _negative_of(conflicts: str, breaks: str) -> tuple[tuple[str, Any], ...]:
    """(name, constraint) of each Conflicts and Breaks relation (both keep two packages apart for a closure)."""
    return tuple((str(alt["name"]), alt.get("version")) for group in _relations(conflicts) + _relations(breaks)
                 for alt in group)


def _negative(rec: DebRecord) -> tuple[tuple[str, Any], ...]:
    return _negative_of(rec.conflicts, rec.breaks) if rec.conflicts or rec.breaks else ()


def _root_record(root: str, universe: Universe) -> DebRecord:
    """A requested package: a real one, or a virtual one with exactly one provider."""
    rec = universe.candidates.get(root)
    if rec is not None:
        return rec
    providers = universe.providers.get(root, [])
    if len(providers) == 1:
        return providers[0][0]
    if providers:
        names = ", ".join(p.package for p, _ in providers)
        raise SystemResolutionError(f"{root} is a virtual package provided by {names}; name one of them")
    raise SystemResolutionError(f"{root}: no such package in the target's apt sources")


def _format_alt(alt: Mapping[str, object]) -> str:
    version = alt.get("version")
    return f"{alt['name']} ({version[0]} {version[1]})" if version else str(alt["name"])  # type: ignore[index]
