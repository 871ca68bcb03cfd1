"""The lock's data model.

``LockFile`` is the whole ``envbuild.lock``: one or several target platforms (``TargetLock``: the per-platform facts),
and one record per distinct artefact (a wheel, a .deb, a conda package), each saying on which platforms it is
installed (``platforms``; empty means all of the lock's platforms).  ``Lock`` is the view of one platform, what
render, build, sync, export and check work with: ``LockFile.view(platform)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from envbuild.pysources import PythonIndex, built_in_environment

LOCK_VERSION = 6  # 2: several platforms ([[targets]], per-record platforms), [targets] base-image-packages
#                   3: [targets] apt-releases (each apt suite's signed Release: date and signer)
#                   4: [python] indexes and build options; a package's index, direct-url or path
#                   5: [image] layers (the spec's plan of the image's Python layers)
#                   6: [[python.build-packages]] (the locked build group), [python] build-image and
#                      [targets] build-image (where GPU-kernel sdists compile)
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
EDGES_SINCE = 4  # the first version whose records keep requested/via (a lock read from an older one has none)


@dataclass(frozen=True)
class PythonFile:
    """One distribution file of a pinned package."""

    name: str  # the file name: numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
    url: str  # credential-free
    hash: str  # "sha256:<hex>"
    platforms: tuple[str, ...] = ()  # where this file is the one installed; () = wherever its package is


@dataclass(frozen=True)
class PythonPackage:
    """One pinned Python distribution: its version, the hashes of its files, and who asked for it."""

    name: str  # normalised (PEP 503)
    version: str
    hashes: tuple[str, ...]  # sorted "sha256:<hex>"
    files: tuple[PythonFile, ...] = ()  # sorted by name; empty when the resolver reports no URLs (pip-tools)
    platforms: tuple[str, ...] = ()  # where it is installed; () = every platform of the lock
    index: str | None = None  # the named index ([python] indexes) it was pinned to by [python] sources
    direct_url: str | None = None  # `name @ https://...`: the archive it is installed from, credential-free
    path: str | None = None  # `name @ ./wheels/x.whl`: the archive, relative to the lock's directory
    vcs: str | None = None  # `name @ git+URL@REF`: "git+URL@COMMIT", credential-free (no hash: the commit is its id)
    requested: bool = False  # a requirement of the spec itself
    via: tuple[str, ...] = ()  # the locked packages that require it, sorted (envbuild why)

    @property
    def built(self) -> bool:
        """Is it built at install time (an sdist and no wheel, or a VCS checkout)?"""
        return self.vcs is not None or (bool(self.files) and not any(f.name.endswith(".whl") for f in self.files))


@dataclass(frozen=True)
class PythonLock:
    """The Python part: how it was resolved, from which indexes, and the pinned packages."""

    requested: str  # the spec's python = "3.11"
    resolver: str
    index_url: str  # as the spec writes it: ${VAR} placeholders kept, never credentials
    extra_index_urls: tuple[str, ...] = ()
    packages: tuple[PythonPackage, ...] = ()  # sorted by name (then version)
    version: str | None = None  # the exact interpreter of a view's platform (per target in the file)
    source: str | None = None  # "system" | "image"
    indexes: tuple[PythonIndex, ...] = ()  # the spec's named indexes, in its order
    build_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (sdist, what its build needs), sorted
    no_build_isolation: tuple[str, ...] = ()
    build_env: tuple[tuple[str, str], ...] = ()
    build_packages: tuple[PythonPackage, ...] = ()  # the build group: what build-dependencies resolve to (lock v6)
    build_image: str | None = None  # [python] build-image as the spec wrote it (each target has its digest)

    @property
    def built_in_environment(self) -> tuple[str, ...]:
        """The sdists built against the locked environment (its build-dependencies or no-build-isolation)."""
        return built_in_environment(self.build_dependencies, self.no_build_isolation)

    @property
    def built_with_group(self) -> frozenset[str]:
        """The sdists built with the locked build group alone: those of build-dependencies, in a lock that has the
        group (version 6; an older lock builds them against the locked environment, as it did)."""
        return frozenset(name for name, _ in self.build_dependencies) if self.build_packages else frozenset()

    def built_apart(self) -> tuple[PythonPackage, ...]:
        """What installers build in a step of its own, once the rest is installed: the sdists built against the
        locked environment, and the VCS checkouts (no hash, so not in a hash-checked requirements file)."""
        special = set(self.built_in_environment)
        return tuple(p for p in self.packages if p.vcs or (p.built and p.name in special))

    def by_name(self) -> dict[str, PythonPackage]:
        return {p.name: p for p in self.packages}

    @property
    def target_version(self) -> str:
        """The interpreter the lock is for: its exact version once resolved, else the one the spec asked for."""
        return self.version or self.requested


@dataclass(frozen=True)
class Target:
    """The platform a view of the lock is for."""

    platform: str
    distro: str | None = None  # "debian:12"
    python_platform: str | None = None  # the wheel platform the Python pins were resolved for


@dataclass(frozen=True)
class SystemPackage:
    """One apt package of the closure: its exact version and the sha256 of its .deb."""

    name: str
    version: str
    architecture: str
    sha256: str
    platforms: tuple[str, ...] = ()  # () = every platform of the lock
    requested: bool = False  # named by the spec (or the interpreter's package, which the spec's python asks for)
    via: tuple[str, ...] = ()  # the package whose dependency brought it into the closure first (envbuild why)


@dataclass(frozen=True)
class AptRelease:
    """A suite's Release as it was locked: which archive state, signed by whom."""

    source: str  # "URL SUITE"
    date: str  # its Date, ISO 8601 UTC
    signer: str  # the signing certificate's fingerprint, or "unsigned" ([system] insecure-unsigned)


