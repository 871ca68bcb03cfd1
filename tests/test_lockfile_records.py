"""The lists of records that ``envbuild.lockfile.write`` writes by hand (Python, apt and conda packages) read as
tomlkit would have written them, byte for byte: tomlkit itself is the oracle here, on random records."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from envbuild import lockfile
from envbuild.lockfile import Lock, PythonPackage, SystemPackage
from envbuild.lockfile.write import _python_records, _system_records
from tests.test_lockfile import AMD, ARM, SAMPLE, hex_digests, names, packages, versions

EVERYWHERE = {AMD, ARM}
# what may turn up in a record's strings: paths with spaces and quotes, non-ASCII, a backslash
odd = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


def _array(values: Any, multiline: bool = False) -> Any:
    array = tomlkit.array()
    array.extend(list(values))
    array.multiline(multiline and len(array) > 0)
    return array


def _tomlkit_records(table: str, rows: list[dict[str, Any]]) -> str:
    """ROWS as tomlkit writes ``[[TABLE.packages]]`` under an otherwise empty ``[TABLE]``, without that header."""
    aot = tomlkit.aot()
    for row in rows:
        item = tomlkit.table()
        for key, value in row.items():
            item.add(key, value)
        aot.append(item)
    parent = tomlkit.table()
    parent.add("packages", aot)
    doc = tomlkit.document()
    doc.add("version", 4)
    doc.add(table, parent)
    return "\n" + tomlkit.dumps(doc).split("\n\n", 1)[1]


def _where(platforms: tuple[str, ...]) -> dict[str, Any]:
    return {"platforms": _array(sorted(platforms))} if platforms and set(platforms) != EVERYWHERE else {}


def _why(requested: bool, via: tuple[str, ...]) -> dict[str, Any]:
    return {**({"requested": True} if requested else {}), **({"via": _array(sorted(via))} if via else {})}


def _python_row(p: PythonPackage) -> dict[str, Any]:
    row: dict[str, Any] = {"name": p.name, "version": p.version, **_where(p.platforms)}
    row.update({k: v for k, v in (("index", p.index), ("direct-url", p.direct_url), ("path", p.path),
                                  ("vcs", p.vcs)) if v is not None})
    row.update(_why(p.requested, p.via))
    row["hashes"] = _array(sorted(p.hashes), multiline=True)
    if p.files:
        files = tomlkit.array()
        for f in sorted(p.files, key=lambda f: f.name):
            inline = tomlkit.inline_table()
            inline.update({"name": f.name, "url": f.url, "hash": f.hash, **_where(f.platforms)})
            files.append(inline)
        files.multiline(True)
        row["files"] = files
    return row


def _system_row(p: SystemPackage) -> dict[str, Any]:
    return {"name": p.name, "version": p.version, "architecture": p.architecture, "sha256": p.sha256,
            **_where(p.platforms), **_why(p.requested, p.via)}


@settings(max_examples=150, deadline=None)
@given(st.lists(packages([AMD, ARM]), min_size=1, max_size=6, unique_by=lambda p: (p.name, p.version)),
       st.lists(odd, min_size=4, max_size=4))
def test_python_records_are_what_tomlkit_writes(found: list[PythonPackage], strings: list[str]) -> None:
    found[0] = dataclasses.replace(found[0], path=strings[0], via=tuple(sorted(strings[1:3])))
    ordered = sorted(found, key=lambda p: (p.name, p.version, p.platforms))
    assert _python_records(tuple(found), EVERYWHERE) == _tomlkit_records("python", [_python_row(p) for p in ordered])


system_packages = st.builds(SystemPackage, name=names, version=versions | odd,
                            architecture=st.sampled_from(["amd64", "arm64", "all"]),
                            sha256=hex_digests,
                            platforms=st.sampled_from([(), (AMD,), (ARM,), (AMD, ARM)]), requested=st.booleans(),
                            via=st.lists(names, max_size=2, unique=True).map(tuple))


@settings(max_examples=150, deadline=None)
@given(st.lists(system_packages, min_size=1, max_size=6))
def test_system_records_are_what_tomlkit_writes(found: list[SystemPackage]) -> None:
    ordered = sorted(found, key=lambda p: (p.name, p.architecture, p.version))
    assert _system_records(tuple(found), EVERYWHERE) == _tomlkit_records("system", [_system_row(p) for p in ordered])


def test_a_lock_without_records_keeps_version_first_and_reads_back() -> None:
    """An empty list of records is written first in its own table (tomlkit would hoist an empty [system]'s list
    above ``version``)."""
    from envbuild.lockfile import SystemLock

    empty = dataclasses.replace(SAMPLE, python=dataclasses.replace(SAMPLE.python, packages=()),
                                system=SystemLock(sources=("http://m bookworm main",), packages=()))
    text = lockfile.dumps(empty)
    assert text.split("\n")[2] == f"version = {lockfile.LOCK_VERSION}"
    assert "\n[python]\npackages = []\n" in text and "\n[system]\npackages = []\n" in text
    again = lockfile.loads(text)
    assert lockfile.dumps(again) == text and again.system is not None and again.system.packages == ()
    assert isinstance(again, Lock) and again.python.packages == ()


def test_reading_a_lock_leaves_the_garbage_collector_as_it_found_it() -> None:
    """The reader turns the cyclic collector off while it builds a lock's records, and back on after, also when the
    lock is refused; where it was off (the drift check runs without it), it stays off."""
    import gc

    from envbuild.errors import EnvbuildError

    text = lockfile.dumps(SAMPLE)
    assert gc.isenabled()
    assert {p.name for p in lockfile.loads_file(text).python.packages} == {p.name for p in SAMPLE.python.packages}
    assert gc.isenabled()
    with pytest.raises(EnvbuildError):
        lockfile.loads_file(text.replace(f"version = {lockfile.LOCK_VERSION}", "version = 99"))
    assert gc.isenabled()
    gc.disable()
    try:
        lockfile.loads_file(text)
        assert not gc.isenabled()
    finally:
        gc.enable()
