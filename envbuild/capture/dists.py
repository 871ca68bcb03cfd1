"""The installed Python distributions of an environment, reduced to what a person would have asked for: the
top-level ones (those no other installed distribution requires), each at its installed version.

The closure of those requirements must cover every other installed distribution, or the captured environment
would not check clean against its own lock: a distribution that only an extra brings (``requests[socks]`` brings
PySocks) puts that extra on its parent's requirement, and one that only an uncapturable distribution needs (an
editable install's dependencies) is pinned itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envbuild.capture import Note
from envbuild.validate import escaped

IGNORED = frozenset({"pip", "setuptools", "wheel"})  # the check ignores them as extras: never asked for by name
OWNED = ("debian", "dpkg", "rpm", "conda")  # INSTALLER of a distribution another package manager owns


@dataclass(frozen=True)
class Installed:
    name: str  # normalised
    version: str
    requires: tuple[str, ...] = ()  # Requires-Dist, as written
    extras: tuple[str, ...] = ()  # Provides-Extra, normalised
    direct_url: Mapping[str, Any] | None = None  # PEP 610's direct_url.json
    installer: str | None = None


@dataclass(frozen=True)
class Captured:
    requirements: tuple[str, ...]  # "name[extra]==version", sorted
    prefer: tuple[tuple[str, str], ...]  # every captured distribution's (name, version)
    notes: tuple[Note, ...]


def markers(version: str, *, platform: str | None = None, implementation: str = "cpython") -> dict[str, str]:
    """PEP 508's environment of a captured interpreter of VERSION: this host's, or PLATFORM's (an image's)
    when given."""
    from packaging.markers import default_environment

    from envbuild.platforms import PLATFORMS
    from envbuild.versions import minor

    env: dict[str, str] = dict(default_environment())  # type: ignore[arg-type]  # a TypedDict of strings
    full = version if version.count(".") >= 2 else f"{version}.0"
    env.update(python_version=minor(version), python_full_version=full, implementation_version=full,
               implementation_name=implementation)
    if platform is not None:
        target = PLATFORMS[platform]
        env.update(platform_python_implementation="CPython", sys_platform="linux" if target.linux else "darwin",
                   platform_system="Linux" if target.linux else "Darwin", os_name="posix",
                   platform_machine=target.machine)
    return env


def read_dist_info(path: str) -> tuple[str, str, tuple[str, ...], tuple[str, ...]] | None:
    """(name, version, Requires-Dist, Provides-Extra) from the METADATA of the dist-info at PATH."""
    try:
        with open(f"{path}/METADATA", "rb") as handle:
            return parse_metadata(handle.read(1 << 20))
    except OSError:
        return None


def parse_metadata(data: bytes) -> tuple[str, str, tuple[str, ...], tuple[str, ...]] | None:
    """(name, version, Requires-Dist, Provides-Extra) from METADATA's headers; None without a name and version."""
    name = version = None
    requires: list[str] = []
    extras: list[str] = []
    last: list[str] | None = None
    for line in data.decode("utf-8", "replace").split("\n"):
        if not line.strip():
            break
        if line[:1] in (" ", "\t") and last is not None:  # a folded header line
            last[-1] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        value, last = value.strip(), None
        if key == "Name" and name is None:
            name = value
        elif key == "Version" and version is None:
            version = value
        elif key == "Requires-Dist":
            requires.append(value)
            last = requires
        elif key == "Provides-Extra":
            extras.append(str(canonicalize_name(value)))
    if not name or not version:
        return None
    return name, version, tuple(requires), tuple(extras)


def uncapturable(dist: Installed) -> str | None:
    """Why DIST, which did not come from an index, cannot go into a spec (PEP 610's direct_url.json), or None."""
    url = dist.direct_url
    if not url:
        return None
    where = _source(url, "?")
    if url.get("dir_info", {}).get("editable"):
        return f"an editable install of {where} (install it yourself: pip install -e <path> --no-deps)"
    if "vcs_info" in url:
        vcs = url["vcs_info"]
        return (f"installed from {vcs.get('vcs', 'a VCS')} {where}@{vcs.get('commit_id', '?')[:12]}, not from an "
                "index")
    if "dir_info" in url:
        return f"built from the local directory {where}, not from an index"
    if where.startswith("file:"):
        return f"installed from the local file {where} (a locally built wheel?), not from an index"
    return f"installed from the direct URL {where}, not from an index"