@dataclass(frozen=True)
class SystemLock:
    """The apt part of one platform: its sources, their Release files, and the closure."""

    sources: tuple[str, ...]  # apt source lines without "deb": "URL SUITE COMPONENT..." (a view's platform)
    packages: tuple[SystemPackage, ...] = ()  # the closure not already in the base image, sorted by name
    releases: tuple[AptRelease, ...] = ()  # one per source (lock version 3); () in older locks
    key: str | None = None  # the armored key of [system] signed-by, which signs the mirrors the spec names

    @property
    def unsigned(self) -> bool:
        """Were the Release files taken unsigned ([system] insecure-unsigned)?"""
        return any(r.signer == "unsigned" for r in self.releases)

    def by_name(self) -> dict[str, SystemPackage]:
        return {p.name: p for p in self.packages}


@dataclass(frozen=True)
class CudaLock:
    """CUDA as the lock derives it (from the pins, the conda records or the base image)."""

    runtime: str  # cudart version, e.g. "12.4.127"
    min_driver: str  # lowest driver that runs it (minor-version compatibility)
    cudnn: str | None = None
    nccl: str | None = None
    toolkit_driver: str | None = None  # the driver shipped with that toolkit release (runs all of it)


@dataclass(frozen=True)
class CondaPackage:
    """One conda package as the solver chose it: everything an installer needs without solving again."""

    name: str
    version: str
    build: str
    build_number: int
    subdir: str  # linux-64, linux-aarch64, osx-arm64, noarch
    channel: str  # the channel's base URL, credential-free
    url: str  # credential-free
    sha256: str  # hex
    md5: str  # hex (conda-lock and @EXPLICIT files name packages by it)
    size: int | None = None
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    noarch: str | None = None  # "python" | "generic"
    license: str | None = None
    platforms: tuple[str, ...] = ()  # () = every platform of the lock
    requested: bool = False  # named by a MatchSpec of the spec (envbuild why follows depends from these)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def match_spec_name(match_spec: str) -> str:
    """The package a MatchSpec names (a spec's, or a record's depends): ``conda-forge::numpy >=1.26`` -> ``numpy``."""
    import re

    return re.split(r"[\s=<>!~\[]", match_spec.rpartition("::")[2].strip(), maxsplit=1)[0].lower()


