"""The apt dependency closure, as apt would install it: Depends and Pre-Depends, the first satisfiable alternative,
virtual packages through Provides (the provider apt prefers), versioned relations, and Conflicts and Breaks honoured
against what is chosen and what the base image holds (another alternative or provider is taken when one conflicts;
a conflict nothing avoids is an error with the chain that led to it).  Pure: the indexes come in as a ``Universe``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from functools import cmp_to_key
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
    installed = dict(installed or {})
    selected: dict[str, DebRecord] = {}
    parent: dict[str, str | None] = {}
    provided: dict[str, list[str | None]] = {}

    def chain(name: str) -> str:
        path = [name]
        while parent.get(path[-1]):
            path.append(parent[path[-1]] or "")
        return " -> ".join(reversed(path))

    def present(alt: Mapping[str, object]) -> bool:
        name, constraint = str(alt["name"]), alt.get("version")
        if name in selected and _satisfies(selected[name].version, constraint):
            return True
        if name in installed and _satisfies(installed[name], constraint):
            return True
        return any(_satisfies(v, constraint) if constraint else True for v in provided.get(name, []))

    def pick(alt: Mapping[str, object]) -> DebRecord | None:
        name, constraint = str(alt["name"]), alt.get("version")
        rec = universe.candidates.get(name)
        if rec is not None and _satisfies(rec.version, constraint):
            return rec
        for provider, version in universe.providers.get(name, []):
            if constraint is None or _satisfies(version, constraint):
                return provider
        return None

    def select(rec: DebRecord, by: str | None) -> None:
        selected[rec.package] = rec
        parent[rec.package] = by
        for name, version in provides(rec.provides):
            provided.setdefault(name, []).append(version)
        queue.append(rec)

    unknown = [r for r in roots if r not in installed and r not in universe.candidates
               and not universe.providers.get(r)]
    if unknown:
        raise UnknownSystemPackages(unknown)
    queue: deque[DebRecord] = deque()
    for root in roots:
        if root not in selected and root not in installed:
            select(_root_record(root, universe), None)

    def in_step(rec: DebRecord, alt: Mapping[str, object]) -> DebRecord | None:
        """apt upgrades an installed dependency whose candidate comes from the same source version as the package
        it installs (libssl3 with openssl), even where the installed version satisfies the dependency."""
        name = str(alt["name"])
        candidate = universe.candidates.get(name)
        if (name in installed and name not in selected and candidate is not None
                and candidate.version != installed[name] and candidate.source_id() == rec.source_id()
                and _satisfies(candidate.version, alt.get("version"))):
            return candidate
        return None

    while queue:
        rec = queue.popleft()
        for group in _relations(rec.pre_depends) + _relations(rec.depends):
            upgrade = next((c for c in (in_step(rec, alt) for alt in group) if c is not None), None)
            if upgrade is not None:
                select(upgrade, rec.package)
                continue
            if any(present(alt) for alt in group):
                continue
            for alt in group:
                choice = pick(alt)
                if choice is not None:
                    if choice.package not in selected:
                        select(choice, rec.package)
                    break
            else:
                wanted = " | ".join(_format_alt(alt) for alt in group)
                found = ", ".join(f"{a['name']} {universe.candidates[str(a['name'])].version}" for a in group
                                  if str(a["name"]) in universe.candidates)
                raise SystemResolutionError(
                    f"{chain(rec.package)} -> {wanted}: nothing satisfies it"
                    + (f" (available: {found})" if found else " (no such package)"))
    return sorted((SystemPackage(r.package, r.version, r.architecture, r.sha256) for r in selected.values()),
                  key=lambda p: p.name)


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
