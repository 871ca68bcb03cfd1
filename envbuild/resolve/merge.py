"""Several targets into one lock: consistent versions across platforms, one record per artefact.

Each platform is resolved for itself (its wheels, its .debs), all at once.  Where a package that two platforms
share came out at different versions, the later platforms are resolved again preferring the first platform's
pins (as uv's universal lock and conda-lock keep one version where the spec allows it); a version that still
differs is one the spec or the index forces, and both are recorded.  Then every wheel, .deb and pin becomes one
record that says on which platforms it is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from envbuild.lockfile import (
    CondaLock,
    CondaPackage,
    LockFile,
    PythonFile,
    PythonLock,
    PythonPackage,
    SystemLock,
    SystemPackage,
    TargetLock,
)
from envbuild.resolve.python import python_platform

if TYPE_CHECKING:
    from envbuild.resolve.target import Resolved
    from envbuild.spec import Spec


def divergent(results: dict[str, Resolved], primary: str) -> list[str]:
    """The platforms whose pins of a package shared with PRIMARY differ from PRIMARY's."""
    lead = {p.name: p.version for p in results[primary].python.packages}
    build = {p.name: p.version for p in results[primary].python.build_packages}
    return [platform for platform, result in results.items() if platform != primary and (any(
        lead.get(p.name, p.version) != p.version for p in result.python.packages) or any(
        build.get(p.name, p.version) != p.version for p in result.python.build_packages))]


def make_consistent(results: dict[str, Resolved], primary: str,
                    again: Callable[[str, PythonLock], Resolved]) -> dict[str, Resolved]:
    """RESULTS with every divergent platform resolved AGAIN, preferring PRIMARY's pins."""
    out = dict(results)
    for platform in divergent(results, primary):
        out[platform] = again(platform, results[primary].python)
    return out


def merge(spec: Spec, results: dict[str, Resolved], spec_hash: str) -> LockFile:
    """The lock of every platform in RESULTS."""
    everywhere = set(results)
    targets = []
    for platform, r in sorted(results.items()):
        targets.append(TargetLock(
            platform=platform, distro=r.distro.name if r.distro else None,
            python_platform=python_platform(platform, r.distro), python_version=r.python.version,
            python_source=r.python.source, base_digest=r.image.digest if r.image else None,
            base_packages=r.image.installed if r.image else None,
            apt_sources=r.system.sources if r.system is not None else None, cuda=r.cuda,
            apt_releases=r.system.releases if r.system is not None else (),
            build_image=r.build_image.kept(spec.python.build_image) if r.build_image else None))
    any_python = next(iter(results.values())).python
    python = replace(any_python, version=None, source=None,
                     packages=_python_records({p: r.python.packages for p, r in results.items()}, everywhere),
                     build_packages=_python_records({p: r.python.build_packages for p, r in results.items()},
                                                    everywhere))
    systems = {p: r.system for p, r in results.items() if r.system is not None}
    condas = {p: r.conda for p, r in results.items() if r.conda is not None}
    env = spec.environment
    return LockFile(spec_hash=spec_hash, name=env.name, targets=tuple(targets), python=python, env=spec.env,
                    ignore_extra=spec.check.ignore_extra, image_layers=spec.image_layers,
                    system=_system_records(systems, everywhere) if systems else None,
                    base_reference=env.base_image if env.base_image and any(r.image for r in results.values())
                    else None,
                    conda=CondaLock(spec.conda.channels, spec.conda.prefix, _conda_records(condas, everywhere),
                                    cuda=spec.conda.cuda) if condas else None,
                    apt_key=_armored_key(spec) if systems else None)


def _armored_key(spec: Spec) -> str | None:
    """[system] signed-by's key, armored, for the lock (render puts it in the image, a reviewer sees it change)."""
    if spec.system.signed_by is None:
        return None
    from envbuild.adapters.openpgp import armored

    return armored((spec.root / spec.system.signed_by).read_bytes()).strip()


def _where(platforms: set[str], everywhere: set[str]) -> tuple[str, ...]:
    return () if platforms == everywhere else tuple(sorted(platforms))


def _python_records(pins: dict[str, tuple[PythonPackage, ...]], everywhere: set[str]) -> tuple[PythonPackage, ...]:
    platforms: dict[tuple[str, str], set[str]] = {}
    hashes: dict[tuple[str, str], set[str]] = {}
    files: dict[tuple[str, str], dict[tuple[str, str, str], set[str]]] = {}
    origin: dict[tuple[str, str], PythonPackage] = {}  # its name, version, and index, URL, path or commit
    via: dict[tuple[str, str], set[str]] = {}
    requested: set[tuple[str, str]] = set()
    for platform, packages in pins.items():
        for package in packages:
            key = (package.name, package.version)
            origin.setdefault(key, package)
            via.setdefault(key, set()).update(package.via)
            if package.requested:
                requested.add(key)
            platforms.setdefault(key, set()).add(platform)
            hashes.setdefault(key, set()).update(package.hashes)
            for f in package.files:
                files.setdefault(key, {}).setdefault((f.name, f.url, f.hash), set()).add(platform)
    return tuple(replace(
        origin[key], hashes=tuple(sorted(hashes[key])),
        files=tuple(PythonFile(n, u, h, _where(where, platforms[key])) for (n, u, h), where in
                    sorted(files.get(key, {}).items())),
        platforms=_where(platforms[key], everywhere), requested=key in requested, via=tuple(sorted(via[key])))
        for key in sorted(platforms))


def _conda_records(condas: dict[str, CondaLock], everywhere: set[str]) -> tuple[CondaPackage, ...]:
    """Each distinct record once (one archive: its subdir and sha256), with the platforms it is installed on."""
    first: dict[tuple[str, str, str], CondaPackage] = {}
    where: dict[tuple[str, str, str], set[str]] = {}
    for platform, conda in condas.items():
        for package in conda.packages:
            key = (package.name, package.subdir, package.sha256)
            first.setdefault(key, package)
            where.setdefault(key, set()).add(platform)
    out = []
    for key, package in first.items():
        platforms = _where(where[key], everywhere)
        out.append(package if package.platforms == platforms else replace(package, platforms=platforms))
    return tuple(sorted(out, key=lambda p: (p.name, p.subdir, p.version, p.build)))


def _system_records(systems: dict[str, SystemLock], everywhere: set[str]) -> tuple[SystemPackage, ...]:
    where: dict[tuple[str, str, str, str], set[str]] = {}
    via: dict[tuple[str, str, str, str], set[str]] = {}
    requested: set[tuple[str, str, str, str]] = set()
    for platform, system in systems.items():
        for package in system.packages:
            key = (package.name, package.version, package.architecture, package.sha256)
            where.setdefault(key, set()).add(platform)
            via.setdefault(key, set()).update(package.via)
            if package.requested:
                requested.add(key)
    return tuple(SystemPackage(*key, platforms=_where(ps, everywhere), requested=key in requested,
                               via=tuple(sorted(via[key])))
                 for key, ps in sorted(where.items()))
