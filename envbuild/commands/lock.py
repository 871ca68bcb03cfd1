"""``envbuild lock``: resolve the spec for each of its platforms and write ``envbuild.lock`` atomically; ``--check``
compares the spec's hash with the lock's.

The spec is all a conda channel read needs, so ``lock`` starts that read first and only then imports the resolver
and the lock's model (about 50 ms of imports that now run beside the read, not before it: bench/conda.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envbuild.errors import ConfigError, LockfileError, UnknownLockfileVersion
from envbuild.spec import PYPROJECT, SPEC_FILE, Spec, load_spec, spec_hash
from envbuild.validate import shown

if TYPE_CHECKING:
    from envbuild.lockfile import LockFile
    from envbuild.resolve.builds import Sdist
    from envbuild.review.diff import Change

Status = Callable[[str], AbstractContextManager[None]]


@dataclass(frozen=True)
class LockResult:
    """What a lock did: the new lock, what changed in it, and how long it took."""

    path: Path
    lock: LockFile
    changes: tuple[Change, ...]  # from the lock it replaced (review.diff: the one lock-diff engine); () for a new one
    written: bool  # False: the file already held exactly this lock
    created: bool  # there was no lock before
    seconds: float
    warnings: tuple[str, ...] = ()
    stages: tuple[tuple[str, float], ...] = ()  # wall time of each resolver stage (they may overlap)
    sdists: tuple[Sdist, ...] = ()  # packages compiled from an sdist at install time


@dataclass(frozen=True)
class CheckResult:
    """lock --check: is the lock up to date with the spec, and if not, why."""

    path: Path
    up_to_date: bool
    reason: str


def lock_path_for(spec: Spec, lock_path: Path | None) -> Path:
    return lock_path if lock_path is not None else spec.default_lock_path()


def regenerate_command(spec: Spec, lock_path: Path) -> str:
    """The command that regenerates this lock, run from the lock's directory (no host paths)."""
    from envbuild import lockfile

    base = lock_path.parent.resolve()
    words = ["envbuild lock"]
    if not (spec.path.parent == base and spec.path.name in (SPEC_FILE, PYPROJECT)):
        words.append(f"-s {os.path.relpath(spec.path, base)}")
    if lock_path.name != lockfile.LOCK_FILE or spec.path.parent != base:
        words.append(f"-o {lock_path.name}")
    return " ".join(words)


def lock(spec_path: Path | None = None, lock_path: Path | None = None, *, upgrade: bool = False,
         upgrade_packages: tuple[str, ...] = (), status: Status | None = None,
         prefer: tuple[tuple[str, str], ...] = (), strict_wheels: bool = False) -> LockResult:
    """Resolve the spec at SPEC_PATH into LOCK_PATH.  The previous lock's pins are kept where the spec allows, unless
    UPGRADE or UPGRADE_PACKAGES frees them; without a previous lock, PREFER's (name, version) are (envbuild init).
    STRICT_WHEELS: a package that only an sdist provides is an error (and the old lock stays)."""
    started = time.monotonic()
    spec = load_spec(spec_path)
    from envbuild import resolve

    reading = resolve.prefetch(spec)
    from packaging.utils import canonicalize_name

    from envbuild import lockfile

    if reading is not None:  # the writer's tomlkit too, beside the read, rather than after the solve
        lockfile.load_writer()

    path = lock_path_for(spec, lock_path)
    if not path.parent.is_dir():
        raise LockfileError(str(path), "its directory does not exist")
    if path.is_dir():
        raise LockfileError(str(path), f"is a directory; give the lock's file name (e.g. {path / 'envbuild.lock'})")
    if spec.python.local_files and not lockfile.is_special(path) and path.parent.resolve() != spec.root.resolve():
        raise LockfileError(str(path), f"the spec installs local files ({spec.python.local_files[0][1]}, ...), whose "
                            "paths the lock keeps relative to the spec: write the lock beside the spec")
    status = status or (lambda _msg: nullcontext())
    warnings: list[str] = []
    with lockfile.exclusive(path):
        previous = _previous(path, warnings)
        names = {canonicalize_name(n) for n in upgrade_packages}
        if previous is not None:
            pinned = {p.name for p in previous.python.packages}
            warnings += [f"-P {n}: not in the previous lock; it is resolved fresh anyway"
                         for n in sorted(names - pinned)]
        env = spec.environment
        what = f"{len(spec.python.requirements)} Python requirements with {spec.python.resolver}"
        if env.linux:
            what = f"{len(spec.system.packages)} system packages and {what}"
        with status(f"Resolving {what} for {', '.join(env.platforms)}, Python {env.python}"):
            resolution = resolve.resolve(spec, previous, resolve.Options(
                upgrade, tuple(sorted(names)), network_share=len(env.platforms), prefer=prefer),
                reading=reading, strict_wheels=strict_wheels)
        new = resolution.lock
        warnings += resolution.warnings
        text = lockfile.dumps(new, regenerate=regenerate_command(spec, path))
        written = lockfile.write_atomic(path, text)
    from envbuild.review.diff import diff

    return LockResult(path=path, lock=new, changes=tuple(diff(previous, new)) if previous is not None else (),
                      written=written, created=previous is None, seconds=time.monotonic() - started,
                      warnings=tuple(warnings), stages=resolution.stages, sdists=resolution.sdists)


def _previous(path: Path, warnings: list[str]) -> LockFile | None:
    """The lock being replaced: its pins are preferences.  A newer lock version is never overwritten."""
    from envbuild import lockfile

    if not path.exists() or lockfile.is_special(path):  # -o /dev/null: nothing to read (a FIFO would block)
        return None
    try:
        return lockfile.read_lockfile(path)
    except UnknownLockfileVersion:
        raise
    except (LockfileError, ConfigError) as exc:
        problem = exc.problem if isinstance(exc, (LockfileError, ConfigError)) else str(exc)
        warnings.append(f"the existing lock is unreadable ({problem}); it is regenerated from scratch")
        return None


def check(spec_path: Path | None = None, lock_path: Path | None = None) -> CheckResult:
    """Does the lock still match the spec?  Reads two files, touches no network."""
    spec = load_spec(spec_path)
    path = lock_path_for(spec, lock_path)
    lock_shown, spec_shown = shown(path), shown(spec.path)
    from envbuild import lockfile

    recorded = lockfile.read_spec_hash(path)
    if recorded is None:
        return CheckResult(path, False, f"{lock_shown} does not exist; run envbuild lock")
    current = spec_hash(spec)
    if recorded != current:
        return CheckResult(path, False, f"{lock_shown} is out of date with {spec_shown} (spec-hash "
                           f"{recorded[:19]}… ≠ {current[:19]}…); run envbuild lock")
    return CheckResult(path, True, f"{lock_shown} is up to date with {spec_shown}")
