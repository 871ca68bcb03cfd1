"""``envbuild sync``: make a virtual environment hold exactly the Python part of the lock."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild import lockfile
from envbuild.errors import SyncError, UnsupportedTarget
from envbuild.export import requirements_text
from envbuild.export.python import install_plan
from envbuild.lockfile import Lock
from envbuild.platforms import host
from envbuild.spec import expand_url
from envbuild.versions import minor


@dataclass(frozen=True)
class SyncResult:
    venv: Path
    created: bool
    installed: tuple[tuple[str, str], ...]  # name, version now present that was not before
    removed: tuple[tuple[str, str], ...]
    total: int
    warnings: tuple[str, ...] = ()
    pip: str | None = None  # the pip in the venv (not part of the lock), None when none could be put there
    env: tuple[str, ...] = ()  # the lock's [env] names that bin/activate exports


def sync(lock_path: Path, venv: Path) -> SyncResult:
    from envbuild.adapters import uv, uv_build

    lock = lockfile.read_lock(lock_path)
    _check_host(lock)
    if lock.python.source == "conda":
        raise SyncError("the lock's Python is its conda environment's: sync that with --prefix DIR (the pip layer "
                        "goes on top of it)")
    venv = venv.absolute()
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        raise SyncError(f"{venv} is the environment envbuild itself runs in; sync another one (--venv DIR)")
    created = False
    if not python.exists():
        if venv.exists() and (not venv.is_dir() or any(venv.iterdir())):
            raise SyncError(f"{venv} exists but is not a virtual environment (no bin/python); choose another --venv")
        _create(uv, venv, lock.python.target_version)
        created = True
    found = uv.venv_python_version(python)
    wanted = lock.python.target_version
    # The wheels are for the interpreter's major.minor (cp311); another micro release runs them, but it is
    # not the interpreter the lock froze, so it is said.
    if minor(found) != minor(wanted):
        raise SyncError(f"{venv} runs Python {found} but the lock is for Python {wanted}; "
                        f"remove it and run envbuild sync again")
    warnings = []
    if lock.python.version and found != lock.python.version:
        warnings.append(f"{venv} runs Python {found}; the lock froze Python {lock.python.version} "
                        f"({lock.python.source or 'target'}): the packages are the same, the interpreter is not")
    before = uv.installed(python)
    rest, steps = install_plan(lock, str(lock_path.parent.resolve()))
    uv.sync(python, rest, *_indexes(lock))
    for step, text in steps:  # as images build them: with the build group alone, or against the environment
        if step.grouped:
            uv_build.build_with_group(python, text, requirements_text(lock, None, lock.python.build_packages),
                                *_indexes(lock), env=dict(lock.python.build_env), hashed=step.hashed)
        else:  # against the environment just made (its torch, not a fresh one)
            uv_build.build_in_environment(python, text, *_indexes(lock), env=dict(lock.python.build_env),
                                    hashed=step.hashed, isolated=step.isolated)
    after = uv.installed(python)
    pip = after.get("pip")
    if pip is None:
        try:
            pip = uv.add_pip(python, *_indexes(lock))
        except SyncError as exc:
            warnings.append(f"{exc}; `pip install` in the activated venv would go to another Python: use "
                            f"uv pip install --python {python}")
    exported = _mark(venv, lock_path, lock, warnings)
    tool = {"pip"} - {p.name for p in lock.python.packages}  # the venv's pip, not the lock's: not counted
    return SyncResult(
        venv=venv,
        created=created,
        installed=tuple(sorted((n, v) for n, v in after.items() if before.get(n) != v and n not in tool)),
        removed=tuple(sorted((n, v) for n, v in before.items() if after.get(n) != v and n not in tool)),
        total=len(set(after) - tool),
        warnings=tuple(warnings),
        pip=pip,
        env=exported,
    )


def _mark(venv: Path, lock_path: Path, lock: Lock, warnings: list[str]) -> tuple[str, ...]:
    """Mark VENV as made by sync from LOCK_PATH (a plain check of it then checks what sync made), and put the
    lock's [env] into its bin/activate; the names exported."""
    from envbuild.check import venv as marks

    env = dict(lock.env)
    marks.mark(str(venv), str(lock_path.resolve()))
    try:
        written = marks.write_activation(str(venv), env)
    except ValueError as exc:
        raise SyncError(str(exc)) from None
    if not written and env:
        warnings.append(f"{venv}/bin/activate has no deactivate function to extend: the lock's [env] "
                        f"({', '.join(sorted(env))}) is not set on activation; export it yourself")
        return ()
    return tuple(sorted(env))


