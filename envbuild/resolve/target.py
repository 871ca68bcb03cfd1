"""Resolve one target platform: its base image, its apt closure and exact interpreter, its Python pins, its CUDA.

The Python resolution needs the interpreter's exact version, which the image or the apt indexes give.  On a
re-lock the previous lock's version is the likely answer, so uv runs with it while the apt closure resolves; when
the indexes say otherwise, uv runs again with the right version.  A macOS target is its Python pins alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from envbuild.errors import EnvbuildError
from envbuild.lockfile import BuildImage, CondaLock, CudaLock, Lock, LockFile, PythonLock, PythonPackage, SystemLock
from envbuild.platforms import PLATFORMS
from envbuild.resolve.options import Options
from envbuild.versions import within

if TYPE_CHECKING:
    from concurrent.futures import Future

    from envbuild.resolve.image import ImageFacts
    from envbuild.resolve.system import AptIndexes, Trust
    from envbuild.resolve.universal import Universal
    from envbuild.spec import Distro, Spec


@dataclass(frozen=True)
class Resolved:
    platform: str
    python: PythonLock
    distro: Distro | None = None
    image: ImageFacts | None = None
    system: SystemLock | None = None
    cuda: CudaLock | None = None
    conda: CondaLock | None = None
    warnings: tuple[str, ...] = ()
    build_image: BuildImage | None = None  # [python] build-image for this platform


Stages = list[tuple[str, float]]


@dataclass(frozen=True)
class Prepared:
    """What a target's resolution needs from the network first: its base image and apt index list."""

    platform: str
    image: ImageFacts | None = None
    distro: Distro | None = None
    indexes: AptIndexes | None = None  # None: no apt part (macOS)
    trust: Trust | None = None  # whom its apt sources are signed by (the spec's signed-by key, read once)
    build_image: BuildImage | None = None  # [python] build-image: its manifest and config


def prepare_target(spec: Spec, platform: str, stages: Stages) -> Prepared:
    """The base image and the apt Release files of PLATFORM.  Run before any resolver starts: getaddrinfo calls
    that overlap uv's (A and AAAA queries on one socket) lose a packet on some networks (the conntrack race of
    container hosts) and then wait out resolv.conf's 5 s timeout, which a re-lock then pays every time."""
    if not PLATFORMS[platform].linux:
        return Prepared(platform=platform)
    image = _image(spec, platform, stages)
    distro = spec.environment.distro or (image.distro if image else None)
    if distro is None:  # the spec demands a distro or a base image, and an image always tells its distro
        raise EnvbuildError("the target's distribution is unknown: set [environment] distro")
    from envbuild.resolve.system import index_files_for

    begun = time.monotonic()
    trust = trust_of(spec)
    indexes = index_files_for(distro, platform, mirror=spec.system.mirror, security_mirror=spec.system.security_mirror,
                              trust=trust)
    stages.append((_stage(spec, platform, "apt indexes"), time.monotonic() - begun))
    build_image = None
    if spec.python.build_image is not None and spec.python.build_image != "auto":  # auto: once pinned (below)
        from envbuild.resolve.build_image import resolve_build_image

        begun = time.monotonic()
        build_image = resolve_build_image(spec.python.build_image, platform, spec.environment.python)
        stages.append((_stage(spec, platform, "build image"), time.monotonic() - begun))
    return Prepared(platform=platform, image=image, distro=distro, indexes=indexes, trust=trust,
                    build_image=build_image)


def trust_of(spec: Spec) -> Trust:
    """Whom the spec's apt sources must be signed by ([system] signed-by, insecure-unsigned)."""
    from envbuild.adapters.openpgp import Keyring
    from envbuild.resolve.system import Trust

    system = spec.system
    if system.signed_by is None:
        return Trust(insecure=system.insecure_unsigned)
    path = spec.root / system.signed_by
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise EnvbuildError(f"[system] signed-by: {system.signed_by}: cannot read ({exc.strerror})") from None
    return Trust(signed_by=Keyring(system.signed_by, (key,)))


def solve_conda(spec: Spec, platform: str, distro: Distro | None, previous: LockFile | None, *, options: Options,
                stages: Stages) -> CondaLock:
    """PLATFORM's conda environment (for DISTRO's __glibc), preferring PREVIOUS's records."""
    from envbuild.resolve.conda import resolve_conda

    before = previous.view(platform).conda if previous is not None and platform in previous.platforms else None
    return resolve_conda(spec, platform, distro, before, upgrade=options.upgrade,
                         upgrade_packages=options.upgrade_packages, stages=stages,
                         stage=_stage(spec, platform, "conda"))


