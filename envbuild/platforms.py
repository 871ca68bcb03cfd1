"""The target platforms envbuild locks for, and how each tool spells them.

``linux/amd64`` and ``linux/arm64`` are whole targets (an image or a cluster node: apt, CUDA, Python);
``macos/arm64`` is the Python part of a developer's laptop (no apt, no CUDA, no base image).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    name: str  # "linux/amd64"
    os: str  # "linux" | "macos"
    machine: str  # as Python's platform.machine() says it on that platform: x86_64, aarch64, arm64
    deb_arch: str | None  # Debian's architecture (None: no apt there)
    oci_arch: str | None  # an image index's architecture (None: no images)
    wheel: str  # uv's --python-platform ("{glibc}" is the target's manylinux level)
    conda: str  # conda's subdir

    @property
    def linux(self) -> bool:
        return self.os == "linux"

    def python_platform(self, glibc: str | None) -> str:
        """The wheel platform of the target for uv: the machine and, on Linux, the distro's glibc."""
        if self.linux:
            if glibc is None:
                raise ValueError(f"{self.name} needs the target's glibc to pick wheels")
            return self.wheel.format(glibc=glibc.replace(".", "_"))
        return self.wheel


PLATFORMS = {p.name: p for p in (
    Platform("linux/amd64", "linux", "x86_64", "amd64", "amd64", "x86_64-manylinux_{glibc}", "linux-64"),
    Platform("linux/arm64", "linux", "aarch64", "arm64", "arm64", "aarch64-manylinux_{glibc}", "linux-aarch64"),
    Platform("macos/arm64", "macos", "arm64", None, None, "aarch64-apple-darwin", "osx-arm64"),
)}
ALIASES = {"linux/x86_64": "linux/amd64", "linux/arm64/v8": "linux/arm64", "linux/aarch64": "linux/arm64",
           "darwin/arm64": "macos/arm64", "macos/aarch64": "macos/arm64"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def host() -> str | None:
    """This machine as a lock platform ("linux/amd64"), or None when envbuild does not know it."""
    system = {"linux": "linux", "darwin": "macos"}.get(sys.platform)
    machine = os.uname().machine
    for platform in PLATFORMS.values():
        if platform.os == system and platform.machine == machine:
            return platform.name
    return None
