"""``envbuild lock``: resolve the spec and write ``envbuild.lock`` atomically; ``--check`` compares hashes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from envbuild import lockfile
from envbuild.errors import EnvbuildError, LockfileError, UnknownLockfileVersion
from envbuild.lockfile import BaseImage, Lock, LockDiff, PythonLock, SystemLock, Target
from envbuild.spec import PYPROJECT, SPEC_FILE, Distro, Spec, load_spec, spec_hash
from envbuild.validate import shown
from envbuild.versions import within

if TYPE_CHECKING:
    from envbuild.resolve.image import ImageFacts

Status = Callable[[str], AbstractContextManager[None]]


@dataclass(frozen=True)
class LockResult:
    path: Path
    lock: Lock
    diff: LockDiff  # Python pins
    system_diff: LockDiff  # apt pins
    written: bool  # False: the file already held exactly this lock
    created: bool  # there was no lock before
    seconds: float
    warnings: tuple[str, ...] = ()
    stages: tuple[tuple[str, float], ...] = ()  # wall time of each resolver stage (they may overlap)


@dataclass(frozen=True)
class CheckResult:
    path: Path
    up_to_date: bool
    reason: str


def lock_path_for(spec: Spec, lock_path: Path | None) -> Path:
    return lock_path if lock_path is not None else spec.default_lock_path()


def regenerate_command(spec: Spec, lock_path: Path) -> str:
    """The command that regenerates this lock, run from the lock's directory (no host paths)."""
    base = lock_path.parent.resolve()
    words = ["envbuild lock"]
    if not (spec.path.parent == base and spec.path.name in (SPEC_FILE, PYPROJECT)):
        words.append(f"-s {os.path.relpath(spec.path, base)}")
    if lock_path.name != lockfile.LOCK_FILE or spec.path.parent != base:
        words.append(f"-o {lock_path.name}")
    return " ".join(words)


def lock(spec_path: Path | None = None, lock_path: Path | None = None, *, upgrade: bool = False,
         upgrade_packages: tuple[str, ...] = (), status: Status | None = None) -> LockResult:
    from envbuild.resolve.cuda import resolve_cuda
    from envbuild.resolve.python import python_platform

    started = time.monotonic()
    spec = load_spec(spec_path)
    path = lock_path_for(spec, lock_path)
    if not path.parent.is_dir():
        raise LockfileError(str(path), "its directory does not exist")
    if path.is_dir():
        raise LockfileError(str(path), f"is a directory; give the lock's file name (e.g. {path / 'envbuild.lock'})")
    status = status or (lambda _msg: nullcontext())
    warnings: list[str] = []
    with lockfile.exclusive(path):
        previous = _previous(path, warnings)
        names = {canonicalize_name(n) for n in upgrade_packages}
        if previous is not None:
            pinned = set(previous.python.by_name())
            warnings += [f"-P {n}: not in the previous lock; it is resolved fresh anyway"
                         for n in sorted(names - pinned)]
        stages: list[tuple[str, float]] = []
        env = spec.environment
        what = f"{len(spec.python.requirements)} Python requirements with {spec.python.resolver}"
        if env.distro is not None or env.base_image is not None:
            what = f"{len(spec.system.packages)} system packages and {what}"
        with status(f"Resolving {what} for {env.platform}, Python {env.python}"):
            resolved = _resolve(spec, previous, upgrade=upgrade, upgrade_packages=tuple(sorted(names)),
                                stages=stages)
        python, image, distro = resolved.python, resolved.image, resolved.distro
        cuda, cuda_warnings = resolve_cuda(spec.cuda.version, python.packages, dict(image.env) if image else None)
        warnings += cuda_warnings
        new = Lock(
            spec_hash=spec_hash(spec),
            name=spec.environment.name,
            target=Target(platform=spec.environment.platform, distro=distro.name,
                          python_platform=python_platform(spec, distro)),
            base_image=BaseImage(env.base_image, image.digest, packages=image.installed)
            if env.base_image and image else None,
            python=python,
            env=spec.env,
            ignore_extra=spec.check.ignore_extra,
            cuda=cuda,
            system=resolved.system,
        )
        text = lockfile.dumps(new, regenerate=regenerate_command(spec, path))
        written = lockfile.write_atomic(path, text)
    return LockResult(path=path, lock=new, diff=lockfile.diff_python(previous.python if previous else None,
                                                                     new.python),
                      system_diff=lockfile.diff_system(previous.system if previous else None, new.system),
                      written=written, created=previous is None, seconds=time.monotonic() - started,
                      warnings=tuple(warnings), stages=tuple(stages))


