"""The ``[python]`` table: requirements (inline and from requirements files), indexes and the resolver."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from envbuild.errors import ConfigError
from envbuild.spec.builds import (
    canonical_name,
    canonical_names,
    local_reference,
    parse_build,
    parse_indexes,
    parse_requirement,
    parse_sources,
)
from envbuild.spec.model import DEFAULT_INDEX, RESOLVERS, PythonSpec
from envbuild.spec.urls import check_url
from envbuild.validate import Table

if TYPE_CHECKING:  # packaging's parser loads with the first requirement (a conda-only spec has none)
    from packaging.requirements import Requirement


def parse_python(t: Table, root: Path, shown: str) -> PythonSpec:
    t.only("requirements", "requirements-files", "index-url", "extra-index-urls", "resolver", "from-conda",
           "indexes", "sources", "build-dependencies", "no-build-isolation", "build-env",
           "build-image")
    requirements: dict[str, str] = {}
    local: dict[str, str] = {}

    def add(req: Requirement, error: Callable[[str], ConfigError]) -> None:
        rel = local_reference(req, root, error)
        if rel is not None:  # one spelling, relative to the spec: the lock never holds a host path
            req.url = f"./{rel}"
            local[req.name] = rel
        requirements[str(req)] = str(req)

    for i, text in enumerate(t.strings("requirements")):
        def error(problem: str, i: int = i) -> ConfigError:
            return t.error(["requirements", i], problem)

        add(parse_requirement(text, error), error)
    files = t.strings("requirements-files")
    for i, rel in enumerate(files):
        file_path = root / rel
        if not file_path.is_file():
            raise t.error(["requirements-files", i], f"{rel}: no such file (paths are relative to {shown})")
        def file_error(problem: str, i: int = i) -> ConfigError:
            return t.error(["requirements-files", i], problem)

        for req in read_requirements_file(file_path, shown_as=rel):
            add(req, file_error)
    index_url = t.string("index-url", default=DEFAULT_INDEX) or DEFAULT_INDEX
    check_url(index_url, lambda problem: t.error(["index-url"], problem))
    extras = t.strings("extra-index-urls")
    for i, url in enumerate(extras):
        check_url(url, lambda problem, i=i: t.error(["extra-index-urls", i], problem))
    resolver = t.string("resolver", default="uv") or "uv"
    if resolver not in RESOLVERS:
        raise t.error(["resolver"], f"{resolver!r} is not a resolver (use one of: {', '.join(RESOLVERS)})")
    from_conda = canonical_names(t.strings("from-conda"))
    indexes = parse_indexes(t)
    sources = parse_sources(t, indexes, {_requirement_name(r) for r in requirements})
    build_dependencies, no_build_isolation, build_env = parse_build(t)
    build_image = t.word("build-image")
    if build_image is not None and not build_dependencies:
        raise t.error(["build-image"], "is where the sdists of build-dependencies compile, and there is none; "
                      'name what each needs to build, e.g. build-dependencies = {flash-attn = ["torch"]}')
    if resolver != "uv" and (indexes or build_dependencies or no_build_isolation or build_env or local or build_image):
        raise t.error(["resolver"], "indexes, sources, build options and local files are handed to uv; "
                      'remove resolver = "pip-tools"')
    return PythonSpec(requirements=tuple(sorted(requirements, key=_req_sort_key)), requirements_files=files,
                      index_url=index_url, extra_index_urls=extras, resolver=resolver, from_conda=from_conda,
                      indexes=indexes, sources=sources, build_dependencies=build_dependencies,
                      no_build_isolation=no_build_isolation, build_env=build_env, build_image=build_image,
                      local_files=tuple(sorted(local.items())))


def _requirement_name(text: str) -> str:
    """The normalised name of a requirement already validated (``parse_requirement``)."""
    from packaging.requirements import Requirement

    return canonical_name(Requirement(text).name)


def _req_sort_key(text: str) -> tuple[str, str]:
    return (_requirement_name(text), text)


def read_requirements_file(path: Path, shown_as: str, _seen: frozenset[Path] = frozenset()) -> list[Requirement]:
    """Read a requirements file: one PEP 508 requirement a line, comments, continuations and ``-r FILE``.

    Other pip options are refused, since the spec carries indexes and the lock carries hashes.
    """
    if path.resolve() in _seen:
        raise ConfigError(shown_as, "", "includes itself (a -r cycle)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown_as, "", f"cannot read: {exc}") from None
    out: list[Requirement] = []
    for lineno, line in logical_lines(text):
        where = f"line {lineno}"
        if line.startswith(("-r ", "--requirement ", "--requirement=")):
            target = re.split(r"[ =]", line, maxsplit=1)[1].strip()
            out += read_requirements_file(path.parent / target, f"{shown_as} -> {target}",
                                          _seen | {path.resolve()})
            continue
        if line.startswith("-"):
            raise ConfigError(shown_as, where, f"{line.split()[0]}: pip options are not read here; put indexes in "
                              "[python] index-url / extra-index-urls (hashes come from the lock)")

        def error(problem: str, where: str = where) -> ConfigError:
            return ConfigError(shown_as, where, problem)

        out.append(parse_requirement(line, error))
    return out


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = lineno
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield start, line
    if pending.strip():
        yield start, pending.strip()
