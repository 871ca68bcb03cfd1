"""git, for reading a lock as a revision holds it (``git show REV:PATH``): no checkout, no change to the tree."""

from __future__ import annotations

from pathlib import Path

from envbuild.adapters import process
from envbuild.errors import EnvbuildError


def _git(args: list[str], cwd: Path) -> process.Completed:
    return process.run(["git", *args], cwd=cwd, env=process.scrubbed_env(["GIT_"]),
                       tool_hint="install git to compare revisions of the lock")


def is_revision(text: str, cwd: Path) -> bool:
    """Does TEXT name a commit of the repository around CWD (HEAD, origin/main, a sha)?"""
    if text.startswith("-"):
        return False
    done = _git(["rev-parse", "--verify", "--quiet", f"{text}^{{commit}}"], cwd)
    return done.returncode == 0


def show_beside(revision: str, path: Path) -> str | None:
    """PATH's text as REVISION has it, in one git call: ``git show REV:./NAME`` run in PATH's directory, from which
    git reads ``./``.  None when git cannot give it that way (not a revision, no such file, not a repository, or
    PATH a link that git would show as a link): then ``is_revision`` and ``show`` say why."""
    if revision.startswith("-") or path.is_symlink() or not path.parent.is_dir():
        return None
    done = _git(["show", f"{revision}:./{path.name}"], path.parent)
    return done.stdout if done.returncode == 0 else None


def show(revision: str, path: Path) -> str:
    """The text of PATH (a path in the working tree's repository, which the working tree may no longer have) as
    REVISION has it."""
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