@dataclass(frozen=True)
class _Resolved:
    system: SystemLock
    python: PythonLock
    distro: Distro
    image: ImageFacts | None


def _resolve(spec: Spec, previous: Lock | None, *, upgrade: bool, upgrade_packages: tuple[str, ...],
             stages: list[tuple[str, float]]) -> _Resolved:
    """The base image, the apt closure (with the exact interpreter) and the Python pins.

    The Python resolution needs the interpreter's exact version, which the image or the apt indexes give.
    On a re-lock the previous lock's version is the likely answer, so uv runs with it while the apt closure
    resolves; when the indexes say otherwise, uv runs again with the right version.
    """
    from concurrent.futures import ThreadPoolExecutor

    from envbuild.resolve.python import resolve_python

    env = spec.environment
    prev_python = previous.python if previous else None
    image = None
    if env.base_image is not None:
        from envbuild.resolve.image import resolve_image

        begun = time.monotonic()
        image = resolve_image(env.base_image, env.platform)
        stages.append(("image", time.monotonic() - begun))
        if env.distro is not None and env.distro.name != image.distro.name:
            raise EnvbuildError(f"[environment] distro = {env.distro.name!r}, but {env.base_image} is "
                                f"{image.distro.name} (its os-release); remove distro or fix it")
    distro = env.distro or (image.distro if image else None)
    if distro is None:  # the spec demands a distro or a base image, and an image always tells its distro
        raise EnvbuildError("the target's distribution is unknown: set [environment] distro")
    source = "image" if image is not None and image.python_version else "system"

    def python_for(exact: str | None) -> PythonLock:
        begun = time.monotonic()
        result = resolve_python(spec, previous=prev_python, upgrade=upgrade, upgrade_packages=upgrade_packages,
                                exact_python=exact, distro=distro, source=source)
        stages.append((f"python ({spec.python.resolver})", time.monotonic() - begun))
        return result

    if image is not None and image.python_version:
        if not within(image.python_version, env.python):
            raise EnvbuildError(f"[environment] python = {env.python!r}, but {env.base_image} provides Python "
                                f"{image.python_version} (PYTHON_VERSION)")
        exact_from_image: str | None = image.python_version
    else:
        exact_from_image = None

    from envbuild.resolve.system import resolve_system

    guess = exact_from_image
    if (guess is None and prev_python is not None and prev_python.source == "system" and previous is not None
            and previous.target.distro == distro.name and prev_python.version
            and within(prev_python.version, env.python)):
        guess = prev_python.version
    installed = dict(image.installed) if image else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        speculative = pool.submit(python_for, guess) if guess else None
        begun = time.monotonic()
        system, exact = resolve_system(distro, env.platform, spec.system.packages,
                                       None if exact_from_image else env.python, mirror=spec.system.mirror,
                                       security_mirror=spec.system.security_mirror, installed=installed)
        stages.append(("system (apt)", time.monotonic() - begun))
        exact = exact_from_image or exact
        if speculative is not None and exact == guess:
            return _Resolved(system, speculative.result(), distro, image)
    return _Resolved(system, python_for(exact), distro, image)


def _previous(path: Path, warnings: list[str]) -> Lock | None:
    """The lock being replaced: its pins are preferences.  A newer lock version is never overwritten."""
    if not path.exists():
        return None
    try:
        return lockfile.read_lock(path)
    except UnknownLockfileVersion:
        raise
    except LockfileError as exc:
        warnings.append(f"the existing lock is unreadable ({exc.problem}); it is regenerated from scratch")
        return None


def check(spec_path: Path | None = None, lock_path: Path | None = None) -> CheckResult:
    """Does the lock still match the spec?  Reads two files, touches no network."""
    spec = load_spec(spec_path)
    path = lock_path_for(spec, lock_path)
    lock_shown, spec_shown = shown(path), shown(spec.path)
    recorded = lockfile.read_spec_hash(path)
    if recorded is None:
        return CheckResult(path, False, f"{lock_shown} does not exist; run envbuild lock")
    current = spec_hash(spec)
    if recorded != current:
        return CheckResult(path, False, f"{lock_shown} is out of date with {spec_shown} (spec-hash "
                           f"{recorded[:19]}… ≠ {current[:19]}…); run envbuild lock")
    return CheckResult(path, True, f"{lock_shown} is up to date with {spec_shown}")
