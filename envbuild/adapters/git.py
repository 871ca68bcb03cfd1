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


def show(revision: str, path: Path) -> str:
    """The text of PATH (a file in the working tree's repository) as REVISION has it."""
    folder = path.parent.resolve()
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise EnvbuildError(f"{path}: not in a git repository, so {revision!r} names nothing to compare with")
    relative = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    done = _git(["show", f"{revision}:{relative}"], folder)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["git show failed"])[-1]
        raise EnvbuildError(f"{revision}:{relative}: not in the repository ({reason.removeprefix('fatal: ')})")
    return done.stdout
