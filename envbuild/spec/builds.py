"""The ``[python]`` keys for the packages ML teams actually install: named indexes and the packages pinned to them
(``indexes``, ``sources``), local wheels (``name @ ./wheels/x.whl``), and sdists that need the environment to build
(``build-dependencies``, ``no-build-isolation``, ``build-env``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from envbuild.errors import ConfigError
from envbuild.pysources import PythonIndex
from envbuild.spec.urls import check_url
from envbuild.validate import Table

if TYPE_CHECKING:  # packaging loads with the first Python name to read (a conda-only spec has none)
    from packaging.requirements import Requirement

_INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508's name
_ARCHIVES = (".whl", ".tar.gz", ".zip")


def canonical_name(name: str) -> str:
    """NAME normalised (PEP 503).  packaging loads with the first name: a conda-only spec never loads it."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def parse_requirement(text: str, error: Callable[[str], ConfigError]) -> Requirement:
    """TEXT as a PEP 508 requirement, its name normalised; ERROR(problem) when it is none.  packaging takes a name
    that ends in ``_`` (``torch_``), whose normal form (``torch-``) no tool reads back: refused here."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise error(f"invalid requirement {text!r}: {str(exc).splitlines()[0]}") from None
    if not _PROJECT_NAME.fullmatch(req.name):
        raise error(f"invalid requirement {text!r}: {req.name!r} is no project name (letters and digits, with . _ - "
                    "only between them)")
    req.name = canonical_name(req.name)
    return req


def canonical_names(names: Iterable[str]) -> tuple[str, ...]:
    """NAMES normalised (PEP 503), unique and sorted."""
    return tuple(sorted({canonical_name(n) for n in names}))


def parse_indexes(t: Table) -> tuple[PythonIndex, ...]:
    out: list[PythonIndex] = []
    for item in t.tables("indexes"):
        item.only("name", "url", "explicit")
        name = item.required("name")
        if not _INDEX_NAME.fullmatch(name):
            raise item.error(["name"], f"{name!r}: use letters, digits, '.', '_' and '-'")
        if any(i.name == name for i in out):
            raise item.error(["name"], f"{name!r} is named twice")
        url = item.required("url")
        check_url(url, lambda problem, item=item: item.error(["url"], problem))
        out.append(PythonIndex(name=name, url=url, explicit=item.boolean("explicit")))
    return tuple(out)


def parse_sources(t: Table, indexes: tuple[PythonIndex, ...],
                  requirement_names: set[str]) -> tuple[tuple[str, str], ...]:
    raw = t.get("sources")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise t.error(["sources"], 'must be a table of package = "index name", e.g. {torch = "pytorch-cu124"}')
    known = {i.name for i in indexes}
    out = {}
    for package, value in raw.items():
        index = value["index"] if isinstance(value, dict) and set(value) == {"index"} else value  # uv's spelling
        if not isinstance(index, str):
            raise t.error(["sources", package], f'must name an index of [python] indexes, not {index!r}')
        if index not in known:
            raise t.error(["sources", package], f"{index!r} is not in [python] indexes "
                          f"({', '.join(sorted(known)) or 'none is declared'})")
        name = canonical_name(package)
        if name not in requirement_names:
            raise t.error(["sources", package], f"{name} is not a requirement of the spec; an index pin applies to "
                          f'the spec\'s own requirements: add "{name}" to [python] requirements')
        out[name] = index
    return tuple(sorted(out.items()))


Pairs = tuple[tuple[str, str], ...]


def parse_build(t: Table) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...], Pairs]:
    """``build-dependencies``, ``no-build-isolation`` and ``build-env``, validated and sorted."""
    deps_raw = t.get("build-dependencies")
    if deps_raw is not None and not isinstance(deps_raw, dict):
        raise t.error(["build-dependencies"],
                      'must be a table of sdist = [requirements], e.g. {flash-attn = ["torch"]}')
    deps: dict[str, tuple[str, ...]] = {}
    for package, reqs in (deps_raw or {}).items():
        if not isinstance(reqs, list) or not reqs or not all(isinstance(r, str) and r.strip() for r in reqs):
            raise t.error(["build-dependencies", package], f"must be a non-empty list of requirements, not {reqs!r}")
        parsed = [_build_dependency(t, ["build-dependencies", package, i], text) for i, text in enumerate(reqs)]
        deps[canonical_name(package)] = tuple(sorted(parsed))
    isolation = canonical_names(t.strings("no-build-isolation"))
    env_raw = t.get("build-env")
    if env_raw is not None and not isinstance(env_raw, dict):
        raise t.error(["build-env"], 'must be a table of NAME = "value", e.g. {MAX_JOBS = "4"}')
    env = t.table("build-env").variables()  # a line of a shell script in the image
    return tuple(sorted(deps.items())), isolation, env


def _build_dependency(t: Table, where: list[str | int], text: str) -> str:
    """A requirement of build-dependencies, normalised: a locked package, named without a URL."""
    req = parse_requirement(text, lambda problem: t.error(where, problem))
    if req.url:
        raise t.error(where, "a build dependency is a locked package: name it, without a URL")
    return str(req)


def local_reference(req: Requirement, root: Path, error: Callable[[str], ConfigError]) -> str | None:
    """For ``name @ ./wheels/x.whl`` (or a ``file:`` URL): the archive's path relative to the spec's directory,
    checked (inside the project, an existing wheel or sdist); None for a remote URL or no URL at all."""
    url = req.url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and parts.scheme != "file":
        return None
    raw = unquote(parts.path) if parts.scheme == "file" else url
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        raise error(f"{url}: a file URL on another host cannot be locked")
    path = Path(raw) if Path(raw).is_absolute() else root / raw
    project = root.resolve()
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(project)
    except ValueError:
        raise error(f"{url}: {resolved} is outside the project ({project}); the lock holds paths relative "
                    "to the spec, so copy the file below it (e.g. wheels/)") from None
    if resolved.is_dir():
        raise error(f"{url}: a directory cannot be locked by hash; build a wheel of it (uv build) and "
                    "name the wheel")
    if not resolved.is_file():
        raise error(f"{url}: no such file")
    if not resolved.name.endswith(_ARCHIVES):
        raise error(f"{url}: not a wheel or an sdist ({', '.join(_ARCHIVES)})")
    if any(c.isspace() for c in relative.as_posix()):
        raise error(f"{url}: a path with spaces cannot be written in a requirement; rename the file")
    return relative.as_posix()
