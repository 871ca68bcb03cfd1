"""The spec's model: frozen dataclasses, built once from ``envbuild.toml`` by ``envbuild.spec.load``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envbuild.paths import LOCK_FILE
from envbuild.platforms import PLATFORMS, Platform
from envbuild.pysources import PythonIndex, built_in_environment

SPEC_FILE = "envbuild.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_INDEX = "https://pypi.org/simple"
RESOLVERS = ("uv", "pip-tools")
DEFAULT_IGNORE_EXTRA = ("pip", "setuptools", "wheel")



@dataclass(frozen=True)
class Distro:
    """A target distribution release: ``debian:12`` (bookworm)."""

    id: str
    version: str
    codename: str
    glibc: str
    python3: str

    @property
    def name(self) -> str:
        return f"{self.id}:{self.version}"


@dataclass(frozen=True)
class Environment:
    """What the environment is for: its name, platforms, distro, interpreter and base image."""

    name: str
    platforms: tuple[str, ...]  # the targets, in the spec's order (the first one leads a multi-platform lock)
    python: str
    base_image: str | None = None  # for the Linux platforms
    distro: Distro | None = None  # for the Linux platforms (else read from the base image)

    @property
    def platform(self) -> str:
        """The first (for most specs, the only) target."""
        return self.platforms[0]

    def targets(self) -> tuple[Platform, ...]:
        return tuple(PLATFORMS[p] for p in self.platforms)

    @property
    def linux(self) -> bool:
        """Does any target run Linux (so apt, CUDA and a base image apply)?"""
        return any(PLATFORMS[p].linux for p in self.platforms)


@dataclass(frozen=True)
class PythonSpec:
    """[python]: the requirements, the resolver and the indexes they are resolved against."""

    requirements: tuple[str, ...]  # canonical PEP 508 strings, inline and from requirements files, sorted
    requirements_files: tuple[str, ...] = ()  # as written, relative to the spec
    index_url: str = DEFAULT_INDEX  # may hold ${VAR} placeholders; expanded only when resolving
    extra_index_urls: tuple[str, ...] = ()
    resolver: str = "uv"
    from_conda: tuple[str, ...] = ()  # Python distributions the conda environment provides (the pip layer keeps them)
    indexes: tuple[PythonIndex, ...] = ()  # in the spec's order (uv searches the non-explicit ones first)
    sources: tuple[tuple[str, str], ...] = ()  # (package, index name): that package only from that index; sorted
    build_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (sdist, requirements its build needs); sorted
    no_build_isolation: tuple[str, ...] = ()  # sdists built in the environment itself at install time; sorted
    build_env: tuple[tuple[str, str], ...] = ()  # environment of sdist builds; sorted
    build_image: str | None = None  # where the sdists of build-dependencies compile (a CUDA devel image)
    local_files: tuple[tuple[str, str], ...] = ()  # (package, path relative to the spec) of `name @ ./x.whl`

    @property
    def built_in_environment(self) -> tuple[str, ...]:
        """The sdists that images build against the locked environment (the lock's own rule, one place)."""
        return built_in_environment(self.build_dependencies, self.no_build_isolation)


@dataclass(frozen=True)
class SystemSpec:
    """[system]: the apt packages and the mirrors (and key) they come from."""

    packages: tuple[str, ...] = ()
    mirror: str | None = None  # a URL, or "snapshot:YYYYMMDDTHHMMSSZ"
    security_mirror: str | None = None  # a URL, or "none"
    signed_by: str | None = None  # the key of the mirror(s) the spec names, as written (relative to the spec)
    insecure_unsigned: bool = False  # take unsigned Release files (air-gapped mirrors); the lock says so


@dataclass(frozen=True)
class CudaSpec:
    """[cuda]: the CUDA version the environment is for ("auto": derived from the pins)."""

    version: str = "auto"


@dataclass(frozen=True)
class CondaSpec:
    """[conda]: channels and MatchSpecs, the prefix, and the driver's CUDA for the solve."""

    channels: tuple[str, ...] = ()  # as written: names, or URLs with ${VAR} placeholders
    packages: tuple[str, ...] = ()  # MatchSpecs, as written
    cuda: str | None = None  # the __cuda virtual package of the targets
    prefix: str = "/opt/conda"  # where images install the environment

    @property
    def present(self) -> bool:
        return bool(self.packages)


@dataclass(frozen=True)
class CheckSpec:
    """[check]: what the drift check leaves alone."""

    ignore_extra: tuple[str, ...] = DEFAULT_IGNORE_EXTRA


@dataclass(frozen=True)
class Spec:
    """The whole spec, validated: every part, and where it was read from."""

    path: Path  # the file it was read from (envbuild.toml or pyproject.toml)
    environment: Environment
    python: PythonSpec
    system: SystemSpec = SystemSpec()
    cuda: CudaSpec = CudaSpec()
    env: tuple[tuple[str, str], ...] = ()
    check: CheckSpec = field(default_factory=CheckSpec)
    conda: CondaSpec = field(default_factory=CondaSpec)
    image_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()  # [image] layers: (name, patterns), in order

    @property
    def root(self) -> Path:
        return self.path.parent

    def default_lock_path(self) -> Path:
        return self.root / LOCK_FILE


