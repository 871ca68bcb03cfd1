"""``envbuild diff [OLD] [NEW]``: compare two locks, each a path, a git revision of the lock (read with ``git show``,
no checkout) or an image that envbuild built (the lock it carries, /opt/envbuild/envbuild.lock).  With no
argument: the lock as HEAD has it against the working tree's, like ``git diff``; with one: that against the
working tree's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from envbuild import lockfile, paths
from envbuild.errors import EnvbuildError
from envbuild.review.diff import Change, diff

IMAGE_LOCK = paths.IMAGE_LOCK.lstrip("/")  # as a path inside the image's layers


@dataclass(frozen=True)
class DiffResult:
    """The changes between two locks, and what was compared, in words."""

    old: str  # what was compared, in words ("HEAD:envbuild.lock", "envbuild.lock")
    new: str
    changes: tuple[Change, ...]


def compare(old: str | None, new: str | None, lock_path: Path) -> DiffResult:
    """OLD and NEW as the user wrote them (None: HEAD, and the working tree's LOCK_PATH).  Both texts are found
    first, then read at once (``lockfile.loads_files``)."""
    old_name, old_text, old_shown = text(old, lock_path) if old is not None else _head(lock_path)
    if new is None:
        new_name = new_shown = str(lock_path)
        new_text = lockfile.read_lock_text(lock_path)
    else:
        new_name, new_text, new_shown = text(new, lock_path)
    old_lock, new_lock = lockfile.loads_files([(old_text, old_shown), (new_text, new_shown)])
    return DiffResult(old_name, new_name, tuple(diff(old_lock, new_lock)))


def text(source: str, lock_path: Path) -> tuple[str, str, str]:
    """(its name in words, the lock's text, the name its errors give) of SOURCE: a lock file, a git revision (REV
    or REV:PATH), or an image."""
    path = Path(source)
    if path.is_file() or path.is_dir():
        return str(path), lockfile.read_lock_text(path / lockfile.LOCK_FILE if path.is_dir() else path), str(path)
    from envbuild.adapters import git

    revision, _, inside = source.partition(":")
    image = _looks_like_image(source)  # REV:PATH first (main:gpu.lock), but not a registry's host:port
    where = Path(inside) if inside and not (image and "/" in source) else lock_path
    found = git.show(revision, where) if revision else None
    if found is not None:
        return f"{revision}:{where}", found, f"{revision}:{where}"
    if image:
        return source, _from_image(source), f"{source}:/{IMAGE_LOCK}"
    raise EnvbuildError(_names_nothing(source, revision, where))


def _names_nothing(source: str, revision: str, where: Path) -> str:
    """Why SOURCE names no lock, in words that say what to do: most often a revision that a shallow or partial
    clone (CI's checkout) does not hold."""
    from envbuild.adapters import git

    folder = (where.parent if where.parent.is_dir() else Path.cwd()).resolve()
    image = "nor an image reference (REGISTRY/NAME:TAG or NAME@sha256:...)"
    repo = git.repository(folder)
    if repo is None:
        return f"{source}: no such lock file, {image}; and {folder} is in no git repository to read a revision from"
    remote, _, branch = revision.partition("/")
    if branch and remote in repo.remotes:
        hint = f"; {remote}'s branches are what was last fetched: git fetch {remote} {branch}"
    elif repo.shallow:
        hint = "; this clone is shallow (as CI's checkouts often are): git fetch --unshallow"
    else:
        hint = ""
    return f"{source}: no such lock file, nor a commit of the git repository at {repo.top}, {image}{hint}"


def _head(lock_path: Path) -> tuple[str, str, str]:
    """What ``text`` gives for the lock as HEAD has it: the default OLD, which needs a git repository."""
    from envbuild.adapters import git

    found = git.show("HEAD", lock_path)
    if found is None:
        raise EnvbuildError(f"{lock_path}: no commit holds it (not in a git repository, or no commit yet), so there "
                            "is no HEAD to compare with; name both locks: envbuild diff OLD NEW")
    return f"HEAD:{lock_path}", found, f"HEAD:{lock_path}"


_NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _looks_like_image(text: str) -> bool:
    """REGISTRY/NAME:TAG, NAME:TAG (the tag envbuild build prints), NAME@sha256:..., or a local image store
    (docker-daemon:, oci-layout:, docker-archive:).  A lock file and a git revision are tried first."""
    if text.startswith(("docker-daemon:", "oci-layout:", "docker-archive:")):
        return True
    if "/" in text.split("@", maxsplit=1)[0]:
        return ":" in text.rsplit("/", 1)[-1] or "@" in text
    name, colon, tag = text.partition("@")[0].partition(":")
    return bool(_NAME.fullmatch(name) and (("@" in text and not colon) or (colon and _TAG.fullmatch(tag))))


def _from_image(reference: str) -> str:
    """The text of the lock an envbuild image carries: a plain REFERENCE from the local Docker engine when it has
    it (the tag envbuild build just printed), else from its registry."""
    from envbuild.adapters import engine
    from envbuild.platforms import PLATFORMS, host
    from envbuild.resolve.image import LOCAL, open_image

    here = host()
    platform = here if here is not None and PLATFORMS[here].linux else "linux/amd64"
    source = f"{engine.LOCAL}{reference}" if not reference.startswith(LOCAL) and engine.has_image(reference) else \
        reference
    with open_image(source, platform) as image:
        found = image.files([IMAGE_LOCK]).get(IMAGE_LOCK)
    if found is None:
        raise EnvbuildError(f"{reference}: carries no /{IMAGE_LOCK} (not an image envbuild built)")
    return found.decode("utf-8", "replace")
