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
    vcs = {p.name: p.vcs for p in whole.python.packages if p.vcs}
    return tuple(Sdist(name, version, tuple(platforms), name in special, vcs.get(name))
                 for (name, version), platforms in sorted(where.items()))


def refuse(found: tuple[Sdist, ...]) -> None:
    """--strict-wheels: every package must install from a wheel."""
    if found:
        raise SdistsRefused(
            f"--strict-wheels: {len(found)} package{'s' if len(found) != 1 else ''} would be built from an sdist at "
            f"install time: {', '.join(str(s) for s in found)}; find a wheel for the target (a wheel index in "
            "[python] indexes, or `name @ https://.../name.whl`), or lock without --strict-wheels")


def check_build_dependencies(whole: LockFile, found: tuple[Sdist, ...]) -> None:
    """Images build these sdists against the locked environment, so what their build needs must be locked too, on
    each platform that builds them; said now rather than by a failed image build."""
    declared = dict(whole.python.build_dependencies)
    locked = {platform: set(whole.view(platform).python.by_name()) for platform in whole.platforms}
    for sdist in found:
        for platform in sdist.platforms:
            for text in declared.get(sdist.name, ()):
                need = Requirement(text).name
                if need not in locked[platform]:
                    raise EnvbuildError(
                        f"[python] -> build-dependencies -> {sdist.name}: {need} is not in the lock for {platform}; "
                        f"images build {sdist.name} against the locked environment, so add \"{need}\" to [python] "
                        "requirements")


def describe(sdist: Sdist, every: tuple[str, ...]) -> str:
    """One line of the lock summary for SDIST (EVERY: the lock's platforms)."""
    how = ("against the locked environment" if sdist.in_environment
           else "in an isolated build environment (pip's default)")
    where = "" if sdist.platforms == every else f" on {', '.join(sdist.platforms)}"
    source = f"git commit {sdist.vcs.rpartition('@')[2][:12]}" if sdist.vcs else "its sdist"
    return f"{sdist}: built from {source}{where} at install time, {how}"