@dataclass(frozen=True)
class PrefixResult:
    prefix: Path
    created: bool
    installed: tuple[str, ...]  # "name version build" now present that was not before
    removed: tuple[str, ...]
    total: int  # conda records in the prefix
    pip: tuple[str, ...] = ()  # the pip layer's "name==version" installed on top (its Python is conda's)


def sync_prefix(lock_path: Path, prefix: Path) -> PrefixResult:
    """Make the conda environment at PREFIX hold exactly the lock's conda records (install, update, remove), then
    the pip layer on top when the lock's Python is conda's.  Nothing is solved: the records are the lock's."""
    from envbuild.adapters import uv
    from envbuild.resolve.conda import install

    lock = lockfile.read_lock(lock_path)
    if lock.conda is None:
        raise SyncError(f"{lock_path} has no conda environment ([conda] in the spec); sync a venv with --venv")
    _check_host(lock)
    prefix = prefix.absolute()
    if prefix.exists() and any(prefix.iterdir()) and not (prefix / "conda-meta").is_dir():
        raise SyncError(f"{prefix} exists and is not a conda environment (no conda-meta); choose another --prefix")
    created = not (prefix / "conda-meta").is_dir()
    before = _records(prefix)
    install(lock.conda, lock.target.platform, prefix)
    after = _records(prefix)
    pip: tuple[str, ...] = ()
    if lock.python.source == "conda" and lock.python.packages:
        python = prefix / "bin" / "python"
        conda_names = {r.split(" ", 1)[0] for r in after}
        uv.install_exact(python, requirements_text(lock, str(lock_path.parent.resolve())), *_indexes(lock),
                         keep=conda_names)
        pip = tuple(f"{p.name}=={p.version}" for p in lock.python.packages)
    return PrefixResult(prefix=prefix, created=created, installed=tuple(sorted(after - before)),
                        removed=tuple(sorted(before - after)), total=len(after), pip=pip)


def _indexes(lock: Lock) -> tuple[str, list[str]]:
    """The index URL and the extra ones (the named indexes of [python] sources among them), credentials expanded."""
    extras = [expand_url(u, "[python] -> extra-index-urls") for u in lock.python.extra_index_urls]
    used = {p.index for p in lock.python.packages}
    extras += [expand_url(i.url, f"[python] -> indexes -> {i.name}") for i in lock.python.indexes if i.name in used]
    return expand_url(lock.python.index_url, "[python] -> index-url"), extras


def _records(prefix: Path) -> set[str]:
    return {" ".join(p.name[:-5].rsplit("-", 2)) for p in (prefix / "conda-meta").glob("*.json")}


def _check_host(lock: Lock) -> None:
    if host() != lock.target.platform:
        raise UnsupportedTarget(f"the lock is for {', '.join(lock.platforms) or lock.target.platform}; this host is "
                                f"{sys.platform}/{platform.machine()}, so its packages cannot be installed here")


def _create(uv: Any, venv: Path, wanted: str) -> None:
    """A venv of the exact interpreter the lock froze when this host has it (so that the check agrees), else of its
    minor release (the wheels run on any micro; the sync then says the interpreter differs)."""
    from envbuild.errors import SyncError

    if wanted.count(".") == 2:
        try:
            uv.create_venv(venv, wanted, downloads=False)
            return
        except SyncError:
            import shutil

            shutil.rmtree(venv, ignore_errors=True)
    uv.create_venv(venv, minor(wanted))
