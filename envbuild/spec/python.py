"""The ``[python]`` table: requirements (inline and from requirements files), indexes and the resolver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envbuild.errors import ConfigError
from envbuild.spec.model import DEFAULT_INDEX, RESOLVERS, PythonSpec
from envbuild.spec.urls import check_url
from envbuild.validate import Table


def parse_python(t: Table, root: Path, shown: str) -> PythonSpec:
    t.only("requirements", "requirements-files", "index-url", "extra-index-urls", "resolver", "from-conda")
    requirements: dict[str, str] = {}
    for i, text in enumerate(t.strings("requirements")):
        req = _parse_requirement(text, lambda problem, i=i: t.error(["requirements", i], problem))
        requirements[str(req)] = str(req)
    files = t.strings("requirements-files")
    for i, rel in enumerate(files):
        file_path = root / rel
        if not file_path.is_file():
            raise t.error(["requirements-files", i], f"{rel}: no such file (paths are relative to {shown})")
        for req in read_requirements_file(file_path, shown_as=rel):
            requirements[str(req)] = str(req)
    index_url = t.string("index-url", default=DEFAULT_INDEX) or DEFAULT_INDEX
    check_url(index_url, lambda problem: t.error(["index-url"], problem))
    extras = t.strings("extra-index-urls")
    for i, url in enumerate(extras):
        check_url(url, lambda problem, i=i: t.error(["extra-index-urls", i], problem))
    resolver = t.string("resolver", default="uv") or "uv"
    if resolver not in RESOLVERS:
        raise t.error(["resolver"], f"{resolver!r} is not a resolver (use one of: {', '.join(RESOLVERS)})")
    from_conda = tuple(sorted({canonicalize_name(n) for n in t.strings("from-conda")}))
    return PythonSpec(requirements=tuple(sorted(requirements, key=_req_sort_key)), requirements_files=files,
                      index_url=index_url, extra_index_urls=extras, resolver=resolver, from_conda=from_conda)


def _req_sort_key(text: str) -> tuple[str, str]:
    return (canonicalize_name(Requirement(text).name), text)


def _parse_requirement(text: str, error: Any) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise error(f"invalid requirement {text!r}: {str(exc).splitlines()[0]}") from None
    req.name = canonicalize_name(req.name)
    return req


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

        out.append(_parse_requirement(line, error))
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