def direct_reference(dist: Installed) -> str | None:
    """Where DIST came from, as a spec can name it, when that is not an index but a place anyone can fetch again
    (PEP 610's direct_url.json): ``git+URL@COMMIT`` for a git checkout (not an editable one), the URL of an archive
    on a web server.  None for an index install, or for what only this machine has (a local directory or file, an
    editable install): ``uncapturable`` says why of those."""
    url = dist.direct_url
    if not url or url.get("dir_info", {}).get("editable"):
        return None
    where = _source(url, "")
    subdirectory = f"#subdirectory={url['subdirectory']}" if url.get("subdirectory") else ""
    vcs = url.get("vcs_info")
    if isinstance(vcs, dict):
        commit = str(vcs.get("commit_id") or "")
        if vcs.get("vcs") == "git" and commit and where.startswith(("https://", "http://", "ssh://", "git://")):
            return f"git+{where}@{commit}{subdirectory}"
        return None
    if "archive_info" in url and where.startswith(("https://", "http://")):
        return where + subdirectory
    return None


def _source(direct_url: Mapping[str, Any], missing: str) -> str:
    """The URL a direct_url.json names (MISSING when it names none), without a password: PEP 610 says to strip
    one, and what init writes (a requirement, or a note of what it left out) goes into a spec that gets committed.
    A user without one (ssh's git@) stays."""
    where = str(direct_url.get("url", missing))
    parts = urlsplit(where)
    if parts.password is not None:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return where


_PROJECT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")  # normalised PEP 508 names


def malformed(dist: Installed) -> str | None:
    """Why DIST's metadata cannot become a requirement (a name that is no project name, a version that is no PEP 440
    version, a direct URL that is not one word), or None.  Metadata from an image or a host is not trusted: it is
    said, escaped, and left out, never written into a spec."""
    from packaging.version import InvalidVersion, Version

    if not _PROJECT_NAME.fullmatch(dist.name):
        return f"its name {dist.name!r} is not a project name"
    try:
        Version(dist.version)
    except InvalidVersion:
        return f"its version {dist.version!r} is not a version (PEP 440)"
    url = (dist.direct_url or {}).get("url") if isinstance(dist.direct_url, Mapping) else None
    if url is not None and (not isinstance(url, str) or not url.isprintable() or " " in url):
        return f"its direct_url.json names {str(url)[:80]!r}, which is not one URL"
    return None