def resolve_target(spec: Spec, prepared: Prepared, previous: Lock | None, options: Options, stages: Stages, *,
                   preferences: PythonLock | None = None, conda: CondaLock | None = None,
                   universal: Future[Universal | None] | None = None) -> Resolved:
    """PREPARED's platform part of the lock.  PREVIOUS (the old lock's view of it) gives preferences, unless
    PREFERENCES (another platform's pins, for consistent versions) does.  CONDA is the platform's conda environment
    (``solve_conda``), solved first: when it holds Python, that is the interpreter the pip layer is resolved for.
    UNIVERSAL (the resolution of every platform at once, under way) gives the Python pins where it can."""
    platform, distro, image = prepared.platform, prepared.distro, prepared.image
    given = _given_interpreter(spec, image, conda)
    provided = _provided(spec, conda)
    if distro is None:  # macOS: no apt, no CUDA
        python = _python(spec, platform, None, previous=previous.python if previous else None,
                         preferences=preferences, options=options, stages=stages,
                         exact=given[0] if given else None, source=given[1] if given else None, provided=provided,
                         universal=universal)
        _no_overlap(spec, conda, python)
        return Resolved(platform=platform, python=python, conda=conda)
    system, python = _system_and_python(spec, prepared, distro, given=given, provided=provided, previous=previous,
                                        preferences=preferences, options=options, stages=stages, universal=universal)
    _no_overlap(spec, conda, python)
    from envbuild.resolve.cuda import resolve_cuda

    cuda, warnings = resolve_cuda(spec.cuda.version, python.packages, dict(image.env) if image else None,
                                  conda=conda.packages if conda else ())
    build_image = prepared.build_image
    if spec.python.build_image is not None:
        from envbuild.resolve.build_image import auto_build_image, check_build_image

        if build_image is None:  # "auto": the devel image of the locked torch and CUDA
            begun = time.monotonic()
            build_image = auto_build_image(platform, python, cuda, spec.environment.python)
            stages.append((_stage(spec, platform, "build image"), time.monotonic() - begun))
        check_build_image(build_image.reference, build_image, cuda)
    return Resolved(platform=platform, python=python, distro=distro, image=image, system=system, cuda=cuda,
                    conda=conda, build_image=build_image,
                    warnings=tuple(f"{platform}: {w}" if len(spec.environment.platforms) > 1 else w for w in warnings))


def _given_interpreter(spec: Spec, image: ImageFacts | None, conda: CondaLock | None) -> tuple[str, str] | None:
    """(exact version, source) of an interpreter the target already has: the conda environment's, else the base
    image's (PYTHON_VERSION); None: the distro's, which the apt closure brings."""
    from envbuild.resolve.conda import python_record

    record = python_record(conda)
    if record is not None:
        if not within(record.version, spec.environment.python):
            raise EnvbuildError(f"[environment] python = {spec.environment.python!r}, but [conda] solves to Python "
                                f"{record.version}; pin python={spec.environment.python} in [conda] packages")
        return record.version, "conda"
    if image is not None and image.python_version:
        return image.python_version, "image"
    return None


def _provided(spec: Spec, conda: CondaLock | None) -> tuple[tuple[str, str], ...]:
    """The Python distributions the pip layer takes from the conda environment ([python] from-conda), pinned."""
    if not spec.python.from_conda:
        return ()
    have = {str(canonicalize_name(p.name)): p.version for p in conda.packages} if conda else {}
    missing = [n for n in spec.python.from_conda if n not in have]
    if missing:
        raise EnvbuildError(f"[python] from-conda names {', '.join(missing)}, which the conda environment does not "
                            "hold; add it to [conda] packages or remove it from from-conda")
    return tuple((n, have[n]) for n in spec.python.from_conda)


def _no_overlap(spec: Spec, conda: CondaLock | None, python: PythonLock) -> None:
    """A distribution in both the conda environment and the pip layer would be installed twice, one over the
    other: an error naming both, unless [python] from-conda says the conda one serves the pip layer."""
    if conda is None:
        return
    records = {str(canonicalize_name(p.name)): p for p in conda.packages}
    for package in python.packages:
        record = records.get(package.name)
        if record is not None and package.name not in spec.python.from_conda:
            raise EnvbuildError(
                f"{package.name} is both a conda package ({record.name} {record.version} {record.build}) and a "
                f"Python package of the pip layer ({package.name}=={package.version}); add it to [python] from-conda "
                "to use the conda one, or drop it from one side")