@dataclass(frozen=True)
class CondaLock:
    """The conda part: the channels, the prefix images install into, and the solved records."""

    channels: tuple[str, ...]  # as the spec writes them (${VAR} placeholders kept)
    prefix: str  # where images install the environment
    packages: tuple[CondaPackage, ...] = ()  # sorted by name (then subdir)
    cuda: str | None = None  # the __cuda the solve assumed (the spec's [conda] cuda)

    def by_name(self) -> dict[str, CondaPackage]:
        return {p.name: p for p in self.packages}


@dataclass(frozen=True)
class BaseImage:
    """The base image: the reference the spec names and the digest it resolved to."""

    reference: str  # as the spec wrote it
    digest: str  # the platform manifest's digest
    packages: tuple[tuple[str, str], ...] | None = None  # its dpkg (name, version), sorted; None in a version 1 lock


@dataclass(frozen=True)
class BuildImage:
    """Where the sdists of build-dependencies compile ([python] build-image): its platform manifest, and what the
    lock read of it (the interpreter the build runs, the CUDA toolkit it declares)."""

    digest: str
    python: str  # the interpreter the build runs, found on the image's PATH: pythonX.Y (the target's)
    cuda: str | None = None  # its CUDA_VERSION (nvidia/cuda images set it), if any
    reference: str = ""  # in a view: the image; in the file, only where [python] build-image does not name it
    #                      (build-image = "auto": each target's pick)

    def kept(self, named: str | None) -> BuildImage:
        """This image as its target keeps it in the file: its reference only where [python] build-image (NAMED)
        is not it."""
        return replace(self, reference="") if self.reference == named else self


@dataclass(frozen=True)
class Lock:
    """One platform's view of the lock."""

    spec_hash: str
    name: str
    target: Target
    python: PythonLock
    env: tuple[tuple[str, str], ...] = ()  # sorted by name
    ignore_extra: tuple[str, ...] = ()  # [check] ignore-extra, carried so that a check needs only the lock
    cuda: CudaLock | None = None  # absent when there is no CUDA in the environment
    system: SystemLock | None = None  # absent when the target's distribution is not resolved
    base_image: BaseImage | None = None  # absent for a bare-metal target
    version: int = LOCK_VERSION
    platforms: tuple[str, ...] = ()  # every platform of the file this view comes from
    conda: CondaLock | None = None  # absent without [conda]
    image_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # [image] layers (lock version 5); () built-in plan
    build_image: BuildImage | None = None  # [python] build-image, for this platform (lock version 6)

    @property
    def keeps_edges(self) -> bool:
        """Does the lock record why each package is there (requested, via)?  A lock read from a version before
        EDGES_SINCE does not: the one place that knows which versions do."""
        return self.version >= EDGES_SINCE


@dataclass(frozen=True)
class TargetLock:
    """What the lock knows of one platform beyond the records: its distro, interpreter, base image and CUDA."""

    platform: str  # "linux/amd64", "linux/arm64", "macos/arm64"
    distro: str | None = None
    python_platform: str | None = None
    python_version: str | None = None  # the exact interpreter
    python_source: str | None = None  # "system" | "image" | "conda"
    base_digest: str | None = None  # the base image's manifest for this platform
    base_packages: tuple[tuple[str, str], ...] | None = None  # what that manifest's image holds (dpkg)
    apt_sources: tuple[str, ...] | None = None  # None: no apt part for this platform
    cuda: CudaLock | None = None
    apt_releases: tuple[AptRelease, ...] = ()
    build_image: BuildImage | None = None  # [python] build-image for this platform (its reference: in [python])


