"""git, for reading a lock as a revision holds it (``git show REV:PATH``): no checkout, no change to the tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envbuild.adapters import process
from envbuild.errors import EnvbuildError


def _git(args: list[str], cwd: Path) -> process.Completed:
    return process.run(["git", *args], cwd=cwd, env=process.scrubbed_env(["GIT_"]),
                       tool_hint="install git to compare revisions of the lock")


@dataclass(frozen=True)
class Repository:
    """What is worth saying of the repository around a folder when a revision names nothing in it."""

    top: str  # its working tree's top folder
    remotes: tuple[str, ...]  # origin, upstream, ...
    shallow: bool  # a shallow clone (CI's checkout): older commits and other branches may be missing


def repository(cwd: Path) -> Repository | None:
    """The repository around CWD; None outside any."""
    done = _git(["rev-parse", "--show-toplevel", "--is-shallow-repository"], cwd)
    if done.returncode != 0:
        return None
    top, shallow = [*done.stdout.splitlines(), "", ""][:2]
    remotes = _git(["remote"], cwd).stdout.split()
    return Repository(top, tuple(remotes), shallow == "true")


def _is_revision(text: str, cwd: Path) -> bool:
    """Does TEXT name a commit of the repository around CWD (HEAD, origin/main, a sha)?"""
    if text.startswith("-"):
        return False
    done = _git(["rev-parse", "--verify", "--quiet", f"{text}^{{commit}}"], cwd)
    return done.returncode == 0


def show(revision: str, path: Path) -> str | None:
    """The text of PATH (a path in the working tree's repository, which the working tree may no longer have) as
    REVISION has it; None when REVISION names no commit here (the caller may read it as something else), an error
    when it does and git cannot give PATH.

    One git call in the common case: ``git show REV:./NAME`` in PATH's folder, from which git reads ``./``.  Only
    when that fails (the folder is gone, PATH is a link git would show as a link, or there is no such file) is the
    revision verified and PATH placed from the repository's top, to read it or say why not."""
    if not revision.startswith("-") and not path.is_symlink() and path.parent.is_dir():
        done = _git(["show", f"{revision}:./{path.name}"], path.parent)
        if done.returncode == 0:
            return done.stdout
    if not _is_revision(revision, path.parent if path.parent.is_dir() else Path.cwd()):
        return None
    folder = path.parent.resolve()
    while not folder.is_dir() and folder != folder.parent:  # gone from the working tree: git runs where it can
        folder = folder.parent
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise EnvbuildError(f"{path}: not in a git repository, so {revision!r} names nothing to compare with")
    try:
        relative = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    except ValueError:
        raise EnvbuildError(f"{path}: outside the git repository at {top.stdout.strip()}") from None
    done = _git(["show", f"{revision}:{relative}"], folder)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["git show failed"])[-1]
        raise EnvbuildError(f"{revision}:{relative}: not in the repository ({reason.removeprefix('fatal: ')})")
    return done.stdout
