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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from envbuild.resolve.closure import Universe

DEB_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
_SNAPSHOT = re.compile(r"^snapshot:(\d{8}T\d{6}Z)$")
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
    rows = data.load("keys")[distro_id]["keys"]
    blobs = []
    for row in rows:
        blob = data.read(f"keys/{row['file']}")
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


def interpreter(universe: Universe, distro: Distro, requested: str, installed: Mapping[str, str] | None = None,
                ) -> tuple[str, str]:
    """(package name, exact upstream version) of the distro's ``pythonX.Y`` for REQUESTED ("3.11" or "3.11.2").

    When the base image already has that package installed, its installed version is the one that runs."""
    from envbuild.resolve.closure import SystemResolutionError

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
    from envbuild.resolve.closure import Universe  # python-debian (50 ms to import) only where a closure is made

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
    # indexes reads it back instead of loading some 60,000 records again.  "closure" is the shape of what is
    # kept: 3 since via holds every chosen package that needs a record, not only the one that brought it in.
    facts = {"schema": CACHE_SCHEMA, "closure": 3, "distro": distro.name, "platform": platform,
             "packages": sorted(packages),
             "python": python, "installed": sorted((installed or {}).items()),
             "indexes": [f.sha256 for f in files]}
    memo = cache_dir("apt", "closures") / (hashlib.sha256(json.dumps(facts).encode()).hexdigest() + ".json")
    if memo.exists():
        saved = json.loads(memo.read_text())
        rows = saved["packages"]
        return (SystemLock(sources=lines, packages=tuple(
                    SystemPackage(r[0], r[1], r[2], r[3], requested=r[4], via=tuple(r[5])) for r in rows),
                    releases=releases),
                saved["python"])
    from envbuild.resolve.closure import resolve_closure

    universe = load_universe(sources, platform, files)
    roots = list(packages)
    python_version = None
    if python is not None:
        python_package, python_version = interpreter(universe, distro, python, installed)
        roots += [python_package, f"{python_package}-venv"]
    closure = resolve_closure(roots, universe, installed)
    write_cache(memo, json.dumps({"python": python_version,
                                  "packages": [[p.name, p.version, p.architecture, p.sha256, p.requested,
                                                list(p.via)] for p in closure]},
                                 ).encode())
    return SystemLock(sources=lines, packages=tuple(closure), releases=releases), python_version
