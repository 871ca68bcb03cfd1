"""Resolve ``[system] packages`` into the full apt dependency closure, pinned, for the target distribution.

The closure follows Pre-Depends and Depends, takes the first satisfiable alternative of an or-group,
reaches virtual packages through Provides, and honours versioned relations, choosing each package's
candidate the way apt does (the highest version across the sources).  What the base image already has
(its dpkg status) is left out of the lock.  A package that does not exist, or a relation nothing satisfies,
fails with the chain that led to it (``git -> libcurl3-gnutls -> ...``).

The interpreter of a distro target comes from the same indexes: ``python = "3.11"`` on bookworm is the
``python3.11`` package, whose upstream version is the lock's exact Python version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cmp_to_key
from typing import Any

from debian.deb822 import PkgRelation
from debian.debian_support import version_compare

from envbuild import data
from envbuild.adapters.apt import (
    CACHE_SCHEMA,
    DebRecord,
    IndexFile,
    ReleaseFacts,
    Source,
    load_index_file,
    release_index,
)
from envbuild.adapters.http import cache_dir, write_cache
from envbuild.adapters.openpgp import Keyring, fingerprints_of
from envbuild.errors import EnvbuildError
from envbuild.lockfile import AptRelease, SystemLock, SystemPackage
from envbuild.spec import Distro
from envbuild.versions import minor

_SNAPSHOT = re.compile(r"^snapshot:(\d{8}T\d{6}Z)$")
_OPS = {"<<": lambda c: c < 0, "<=": lambda c: c <= 0, "=": lambda c: c == 0, ">=": lambda c: c >= 0,
        ">>": lambda c: c > 0}
DEB_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
_PRIORITY = {name: rank for rank, name in enumerate(("required", "important", "standard", "optional", "extra"))}


class SystemResolutionError(EnvbuildError):
    """A system package does not exist, or a relation of the closure cannot be satisfied."""


class UnknownSystemPackages(SystemResolutionError):
    """Packages the spec asks for that the target's apt sources do not have (all of them, in one error)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"{', '.join(names)}: no such package in the target's apt sources")


@dataclass(frozen=True)
class Trust:
    """Whom the apt sources' Release files must be signed by: the distribution's archive keys, except for the
    sources the spec names itself (mirror, security-mirror), which SIGNED_BY's key signs when given; INSECURE takes
    unsigned Release files from every source (an air-gapped mirror; the lock records it)."""

    signed_by: Keyring | None = None
    insecure: bool = False


@cache
def archive_keyring(distro_id: str) -> Keyring:
    """The archive keys envbuild ships for a distribution (envbuild/data/keys.toml), each checked against the
    fingerprint listed there: a key file swapped for another is refused."""
    from importlib import resources

    rows = data.load("keys")[distro_id]["keys"]
    blobs = []
    for row in rows:
        blob = resources.files("envbuild.data").joinpath("keys", row["file"]).read_bytes()
        found = [f.upper() for f in fingerprints_of(blob)]
        if found != [row["fingerprint"]]:
            raise EnvbuildError(f"envbuild/data/keys/{row['file']}: holds {', '.join(found) or 'no key'}, not the "
                                f"{row['fingerprint']} that keys.toml lists; reinstall envbuild")
        blobs.append(blob)
    return Keyring(f"the {distro_id} archive keys", tuple(blobs))


def sources_for(distro: Distro, platform: str, mirror: str | None = None,
                security_mirror: str | None = None, trust: Trust = Trust()) -> tuple[Source, ...]:
    """The apt sources of DISTRO: the main archive (release and -updates) and the security archive.

    MIRROR replaces the main archive (a URL, or ``snapshot:YYYYMMDDTHHMMSSZ`` for the distro's snapshot
    service, which pins the security archive to the same moment). SECURITY_MIRROR replaces the security
    archive, ``"none"`` leaves it out.  TRUST says which keys sign each.
    """
    archive = data.load("archives")[distro.id]
    ports = DEB_ARCH[platform] != "amd64" and "mirror-ports" in archive
    main = archive["mirror-ports"] if ports else archive["mirror"]
    security = archive["security-ports"] if ports and "security-ports" in archive else archive["security"]
    distro_keys = None if trust.insecure else archive_keyring(distro.id)
    own_keys = None if trust.insecure else (trust.signed_by or distro_keys)
    main_keys = security_keys = distro_keys
    snapshot = False
    if mirror:
        match = _SNAPSHOT.match(mirror)
        if match:
            main = archive["snapshot"].format(stamp=match.group(1))
            security = archive["snapshot-security"].format(stamp=match.group(1))
            snapshot = True
        else:
            main, main_keys = mirror, own_keys
    if security_mirror:
        security, security_keys = security_mirror, own_keys
    components = tuple(archive["components"])
    sources = [Source(main, distro.codename, components, main_keys, snapshot),
               Source(main, f"{distro.codename}-updates", components, main_keys, snapshot)]
    if security != "none":
        sources.append(Source(security, f"{distro.codename}-security", components, security_keys, snapshot))
    return tuple(sources)


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


