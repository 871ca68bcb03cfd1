"""Which wheels install on a target platform: the tags CPython X.Y supports there, as uv's ``--python-platform``
takes them (on Linux manylinux up to the distro's glibc, with PEP 600's legacy aliases; on macOS the releases up to
uv's default), from ``packaging.tags``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from envbuild.platforms import PLATFORMS

if TYPE_CHECKING:
    from packaging.tags import Tag

    from envbuild.spec import Distro

MACOS = "13.0"  # uv's macOS release for aarch64-apple-darwin unless MACOSX_DEPLOYMENT_TARGET says another
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}  # PEP 600's aliases of manylinux_2_X


def full_version(python: str) -> str:
    """"3.11" -> "3.11.0" (a release uv takes as its lowest)."""
    parts = python.split(".")
    return ".".join(parts + ["0"] * (3 - len(parts)))


def installs(name: str, supported: frozenset[Tag]) -> bool:
    """Does the file NAME install where SUPPORTED are the tags: a wheel with one of them, or an sdist (built)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    if not name.endswith(".whl"):
        return True
    try:
        return not supported.isdisjoint(parse_wheel_filename(name)[3])
    except InvalidWheelFilename:
        return False


def supported_tags(platform: str, distro: Distro | None, python: str) -> frozenset[Tag]:
    """The wheel tags CPython PYTHON supports on PLATFORM (on Linux, DISTRO's glibc)."""
    from packaging import tags

    major, minor = (int(n) for n in full_version(python).split(".")[:2])
    target = PLATFORMS[platform]
    if target.linux:
        if distro is None:
            raise ValueError(f"{platform} needs the target's glibc to pick wheels")
        machine, top = target.machine, int(distro.glibc.split(".")[1])
        names = []
        for level in range(top, 4, -1):
            names.append(f"manylinux_2_{level}_{machine}")
            if level in _LEGACY and (level == 17 or machine in ("x86_64", "i686")):
                names.append(f"{_LEGACY[level]}_{machine}")
    else:
        release = os.environ.get("MACOSX_DEPLOYMENT_TARGET", MACOS).split(".")
        names = list(tags.mac_platforms((int(release[0]), int(release[1]) if len(release) > 1 else 0),
                                        target.machine))
    abi = f"cp{major}{minor}"
    return frozenset([*tags.cpython_tags((major, minor), [abi], names),
                      *tags.compatible_tags((major, minor), abi, names)])