def _image(spec: Spec, platform: str, stages: Stages) -> ImageFacts | None:
    env = spec.environment
    if env.base_image is None:
        return None
    from envbuild.resolve.image import promised_interpreter, resolve_image

    begun = time.monotonic()
    image = resolve_image(env.base_image, platform)
    stages.append((_stage(spec, platform, "image"), time.monotonic() - begun))
    if env.distro is not None and env.distro.name != image.distro.name:
        raise EnvbuildError(f"[environment] distro = {env.distro.name!r}, but {env.base_image} is "
                            f"{image.distro.name} (its os-release); remove distro or fix it")
    if image.python_version and not within(image.python_version, env.python):
        raise EnvbuildError(f"[environment] python = {env.python!r}, but {env.base_image} provides Python "
                            f"{image.python_version} (PYTHON_VERSION)")
    promised = promised_interpreter(dict(image.env))
    if promised is not None and image.python_path is None:
        command, places = promised
        raise EnvbuildError(f"{env.base_image}: its config promises Python {image.python_version} (PYTHON_VERSION), "
                            f"but no {command} is on its PATH ({', '.join('/' + p for p in places)}), so a build "
                            "could not run it; use an image that has it")
    return image


def _system_and_python(spec: Spec, prepared: Prepared, distro: Distro, *, given: tuple[str, str] | None,
                       provided: tuple[tuple[str, str], ...], previous: Lock | None, preferences: PythonLock | None,
                       options: Options, stages: Stages,
                       universal: Future[Universal | None] | None) -> tuple[SystemLock, PythonLock]:
    from concurrent.futures import ThreadPoolExecutor

    from envbuild.resolve.system import resolve_system

    env = spec.environment
    platform, image = prepared.platform, prepared.image
    prev_python = previous.python if previous else None
    source = given[1] if given else "system"
    guess = given[0] if given else None
    if (guess is None and prev_python is not None and prev_python.source == "system" and previous is not None
            and previous.target.distro == distro.name and prev_python.version
            and within(prev_python.version, env.python)):
        guess = prev_python.version

    def python_for(exact: str | None) -> PythonLock:
        return _python(spec, platform, distro, previous=prev_python, preferences=preferences, options=options,
                       stages=stages, exact=exact, source=source, provided=provided, universal=universal)

    installed = dict(image.installed) if image else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        speculative = pool.submit(python_for, guess) if guess else None
        begun = time.monotonic()
        system, exact = resolve_system(distro, platform, spec.system.packages, None if given else env.python,
                                       mirror=spec.system.mirror, security_mirror=spec.system.security_mirror,
                                       installed=installed, indexes=prepared.indexes,
                                       trust=prepared.trust or trust_of(spec))
        stages.append((_stage(spec, platform, "system (apt)"), time.monotonic() - begun))
        exact = given[0] if given else exact
        if speculative is not None and exact == guess:
            return system, speculative.result()
    return system, python_for(exact)


def _python(spec: Spec, platform: str, distro: Distro | None, *, previous: PythonLock | None,
            preferences: PythonLock | None, options: Options, stages: Stages, exact: str | None,
            source: str | None, provided: tuple[tuple[str, str], ...] = (),
            universal: Future[Universal | None] | None = None) -> PythonLock:
    from envbuild.resolve.python import resolve_python

    begun = time.monotonic()
    preferred = previous
    if preferred is None and options.prefer:  # what an environment has installed (envbuild init)
        preferred = PythonLock(requested=spec.environment.python, resolver=spec.python.resolver,
                               index_url=spec.python.index_url,
                               packages=tuple(PythonPackage(name, version, ()) for name, version in options.prefer))
    if preferences is not None:  # another platform's pins first, then this platform's own previous ones
        own = {p.name: p for p in previous.packages} if previous else {}
        own.update({p.name: p for p in preferences.packages})
        preferred = replace(preferences, packages=tuple(own[name] for name in sorted(own)))
    given: tuple[PythonPackage, ...] | None = None
    together: tuple[PythonPackage, ...] = ()
    every = universal.result() if universal is not None and preferences is None else None
    if every is not None:  # this platform's part of the resolution of every platform, where it has one
        from envbuild.resolve.universal import pins, select

        given = select(every, platform, distro, exact or spec.environment.python)
        together = pins(every, platform, exact or spec.environment.python) if given is None else ()
    result = resolve_python(spec, platform, distro=distro, previous=preferred, upgrade=options.upgrade,
                            upgrade_packages=options.upgrade_packages, exact_python=exact, source=source,
                            network_share=options.network_share, provided=provided, given=given,
                            together=together)
    stages.append((_stage(spec, platform, f"python ({spec.python.resolver})"), time.monotonic() - begun))
    return result


def _stage(spec: Spec, platform: str, name: str) -> str:
    return f"{platform} {name}" if len(spec.environment.platforms) > 1 else name