def interpreter(universe: Universe, distro: Distro, requested: str, installed: Mapping[str, str] | None = None,
                ) -> tuple[str, str]:
    """(package name, exact upstream version) of the distro's ``pythonX.Y`` for REQUESTED ("3.11" or "3.11.2").

    When the base image already has that package installed, its installed version is the one that runs."""
    package = f"python{minor(requested)}"
    if installed and package in installed:
        upstream = upstream_version(installed[package])
        if requested.count(".") == 2 and upstream != requested:
            raise SystemResolutionError(f"the base image has Python {upstream} ({package}), not {requested}")
        return package, upstream
    rec = universe.candidates.get(package)
    if rec is None:
        offered = sorted(n for n in universe.candidates if re.fullmatch(r"python3\.\d+", n))
        raise SystemResolutionError(
            f"{distro.name} ({distro.codename}) has no {package} package (it offers "
            f"{', '.join(offered) or 'none'}); choose one of those, or a base image that provides Python {requested}")
    upstream = upstream_version(rec.version)
    if requested.count(".") == 2 and upstream != requested:
        raise SystemResolutionError(f"{distro.name} provides Python {upstream} ({package} {rec.version}), not "
                                    f"{requested}; ask for python = \"{minor(requested)}\" or use a base image with "
                                    f"{requested}")
    return package, upstream


def upstream_version(debian_version: str) -> str:
    """``3.11.2-6+deb12u6`` -> ``3.11.2`` (epoch and Debian revision dropped)."""
    version = debian_version.split(":", 1)[-1].rsplit("-", 1)[0]
    return re.split(r"[~+]", version, maxsplit=1)[0]


@dataclass(frozen=True)
class AptIndexes:
    """The verified Packages indexes of a target's sources, and the facts of each signed Release."""

    files: tuple[IndexFile, ...]
    releases: tuple[ReleaseFacts, ...]


def _index_files(sources: Sequence[Source], platform: str) -> AptIndexes:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(sources) or 1) as pool:  # the Release round trips overlap
        answers = list(pool.map(lambda source: release_index(source, DEB_ARCH[platform]), sources))
    return AptIndexes(tuple(f for files, _ in answers for f in files), tuple(facts for _, facts in answers))


def load_universe(sources: Sequence[Source], platform: str, files: Sequence[IndexFile] | None = None) -> Universe:
    records: list[DebRecord] = []
    for index in files if files is not None else _index_files(sources, platform).files:
        records += load_index_file(index)
    return Universe(records, DEB_ARCH[platform])


def index_files_for(distro: Distro, platform: str, *, mirror: str | None = None,
                    security_mirror: str | None = None, trust: Trust = Trust()) -> AptIndexes:
    """The Packages indexes of DISTRO for PLATFORM, from the signed Release files: the network part of a
    resolution, which the caller may run first (see resolve.target)."""
    return _index_files(sources_for(distro, platform, mirror, security_mirror, trust), platform)


def resolve_system(distro: Distro, platform: str, packages: Sequence[str], python: str | None, *,
                   mirror: str | None = None, security_mirror: str | None = None,
                   installed: Mapping[str, str] | None = None, indexes: AptIndexes | None = None,
                   trust: Trust = Trust()) -> tuple[SystemLock, str | None]:
    """The pinned apt closure of PACKAGES, plus the distro's interpreter for PYTHON ("3.11") when it is given
    (None: the base image provides Python), and that interpreter's exact version.  INDEXES: the verified indexes,
    when the caller fetched them already (``index_files_for``)."""
    sources = sources_for(distro, platform, mirror, security_mirror, trust)
    indexes = indexes if indexes is not None else _index_files(sources, platform)
    files = list(indexes.files)
    lines = tuple(f"{s.url} {s.suite} {' '.join(s.components)}" for s in sources)
    releases = tuple(AptRelease(r.source, r.date, r.signer) for r in indexes.releases)
    # The answer depends only on these inputs (the indexes by their sha256), so a re-lock against unchanged
    # indexes reads it back instead of loading some 60,000 records again.
    facts = {"schema": CACHE_SCHEMA, "distro": distro.name, "platform": platform, "packages": sorted(packages),
             "python": python, "installed": sorted((installed or {}).items()),
             "indexes": [f.sha256 for f in files]}
    memo = cache_dir("apt", "closures") / (hashlib.sha256(json.dumps(facts).encode()).hexdigest() + ".json")
    if memo.exists():
        saved = json.loads(memo.read_text())
        return (SystemLock(sources=lines, packages=tuple(SystemPackage(*row) for row in saved["packages"]),
                           releases=releases),
                saved["python"])
    universe = load_universe(sources, platform, files)
    roots = list(packages)
    python_version = None
    if python is not None:
        python_package, python_version = interpreter(universe, distro, python, installed)
        roots += [python_package, f"{python_package}-venv"]
    closure = resolve_closure(roots, universe, installed)
    write_cache(memo, json.dumps({"python": python_version,
                                  "packages": [[p.name, p.version, p.architecture, p.sha256] for p in closure]},
                                 ).encode())
    return SystemLock(sources=lines, packages=tuple(closure), releases=releases), python_version
