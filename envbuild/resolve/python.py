"""Resolve the spec's Python requirements into hash-pinned packages for the *target* platform and Python.

The resolver itself (uv by default, or pip-tools) sits behind an adapter with one function,
``compile(CompileRequest) -> list[PythonPackage]`` (``envbuild.adapters.resolver``, beside the adapters).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import replace

from envbuild.adapters.resolver import CompileRequest, Resolver
from envbuild.errors import UnsupportedTarget
from envbuild.lockfile import PythonLock, PythonPackage
from envbuild.platforms import PLATFORMS, host
from envbuild.spec import Distro, Spec, expand_url
from envbuild.versions import within


def python_platform(platform: str, distro: Distro | None) -> str:
    """The wheel platform of the target: its machine and, on Linux, the manylinux level of its distro's glibc."""
    return PLATFORMS[platform].python_platform(distro.glibc if distro else None)


def _adapter(resolver: str) -> Resolver:
    if resolver == "pip-tools":
        from envbuild.adapters import piptools

        return piptools.compile
    from envbuild.adapters import uv

    return uv.compile


def host_mismatch(spec: Spec) -> str | None:
    """Why the host cannot stand in for the targets (pip-tools resolves for the interpreter it runs in)."""
    env = spec.environment
    if len(env.platforms) > 1:
        return f"the targets are {', '.join(env.platforms)}"
    here = host()
    if here != env.platform:
        return f"the target is {env.platform} but this host is {sys.platform}/{platform.machine()}"
    host_python = ".".join(map(str, sys.version_info[:3]))
    if not within(host_python, env.python):
        return f"the target is Python {env.python} but pip-compile runs on Python {host_python}"
    return None


def resolve_python(spec: Spec, platform: str, *, distro: Distro | None, previous: PythonLock | None = None,
                   upgrade: bool = False, upgrade_packages: tuple[str, ...] = (), exact_python: str | None = None,
                   source: str | None = None, network_share: int = 1,
                   provided: tuple[tuple[str, str], ...] = (), given: tuple[PythonPackage, ...] | None = None,
                   together: tuple[PythonPackage, ...] = ()) -> PythonLock:
    """The spec's Python requirements pinned for PLATFORM (whose glibc comes from DISTRO) and the interpreter
    EXACT_PYTHON (else the spec's version); PREVIOUS's pins are preferences unless freed by -U / -P.  GIVEN: the
    pins already resolved (this platform's part of the resolution of every platform at once); else TOGETHER, that
    resolution's pins for this platform where it has no part (a version with no file that installs here): the
    platform is resolved on its own, preferring them."""
    py = spec.python
    if py.resolver == "pip-tools":
        why = host_mismatch(spec)
        if why:
            raise UnsupportedTarget(
                f"pip-tools cannot lock for another platform or Python ({why}); pip-compile resolves for the "
                'interpreter it runs in. Set [python] resolver = "uv", which locks for any target.'
            )
    request = compile_request(spec, python_platform(platform, distro), exact_python or spec.environment.python,
                              previous=previous, upgrade=upgrade, upgrade_packages=upgrade_packages,
                              network_share=network_share, provided=provided)
    packages = given
    if together:  # the platform on its own, at the versions of every platform's resolution where it can
        request = replace(request, preferences=together, upgrade=False, upgrade_packages=())
    if packages is None:
        packages = tuple(_adapter(py.resolver)(request)) if py.requirements else ()
    _foreign_wheels(packages, platform, distro, exact_python or spec.environment.python, py.resolver)
    build = _build_group(request, packages, previous) if py.build_dependencies and packages else ()
    return PythonLock(requested=spec.environment.python, resolver=py.resolver, index_url=py.index_url,
                      extra_index_urls=py.extra_index_urls, packages=packages, version=exact_python,
                      source=source if exact_python else None,
                      indexes=py.indexes,
                      build_dependencies=py.build_dependencies, no_build_isolation=py.no_build_isolation,
                      build_env=py.build_env, build_packages=build, build_image=py.build_image)


def compile_request(spec: Spec, python_platform: str, python_version: str, *, previous: PythonLock | None,
                    upgrade: bool = False, upgrade_packages: tuple[str, ...] = (), network_share: int = 1,
                    provided: tuple[tuple[str, str], ...] = (), environments: tuple[str, ...] = ()) -> CompileRequest:
    """What the resolver is asked for the spec's Python requirements (the indexes' URLs expanded)."""
    py = spec.python
    return CompileRequest(
        requirements=py.requirements,
        python_version=python_version,
        python_platform=python_platform,
        index_url=expand_url(py.index_url, "[python] -> index-url"),
        extra_index_urls=tuple(expand_url(u, f"[python] -> extra-index-urls[{i}]")
                               for i, u in enumerate(py.extra_index_urls)),
        preferences=previous.packages if previous else (),
        upgrade=upgrade,
        upgrade_packages=upgrade_packages,
        network_share=network_share,
        provided=provided,
        indexes=tuple((i.name, expand_url(i.url, f"[python] -> indexes -> {i.name}"), i.explicit)
                      for i in py.indexes),
        sources=py.sources,
        build_dependencies=py.build_dependencies,
        build_env=py.build_env,
        root=spec.root,
        local_files=py.local_files,
        environments=environments,
    )


def _foreign_wheels(packages: tuple[PythonPackage, ...], platform: str, distro: Distro | None, python: str,
                    resolver: str) -> None:
    """A wheel the spec names by path or URL is taken as given by the resolvers, whatever its tags: one that cannot
    install on PLATFORM is said now, not when an image build or a sync fails on it."""
    from envbuild.errors import ResolutionError
    from envbuild.resolve.wheels import installs, supported_tags

    named = [p for p in packages if p.direct_url or p.path]
    if not named:
        return
    supported = supported_tags(platform, distro, python)
    for package in named:
        for f in package.files:
            if not installs(f.name, supported):
                raise ResolutionError(resolver, f"{package.name} @ {package.path or package.direct_url}: {f.name} "
                                      f"does not install on {platform} (Python {python}); limit it to the "
                                      f"platforms it is for with a marker, e.g. "
                                      f"`; platform_machine != '{PLATFORMS[platform].machine}'`, or add a wheel for "
                                      f"{platform}")


def build_requirements(build_dependencies: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[str, ...]:
    """The build group's requirements: what the sdists of build-dependencies need to build, every one of them named
    (their builds run without isolation, so nothing else installs a backend: name setuptools too, to lock it)."""
    return tuple(sorted({text for _, reqs in build_dependencies for text in reqs}))


def _build_group(request: CompileRequest, runtime: tuple[PythonPackage, ...],
                 previous: PythonLock | None) -> tuple[PythonPackage, ...]:
    """The build group: [python] build-dependencies resolved as their own locked group for the same target, at the
    runtime's versions wherever both hold a package (as uv's match-runtime), so that a kernel is compiled against
    the torch it runs with."""
    from envbuild.errors import ResolutionError

    pins = tuple((p.name, p.version) for p in runtime if not (p.direct_url or p.path or p.vcs))
    group = replace(request, requirements=build_requirements(request.build_dependencies), constraints=pins,
                    preferences=previous.build_packages if previous else (), local_files=(), provided=())
    try:
        return tuple(_adapter("uv")(group))
    except ResolutionError as exc:
        raise ResolutionError(exc.resolver, f"[python] build-dependencies, at the runtime's versions: {exc.detail}",
                              exc.full) from None