def top_level(installed: Sequence[Installed], markers: Mapping[str, str]) -> Captured:
    """The requirements that bring back INSTALLED (under the interpreter whose MARKERS are given)."""
    notes: list[Note] = []
    for dist in installed:
        why = malformed(dist)
        if why is not None:
            notes.append(Note("python", f"{escaped(dist.name)}: not captured, {escaped(why)}"))
    installed = [d for d in installed if malformed(d) is None]
    by_name = {d.name: d for d in installed}
    owned = sorted(d.name for d in installed if (d.installer or "").lower() in OWNED)
    if owned:
        notes.append(Note("python", f"{len(owned)} distributions belong to the system's package manager "
                                    f"({', '.join(owned[:5])}{', ...' if len(owned) > 5 else ''}); they come with "
                                    "its packages", warn=False))
    direct = {d.name: ref for d in installed if (ref := direct_reference(d))}
    skipped = {d.name: why for d in installed if d.name not in direct and (why := uncapturable(d))}
    for name, why in sorted(skipped.items()):
        notes.append(Note("python", f"{name}=={by_name[name].version}: not captured, {why}"))
    captured = {n: d for n, d in by_name.items() if n not in skipped and n not in owned}
    base, extra = _edges(installed, markers)
    required = {dep for deps in base.values() for dep, _ in deps} | {
        dep for per in extra.values() for deps in per.values() for dep, _ in deps}
    # a git checkout or a URL is named with where it came from, even when another package requires it: without
    # its reference, the lock would take whatever an index has under that name
    wanted: dict[str, set[str]] = {n: set() for n in captured if (n not in required or n in direct)
                                   and n not in IGNORED}
    while True:
        covered = _closure(wanted, base, extra)
        missing = sorted(n for n in captured if n not in covered and n not in IGNORED)
        if not missing:
            break
        parent = _extra_parent(missing, [*sorted(wanted), *sorted(covered - set(wanted))], extra)
        if parent is not None:
            wanted.setdefault(parent[0], set()).add(parent[1])
            continue
        wanted[missing[0]] = set()  # a cycle, or needed only by what was not captured
        needers = sorted(n for n, deps in base.items() if n in skipped and any(d == missing[0] for d, _ in deps))
        if needers:
            notes.append(Note("python", f"{missing[0]}: pinned, since {', '.join(needers)} (not captured) needs it",
                              warn=False))
    requirements = sorted(
        f"{n}{'[' + ','.join(sorted(e)) + ']' if e else ''}" + (f" @ {direct[n]}" if n in direct
                                                                  else f"=={captured[n].version}")
        for n, e in wanted.items() if n in captured)
    prefer = tuple(sorted((n, d.version) for n, d in captured.items() if n not in direct))
    return Captured(tuple(requirements), prefer, tuple(notes))


Edges = dict[str, list[tuple[str, frozenset[str]]]]  # name -> [(dependency, its extras)]


def _edges(installed: Iterable[Installed], markers: Mapping[str, str]) -> tuple[Edges, dict[str, Edges]]:
    """Each distribution's installed dependencies: unconditional ones, and those of each of its extras that is
    installed whole (every dependency of ``markdown-it-py[testing]`` would be there had anyone asked for it)."""
    names = {d.name for d in installed}
    base: Edges = {}
    extra: dict[str, Edges] = {}
    for dist in installed:
        base[dist.name] = []
        per_extra: dict[str, list[tuple[str, frozenset[str]]]] = {}
        incomplete: set[str] = set()
        for text in dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            dep = str(canonicalize_name(req.name))
            if dep == dist.name:
                continue
            edge = (dep, frozenset(str(canonicalize_name(e)) for e in req.extras))
            if req.marker is None or _holds(req.marker, markers, ""):
                if dep in names:
                    base[dist.name].append(edge)
                continue
            for name in dist.extras:
                if _holds(req.marker, markers, name):
                    per_extra.setdefault(name, []).append(edge)
                    if dep not in names:
                        incomplete.add(name)
        complete = {name: edges for name, edges in per_extra.items() if name not in incomplete}
        if complete:
            extra[dist.name] = complete
    return base, extra


def _holds(marker: Marker, markers: Mapping[str, str], extra: str) -> bool:
    try:
        return marker.evaluate({**markers, "extra": extra})
    except Exception:
        return False


def _closure(wanted: Mapping[str, set[str]], base: Edges, extra: Mapping[str, Edges]) -> set[str]:
    seen: set[tuple[str, str]] = set()
    queue = [(n, e) for n, extras in wanted.items() for e in ("", *extras)]
    while queue:
        name, with_extra = queue.pop()
        if (name, with_extra) in seen:
            continue
        seen.add((name, with_extra))
        edges = base.get(name, []) if not with_extra else extra.get(name, {}).get(with_extra, [])
        for dep, extras in edges:
            queue += [(dep, e) for e in ("", *extras)]
    return {name for name, _ in seen}


def _extra_parent(missing: Sequence[str], covered: Sequence[str], extra: Mapping[str, Edges],
                  ) -> tuple[str, str] | None:
    """A COVERED distribution (the top-level ones first) whose extra brings one of MISSING: (parent, extra)."""
    for name in missing:
        for parent in covered:
            for extra_name, edges in sorted(extra.get(parent, {}).items()):
                if any(dep == name for dep, _ in edges):
                    return parent, extra_name
    return None
