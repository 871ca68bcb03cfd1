"""Reading the records of ``envbuild.lock`` that several tables share: the Python packages (``[[python.packages]]``
and the build group, ``[[python.build-packages]]``), the platforms a record applies to, and the rule that no record
is locked twice for one platform."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from envbuild.lockfile.model import BuildImage, CondaPackage, PythonFile, PythonLock, PythonPackage, SystemPackage
from envbuild.pysources import PythonIndex
from envbuild.validate import Table


def platforms_of(table: Table, known: list[str]) -> tuple[str, ...]:
    value = table.strings("platforms")
    if not value:  # on every platform of the lock: most records
        return ()
    for i, item in enumerate(value):
        if item not in known:
            raise table.error(["platforms", i], f"{item!r} is not one of the lock's platforms ({', '.join(known)})")
    return tuple(sorted(value))


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")



Record = TypeVar("Record", PythonPackage, SystemPackage, CondaPackage)


def once(records: Sequence[Record], key: Callable[[Record], str], platforms: list[str], table: Table,
          where: str) -> Sequence[Record]:
    """RECORDS, where no two of one KEY are installed on one platform (a lock of several platforms may hold two
    versions of a package, each on its own platforms): a hand-edited lock with two would install both, or one by
    chance."""
    on: dict[tuple[str, str], int] = {}
    for i, record in enumerate(records):
        for platform in record.platforms or platforms:
            first = on.setdefault((key(record), platform), i)
            if first != i:
                raise table.error([where, i], f"{key(record)} is locked twice for {platform} (and at "
                                              f"{where}[{first}]); regenerate the lock with envbuild lock")
    return records


def _python_name(p: Table) -> str:
    """A locked distribution's name: a project name (PEP 508), as the lock writes it (normalised, PEP 503)."""
    name = p.required_word("name")
    if not _NAME_CHARS.issuperset(name) or not name[0].isalnum() or not name[-1].isalnum():
        raise p.error(["name"], f"{name!r} is not a project name (letters, digits, and . _ - between them)")
    return name




def python_packages(py: Table, key: str, platforms: list[str]) -> tuple[PythonPackage, ...]:
    """The records of ``[[python.KEY]]``, each locked once per platform."""
    packages = []
    for p in py.tables(key):
        files = []
        for f in p.tables("files"):
            files.append(PythonFile(name=f.required_word("name"), url=f.required_word("url"),
                                    hash=f.required_word("hash"),
                                    platforms=platforms_of(f, platforms)))
            f.done()
        path = p.string("path")
        if path is not None and (path.startswith("/") or "\\" in path or ".." in path.split("/")):
            raise p.error(["path"], f"{path!r} must be relative to the lock's directory, inside it")
        packages.append(PythonPackage(name=_python_name(p), version=p.required_word("version"),
                                      hashes=p.words("hashes"), files=tuple(files),
                                      platforms=platforms_of(p, platforms), index=p.word("index"),
                                      direct_url=p.word("direct-url"), path=path, vcs=p.word("vcs"),
                                      requested=p.boolean("requested"), via=p.words("via")))
        p.done()
    return tuple(once(packages, lambda p: p.name, platforms, py, key))


def python_lock(py: Table, platforms: list[str]) -> PythonLock:
    """``[python]`` and its records."""
    packages = python_packages(py, "packages", platforms)
    build_packages = python_packages(py, "build-packages", platforms)
    indexes = []
    for i in py.tables("indexes"):
        indexes.append(PythonIndex(name=i.required_word("name"), url=i.required_word("url"),
                                   explicit=i.boolean("explicit")))
        i.done()
    build = py.table("build-dependencies")
    deps = []
    for name in build.names():
        deps.append((name, build.words(name)))
    env = py.table("build-env")
    python = PythonLock(requested=py.required_word("requested"), resolver=py.required("resolver"),
                        index_url=py.required_word("index-url"), extra_index_urls=py.words("extra-index-urls"),
                        packages=packages, indexes=tuple(indexes), build_dependencies=tuple(deps),
                        no_build_isolation=py.words("no-build-isolation"), build_env=env.variables(),
                        build_packages=build_packages, build_image=py.word("build-image"))
    py.done()
    return python


def build_image(t: Table, digest: Callable[[Table, str], str | None]) -> BuildImage | None:
    """A target's ``build-image = {[reference = ...,] digest = ..., python = ..., cuda = ...}`` (lock version 6),
    or None; its reference only where [python] build-image is "auto"."""
    if t.raw.get("build-image") is None:
        t.get("build-image")
        return None
    b = t.table("build-image")
    found = digest(b, "digest")
    python = b.required_word("python")
    if not re.fullmatch(r"python[0-9]+\.[0-9]+", python):
        raise b.error(["python"], f"{python!r} is not an interpreter's command (pythonX.Y)")
    image = BuildImage(digest=found or b.required("digest"), python=python, cuda=b.word("cuda"),
                       reference=b.word("reference") or "")
    b.done()
    return image
