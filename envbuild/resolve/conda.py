"""Resolve ``[conda] packages`` for one target platform: its subdir, with the virtual packages of the target (not of
this host): ``__glibc`` of its distro, ``__cuda`` of its driver (``[conda] cuda``), and the rest from
``envbuild/data/conda_virtual.toml``."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from envbuild import data
from envbuild.adapters.http import cache_dir
from envbuild.platforms import PLATFORMS
from envbuild.spec import expand_url

if TYPE_CHECKING:  # the lock's model is imported where records are made: prefetch starts before it loads
    from envbuild.lockfile import CondaLock, CondaPackage
    from envbuild.spec import Distro, Spec

_MATCHSPEC_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def virtual_packages(spec: Spec, platform: str, distro: Distro | None) -> tuple[tuple[str, str, str], ...]:
    """(name, version, build) of the target's virtual packages."""
    subdir = PLATFORMS[platform].conda
    out = []
    for name, value in data.load("conda_virtual")[subdir].items():
        version, _, build = str(value).partition(" ")
        out.append((name, version, build or "0"))
    if distro is not None:
        out.append(("__glibc", distro.glibc, "0"))
    if spec.conda.cuda is not None and PLATFORMS[platform].linux:
        out.append(("__cuda", spec.conda.cuda, "0"))
    return tuple(sorted(out))


def prefetch(spec: Spec) -> threading.Thread:
    """Start reading the spec's conda channels for its MatchSpecs (every subdir of its platforms), beside the rest of
    the lock; ``resolve_conda`` then solves from what was read (``adapters.rattler.prefetch``).  Imports py-rattler
    first: without the extra, ``CondaMissing``, the one line that says what to install."""
    from envbuild.adapters import rattler

    subdirs = sorted({PLATFORMS[p].conda for p in spec.environment.platforms})
    return rattler.prefetch(_expanded(spec.conda.channels), with_pip(spec), subdirs, cache_dir("conda", "repodata"))


def _expanded(channels: tuple[str, ...]) -> tuple[str, ...]:
    """CHANNELS (the spec's, or the lock's: the same strings) with their ${VAR} credentials expanded (never written
    anywhere)."""
    return tuple(expand_url(c, f"[conda] -> channels[{i}]") if "://" in c else c for i, c in enumerate(channels))


def resolve_conda(spec: Spec, platform: str, distro: Distro | None, previous: CondaLock | None, *, upgrade: bool,
                  upgrade_packages: tuple[str, ...], stages: list[tuple[str, float]], stage: str) -> CondaLock:
    """The records of PLATFORM's conda environment.  PREVIOUS's records are preferences (unless -U, or -P NAME)."""
    from envbuild.adapters import rattler

    begun = time.monotonic()
    channels = _expanded(spec.conda.channels)
    # the previous records are preferences, unless the solve assumes another machine now (another __cuda)
    same_target = previous is not None and previous.cuda == spec.conda.cuda
    keep = [p for p in previous.packages if p.name not in upgrade_packages] if same_target and not upgrade and \
        previous is not None else []
    packages = rattler.solve(rattler.SolveRequest(
        channels=channels, specs=with_pip(spec), subdir=PLATFORMS[platform].conda,
        virtual_packages=virtual_packages(spec, platform, distro), preferences=tuple(keep),
        cache_dir=cache_dir("conda", "repodata")))
    unverifiable = [p.name for p in packages if not p.sha256 or not p.md5]
    if unverifiable:
        from envbuild.errors import ResolutionError

        raise ResolutionError(rattler.NAME, f"the channel lists no sha256 or md5 for {', '.join(unverifiable[:5])}; "
                              "envbuild verifies every conda archive by its sha256")
    stages.append((stage, time.monotonic() - begun))
    from envbuild.lockfile import CondaLock, match_spec_name

    asked = {match_spec_name(s) for s in with_pip(spec)}
    return CondaLock(channels=spec.conda.channels, prefix=spec.conda.prefix,
                     packages=tuple(replace(p, requested=True) if p.name in asked else p for p in packages),
                     cuda=spec.conda.cuda)


def with_pip(spec: Spec) -> tuple[str, ...]:
    """The MatchSpecs to solve: the spec's, plus ``pip`` when the spec names ``python`` and has a pip layer to
    install with it (as conda's add_pip_as_python_dependency does), unless it names pip itself."""
    names = {m.group(0).lower() for m in (_MATCHSPEC_NAME.match(s.split("::")[-1]) for s in spec.conda.packages) if m}
    if "python" in names and "pip" not in names and spec.python.requirements:
        return (*spec.conda.packages, "pip")
    return spec.conda.packages


def credentials(channels: tuple[str, ...]) -> dict[str, str]:
    """Each channel's credential-free base URL -> the URL with its ${VAR} credentials expanded (for downloads)."""
    from envbuild.lockfile import strip_credentials

    out = {}
    for channel, expanded in zip(channels, _expanded(channels), strict=True):
        if "://" in channel and "${" in channel:
            full = expanded.rstrip("/") + "/"
            out[strip_credentials(full)] = full
    return out


def install(conda: CondaLock, platform: str, prefix: Path, *, as_prefix: str | None = None) -> None:
    """Make PREFIX hold exactly CONDA's records for PLATFORM (``sync --prefix``; render's staged copy, written for
    AS_PREFIX), with the channels' credentials and envbuild's package cache."""
    from envbuild.adapters import rattler

    rattler.install(conda.packages, prefix, subdir=PLATFORMS[platform].conda, credentials=credentials(conda.channels),
                    as_prefix=as_prefix, cache_dir=cache_dir("conda", "pkgs"))


def python_record(conda: CondaLock | None) -> CondaPackage | None:
    """The conda environment's interpreter, when it holds one."""
    if conda is None:
        return None
    return next((p for p in conda.packages if p.name == "python"), None)
