"""Building for another CPU than this machine's: the target's programs (apt's maintainer scripts, sdist builds) run
under qemu through a binfmt_misc handler, which is looked for before any work, and said when used."""

from __future__ import annotations

from pathlib import Path

from envbuild.errors import BuildError
from envbuild.platforms import PLATFORMS, host

BINFMT = Path("/proc/sys/fs/binfmt_misc")


def emulated(platform: str) -> bool:
    """Does building PLATFORM's image run its programs under emulation on this machine?"""
    here = host()
    return here is not None and here != platform


def handler(platform: str, binfmt: Path = BINFMT) -> Path | None:
    """The enabled binfmt_misc handler that runs PLATFORM's programs here (qemu-aarch64, ...), or None."""
    machine = PLATFORMS[platform].machine
    for name in (f"qemu-{machine}", machine):
        entry = binfmt / name
        try:
            first = entry.read_text(errors="replace").splitlines()[:1]
        except OSError:
            continue
        if first == ["enabled"]:
            return entry
    return None


def require(platform: str, binfmt: Path = BINFMT) -> str | None:
    """One line saying that PLATFORM is built under emulation (None: natively); a BuildError naming what to install
    when this machine cannot run its programs at all."""
    if not emulated(platform):
        return None
    found = handler(platform, binfmt)
    machine = PLATFORMS[platform].machine
    if found is None:
        mounted = (binfmt / "register").exists()
        raise BuildError(f"building {platform} on this {host()} machine runs {machine} programs (apt, sdist builds) "
                         f"under emulation, and no binfmt_misc handler for {machine} is "
                         f"{'registered' if mounted else 'there (binfmt_misc is not mounted)'}: apt-get install "
                         "qemu-user-static binfmt-support (or docker run --privileged --rm tonistiigi/binfmt "
                         "--install arm64), or build on a " + machine + " machine")
    return f"{platform} on this {host()} machine: its programs run under emulation ({found.name})"
