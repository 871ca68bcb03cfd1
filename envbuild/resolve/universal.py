"""One Python resolution for every platform of the spec, then each platform's part of it.

uv resolves all the targets at once (``uv pip compile --universal``, restricted by ``[tool.uv] environments`` to one
environment per target: its OS, machine and Python release), so a package has one version on every platform unless
the requirements fork it.  Each platform's part is the packages whose marker holds there, each with the files that
install there (its wheels by their tags, and the sdist), which is what a resolution for that platform alone records.

What markers cannot say: a Linux target's glibc (its manylinux level) and a macOS target's release.  A universal
version may have no file that installs on a target (a wheel for a newer glibc or macOS only, no sdist); that target
is then resolved on its own, preferring the universal versions, as before, and the lock records its versions per
platform.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from envbuild.lockfile import LockFile, PythonLock, PythonPackage
from envbuild.platforms import PLATFORMS

if TYPE_CHECKING:
    from envbuild.resolve.options import Options
    from envbuild.spec import Distro, Spec


@dataclass(frozen=True)
class Universal:
    """The universal resolution: each package with all its files, and the marker of those not everywhere."""

    packages: tuple[PythonPackage, ...]
    markers: Mapping[tuple[str, str], str]  # (name, version) -> where it is installed


def applies(spec: Spec) -> bool:
    """Are the spec's platforms resolved in one pass?  Several platforms and uv; not with [conda], whose
    environment (and interpreter) is solved per platform and feeds the pip layer's resolution."""
    return (len(spec.environment.platforms) > 1 and spec.python.resolver == "uv" and not spec.conda.present
            and bool(spec.python.requirements))


def environments(spec: Spec) -> tuple[str, ...]:
    """One PEP 508 marker per target platform: its OS, machine and Python release."""
    python = spec.environment.python
    version = (f"python_full_version == '{python}'" if python.count(".") >= 2
               else f"python_version == '{python}'")
    return tuple(f"sys_platform == '{_sys_platform(p)}' and platform_machine == '{PLATFORMS[p].machine}' "
                 f"and {version}" for p in spec.environment.platforms)


def resolve_universal(spec: Spec, previous: LockFile | None, options: Options,
                      stages: list[tuple[str, float]]) -> Universal:
    """The spec's Python requirements resolved once for all its platforms, PREVIOUS's pins preferred (the first
    platform's where two differ) unless OPTIONS frees them."""
    from envbuild.adapters import uv
    from envbuild.resolve.python import compile_request

    begun = time.monotonic()
    preferred: dict[str, PythonPackage] = {}
    for platform in reversed(spec.environment.platforms):
        if previous is not None and platform in previous.platforms:
            preferred.update({p.name: p for p in previous.view(platform).python.packages})
    before = PythonLock(requested=spec.environment.python, resolver="uv", index_url=spec.python.index_url,
                        packages=tuple(preferred[n] for n in sorted(preferred))) if preferred else None
    request = compile_request(spec, "", spec.environment.python, previous=before, upgrade=options.upgrade,
                              upgrade_packages=options.upgrade_packages, environments=environments(spec))
    packages, markers = uv.compile_universal(request)
    stages.append(("python (uv, every platform at once)", time.monotonic() - begun))
    return Universal(tuple(packages), markers)


def pins(universal: Universal, platform: str, python: str) -> tuple[PythonPackage, ...]:
    """The universal resolution's packages installed on PLATFORM with Python PYTHON (their markers hold there)."""
    from packaging.markers import Marker

    env = _marker_environment(platform, python)
    return tuple(p for p in universal.packages
                 if (p.name, p.version) not in universal.markers
                 or Marker(universal.markers[(p.name, p.version)]).evaluate(env))


def took_part(universal: Universal, platform: str, python: PythonLock) -> bool:
    """Did PLATFORM's resolution (PYTHON) come out as its part of UNIVERSAL (the same versions)?"""
    version = python.version or python.requested
    return ({(p.name, p.version) for p in python.packages}
            == {(p.name, p.version) for p in pins(universal, platform, version)})


def select(universal: Universal, platform: str, distro: Distro | None,
           python: str) -> tuple[PythonPackage, ...] | None:
    """PLATFORM's part of the universal resolution for Python PYTHON (on DISTRO's glibc): each package installed
    there with the files that install there; None when a package has none (no wheel fits, no sdist)."""
    from envbuild.resolve.wheels import installs, supported_tags

    supported = supported_tags(platform, distro, python)
    out = []
    for package in pins(universal, platform, python):
        if package.direct_url or package.path or package.vcs:  # one archive (or a commit): the same everywhere
            if not all(installs(f.name, supported) for f in package.files):
                return None  # a local or URL wheel for another platform: said by that platform's own resolution
            out.append(package)
            continue
        files = [f for f in package.files if installs(f.name, supported)]
        if not files:
            return None
        out.append(replace(package, files=tuple(files), hashes=tuple(sorted({f.hash for f in files}))))
    return tuple(out)


def _sys_platform(platform: str) -> str:
    return "linux" if PLATFORMS[platform].linux else "darwin"


def _marker_environment(platform: str, python: str) -> dict[str, str]:
    from envbuild.resolve.wheels import full_version

    linux = PLATFORMS[platform].linux
    full = full_version(python)
    return {"implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
            "platform_machine": PLATFORMS[platform].machine, "platform_python_implementation": "CPython",
            "platform_release": "", "platform_system": "Linux" if linux else "Darwin", "platform_version": "",
            "python_full_version": full, "python_version": ".".join(full.split(".")[:2]),
            "sys_platform": _sys_platform(platform)}
