"""The resolver: the spec (and the previous lock) -> a whole lock, ``LockFile``.  One entry, ``resolve``; its parts
are one module each: ``target`` (one platform: its base image, ``image``; its apt closure, ``system`` and
``closure``; its Python pins, ``python``; its conda environment, ``conda``; its ``cuda``), ``merge`` (the platforms
made consistent, then one lock of them) and ``builds`` (the sdists the lock leaves to build).

``prefetch`` starts what needs the spec alone (reading the conda channels) before the rest is even imported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from envbuild.resolve.options import Options

if TYPE_CHECKING:
    import threading

    from envbuild.lockfile import CondaLock, LockFile, PythonLock
    from envbuild.resolve.builds import Sdist
    from envbuild.resolve.target import Resolved
    from envbuild.resolve.universal import Universal
    from envbuild.spec import Distro, Spec

__all__ = ["Options", "Resolution", "prefetch", "resolve"]


@dataclass(frozen=True)
class Resolution:
    """The new lock, what the resolution said on the way, how long each stage took, and the sdists it leaves."""

    lock: LockFile
    warnings: tuple[str, ...]
    stages: tuple[tuple[str, float], ...]  # wall time of each resolver stage (they may overlap)
    sdists: tuple[Sdist, ...]  # packages compiled from an sdist at install time


def prefetch(spec: Spec) -> threading.Thread | None:
    """Start reading the spec's conda channels, in a thread (None: the spec has no [conda]); hand it to resolve."""
    if not spec.conda.present:
        return None
    from envbuild.resolve.conda import prefetch as read_channels

    return read_channels(spec)


def resolve(spec: Spec, previous: LockFile | None, options: Options, *, reading: threading.Thread | None = None,
            strict_wheels: bool = False) -> Resolution:
    """SPEC resolved for each of its platforms, made consistent and merged into one lock.  PREVIOUS's pins are
    kept where the spec allows (OPTIONS frees some or all).  STRICT_WHEELS: a package only an sdist provides is an
    error.  An sdist that compiles CUDA kernels with no [python] build-image to compile on is a warning."""
    from envbuild.resolve.builds import needs_nvcc, refuse, sdists
    from envbuild.resolve.merge import merge
    from envbuild.spec import spec_hash

    stages: list[tuple[str, float]] = []
    results = _resolve_all(spec, previous, options, stages)
    if reading is not None:
        reading.join()  # done with the solves' own reads: no thread outlives the lock
    warnings = [w for result in results.values() for w in result.warnings]
    new = merge(spec, results, spec_hash(spec))
    built = sdists(new)
    if strict_wheels:
        refuse(built)
    warnings += needs_nvcc(new, built)
    if spec.system.insecure_unsigned:
        warnings.append("[system] insecure-unsigned: the apt Release files were taken without checking a "
                        "signature, so nothing vouches for the packages' sha256s (the lock records it)")
    return Resolution(new, tuple(warnings), tuple(stages), built)


def _resolve_all(spec: Spec, previous: LockFile | None, options: Options,
                 stages: list[tuple[str, float]]) -> dict[str, Resolved]:
    """Every platform of the spec: first what each needs from the network (its base image, its apt indexes), then
    the resolutions, all platforms at once (threads: uv and the apt closures overlap; with uv, one universal Python
    resolution that each platform takes its part of), then made consistent: the later platforms prefer the first
    one's pins."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from envbuild.platforms import PLATFORMS
    from envbuild.resolve.merge import make_consistent
    from envbuild.resolve.target import prepare_target, resolve_target, solve_conda
    from envbuild.resolve.universal import applies, took_part

    platforms = spec.environment.platforms
    with ThreadPoolExecutor(max_workers=len(platforms)) as pool, \
            ThreadPoolExecutor(max_workers=len(platforms)) as conda_pool, \
            ThreadPoolExecutor(max_workers=1) as universal_pool:
        def solve(platform: str, distro: Distro | None) -> Future[CondaLock]:
            return conda_pool.submit(solve_conda, spec, platform, distro, previous, options=options, stages=stages)

        # a conda solve needs only the distro (its __glibc): with one the spec names, it starts now, beside the
        # base image and apt indexes; else once the base image has told it.  Each platform is solved once.
        conda = {p: solve(p, spec.environment.distro if PLATFORMS[p].linux else None) for p in platforms
                 if spec.conda.present and (spec.environment.distro or not PLATFORMS[p].linux)}
        prepared = dict(zip(platforms, pool.map(lambda p: prepare_target(spec, p, stages), platforms), strict=True))
        conda.update({p: solve(p, prepared[p].distro) for p in platforms if spec.conda.present and p not in conda})
        # one Python resolution for every platform, where the resolver can (uv); each platform takes its part
        together = universal_pool.submit(_universal, spec, previous, options, stages) if applies(spec) else None

        def one(platform: str, preferences: PythonLock | None = None, opts: Options = options) -> Resolved:
            before = previous.view(platform) if previous is not None and platform in previous.platforms else None
            return resolve_target(spec, prepared[platform], before, opts, stages, preferences=preferences,
                                  conda=conda[platform].result() if platform in conda else None,
                                  universal=together)

        results = dict(zip(platforms, pool.map(one, platforms), strict=True))
        universal = together.result() if together is not None else None
        if universal is not None and took_part(universal, platforms[0], results[platforms[0]].python):
            return results  # every platform took its part, or was resolved on its own preferring the same pins
        # the first platform's pins lead: the others are asked again, preferring them, without -U/-P (which the
        # first platform's resolution already applied)
        return make_consistent(results, platforms[0], lambda platform, lead: one(platform, lead, Options()))


def _universal(spec: Spec, previous: LockFile | None, options: Options,
               stages: list[tuple[str, float]]) -> Universal | None:
    """The universal resolution, or None when uv finds none (each platform is then resolved on its own, and says
    why in its own terms)."""
    from envbuild.errors import ResolutionError
    from envbuild.resolve.universal import resolve_universal

    try:
        return resolve_universal(spec, previous, options, stages)
    except ResolutionError:
        return None
