"""Packages that have no wheel for a target, so that installing them compiles an sdist: found in a new lock, said
at lock time (``--strict-wheels`` refuses them), and checked against what their build will need."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement

from envbuild.errors import EnvbuildError
from envbuild.lockfile import LockFile


class SdistsRefused(EnvbuildError):
    """``lock --strict-wheels`` and some package would be built at install time."""


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    platforms: tuple[str, ...]  # where it has no wheel
    in_environment: bool  # built against the locked environment ([python] build-dependencies, no-build-isolation)
    vcs: str | None = None  # a git checkout, at its locked commit
    build_group: bool = False  # built with the locked build group ([python] build-dependencies) alone

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def sdists(whole: LockFile) -> tuple[Sdist, ...]:
    """The packages of WHOLE that each platform installs from an sdist, compiling it."""
    where: dict[tuple[str, str], list[str]] = {}
    for platform in whole.platforms:
        for package in whole.view(platform).python.packages:
            if package.built:
                where.setdefault((package.name, package.version), []).append(platform)
    special = set(whole.python.built_in_environment)
    grouped = whole.python.built_with_group
    vcs = {p.name: p.vcs for p in whole.python.packages if p.vcs}
    return tuple(Sdist(name, version, tuple(platforms), name in special, vcs.get(name), name in grouped)
                 for (name, version), platforms in sorted(where.items()))


def refuse(found: tuple[Sdist, ...]) -> None:
    """--strict-wheels: every package must install from a wheel."""
    if found:
        raise SdistsRefused(
            f"--strict-wheels: {len(found)} package{'s' if len(found) != 1 else ''} would be built from an sdist at "
            f"install time: {', '.join(str(s) for s in found)}; find a wheel for the target (a wheel index in "
            "[python] indexes, or `name @ https://.../name.whl`), or lock without --strict-wheels")


# the sdists that compile CUDA kernels (nvcc): the ones users name most, beyond any whose build imports torch
CUDA_KERNELS = frozenset({"apex", "causal-conv1d", "deepspeed", "flash-attn", "grouped-gemm", "mamba-ssm",
                          "transformer-engine", "xformers"})


def needs_nvcc(whole: LockFile, found: tuple[Sdist, ...]) -> tuple[str, ...]:
    """One line for each sdist that compiles CUDA kernels (one users name, or one whose build imports torch where
    the environment has CUDA) while the spec gives it no [python] build-image: its build would fail after minutes
    on CUDA_HOME."""
    if whole.python.build_image is not None:
        return ()
    declared = dict(whole.python.build_dependencies)
    out = []
    for sdist in found:
        torch = any(Requirement(text).name == "torch" for text in declared.get(sdist.name, ()))
        cuda = any(whole.target(p).cuda is not None for p in sdist.platforms)
        if sdist.name in CUDA_KERNELS or (torch and cuda):
            out.append(f"{sdist}: its build compiles CUDA kernels (nvcc), and the spec gives it nowhere to compile: "
                       'set [python] build-image = "auto" (PyTorch\'s devel image of the locked torch and CUDA) or '
                       "name a CUDA devel image that holds the target's Python")
    return tuple(out)


def describe(sdist: Sdist, every: tuple[str, ...]) -> str:
    """One line of the lock summary for SDIST (EVERY: the lock's platforms)."""
    how = ("with its locked build group" if sdist.build_group
           else "against the locked environment" if sdist.in_environment
           else "in an isolated build environment (pip's default)")
    where = "" if sdist.platforms == every else f" on {', '.join(sdist.platforms)}"
    source = f"git commit {sdist.vcs.rpartition('@')[2][:12]}" if sdist.vcs else "its sdist"
    return f"{sdist}: built from {source}{where} at install time, {how}"