@dataclass(frozen=True)
class LockFile:
    """The whole envbuild.lock: the targets, and the records of every platform, each saying where it applies."""

    spec_hash: str
    name: str
    targets: tuple[TargetLock, ...]  # sorted by platform
    python: PythonLock  # its packages carry their platforms; version and source are per target
    env: tuple[tuple[str, str], ...] = ()
    ignore_extra: tuple[str, ...] = ()
    system: tuple[SystemPackage, ...] | None = None  # None: no platform has an apt part
    base_reference: str | None = None
    version: int = LOCK_VERSION
    conda: CondaLock | None = None  # its packages carry their platforms
    apt_key: str | None = None  # the armored key of [system] signed-by (lock version 3)
    image_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # [image] layers (lock version 5)

    @property
    def keeps_edges(self) -> bool:
        """Does the lock record why each package is there (requested, via)?  A lock read from a version before
        EDGES_SINCE does not: the one place that knows which versions do."""
        return self.version >= EDGES_SINCE

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(t.platform for t in self.targets)

    def target(self, platform: str) -> TargetLock:
        for target in self.targets:
            if target.platform == platform:
                return target
        raise KeyError(platform)

    def view(self, platform: str) -> Lock:
        """The lock as one platform sees it: its records only, its interpreter, base image digest and CUDA."""
        t = self.target(platform)
        packages = tuple(_python_view(p, platform) for p in self.python.packages if _on(p.platforms, platform))
        build = tuple(_python_view(p, platform) for p in self.python.build_packages if _on(p.platforms, platform))
        python = replace(self.python, packages=packages, build_packages=build, version=t.python_version,
                         source=t.python_source)
        system = None
        if t.apt_sources is not None:
            system = SystemLock(sources=t.apt_sources, packages=tuple(
                _everywhere(p) for p in self.system or () if _on(p.platforms, platform)),
                releases=t.apt_releases, key=self.apt_key)
        base = (BaseImage(self.base_reference, t.base_digest, t.base_packages)
                if self.base_reference is not None and t.base_digest is not None else None)
        conda = None
        if self.conda is not None:
            conda = replace(self.conda, packages=tuple(_everywhere(p) for p in self.conda.packages
                                                       if _on(p.platforms, platform)))
        return Lock(spec_hash=self.spec_hash, name=self.name,
                    target=Target(platform=t.platform, distro=t.distro, python_platform=t.python_platform),
                    python=python, env=self.env, ignore_extra=self.ignore_extra, cuda=t.cuda, system=system,
                    base_image=base, version=self.version, platforms=self.platforms, conda=conda,
                    image_layers=self.image_layers,
                    build_image=replace(t.build_image, reference=t.build_image.reference or self.python.build_image
                                        or "")
                    if t.build_image is not None else None)

    @classmethod
    def of(cls, lock: Lock) -> LockFile:
        """The file that holds one platform's LOCK (a single-platform lock)."""
        platform = lock.target.platform
        target = TargetLock(platform=platform, distro=lock.target.distro, python_platform=lock.target.python_platform,
                            python_version=lock.python.version, python_source=lock.python.source,
                            base_digest=lock.base_image.digest if lock.base_image else None,
                            base_packages=lock.base_image.packages if lock.base_image else None,
                            apt_sources=lock.system.sources if lock.system is not None else None, cuda=lock.cuda,
                            apt_releases=lock.system.releases if lock.system is not None else (),
                            build_image=lock.build_image.kept(lock.python.build_image) if lock.build_image
                            else None)
        return cls(spec_hash=lock.spec_hash, name=lock.name, targets=(target,),
                   python=replace(lock.python, version=None, source=None), env=lock.env,
                   ignore_extra=lock.ignore_extra, system=lock.system.packages if lock.system is not None else None,
                   base_reference=lock.base_image.reference if lock.base_image else None, version=lock.version,
                   conda=lock.conda, apt_key=lock.system.key if lock.system is not None else None,
                   image_layers=lock.image_layers)


_R = TypeVar("_R", PythonPackage, SystemPackage, CondaPackage)


def _on(platforms: tuple[str, ...], platform: str) -> bool:
    return not platforms or platform in platforms


def _everywhere(record: _R) -> _R:
    """RECORD as a view shows it (its platforms are the view's): the same object when it applies everywhere."""
    return record if not record.platforms else replace(record, platforms=())


def _python_view(package: PythonPackage, platform: str) -> PythonPackage:
    if not package.files or (not package.platforms and not any(f.platforms for f in package.files)):
        return _everywhere(package)  # nothing differs by platform: shared, not copied (a view of 500 is cheap)
    files = tuple(replace(f, platforms=()) for f in package.files if _on(f.platforms, platform))
    return replace(package, files=files, hashes=tuple(sorted({f.hash for f in files})), platforms=())
