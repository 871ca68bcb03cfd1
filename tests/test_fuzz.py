"""Bad input never breaks envbuild: generated specs, locks and reports (wrong types, unknown keys, odd Unicode,
control characters, huge values, shell and template injection in every field) go through `lock --check`, `lock`
(against the loopback index and apt mirror), `render`, `export`, `check` and `report`.  The only outcomes allowed
are exit codes 0, 1 and 2 (2 with one line on stderr); never a traceback, never a hang, never a rendered build file
that runs something the lock did not say.

CI runs a small profile on every change; `make fuzz` runs ENVBUILD_FUZZ=1000 cases of each and prints the
throughput.  A failing example found by the full run is saved here as an @example.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envbuild.compat import tomllib
from tests.conftest import FIXTURES, write_spec
from tests.support.pypi import LocalIndex

CASES = int(os.environ.get("ENVBUILD_FUZZ", "0") or 0)
SETTINGS = settings(max_examples=CASES or 25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CANARY = "/tmp/envbuild-fuzz-PWNED"
EVIL = "http://127.0.0.1:9/evil"
# every character that ends a line for pip, apt, a shell or Python's splitlines, then something that must not
# become a line of its own: a command, a pip option
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\t"]
INJECTIONS = [f"x'; touch {CANARY}; echo '", f"$(touch {CANARY})", f"`touch {CANARY}`", f"x\nRUN touch {CANARY}",
              f'x" && touch {CANARY} && "', "{{ 7*7 }}", "{% raw %}", "\\", "\x00", "\x1b[31m", "\u202e", "A" * 5000,
              *(f"x{b}RUN touch {CANARY}" for b in BREAKS), *(f"x{b}--index-url {EVIL}" for b in BREAKS)]
DEEP = 1000  # levels of nesting: past tomllib's limit (400) and Python's recursion limit for JSON
THROUGHPUT: dict[str, list[float]] = {}

text = st.one_of(st.text(max_size=30), st.sampled_from(INJECTIONS),
                 st.text(st.sampled_from(list("az09.+~:-_ ;&|$`'\"\\\n\t#(){}*<>=/@[]%")), max_size=30))
scalars = st.one_of(text, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(text, inner, max_size=4)), max_leaves=8)


def run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """The console script in-process (as a user runs it): (exit code, stdout, stderr); a hang fails."""
    from envbuild.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(60)
    try:
        with _cwd(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    THROUGHPUT.setdefault(argv[0], []).append(time.perf_counter() - started)
    stderr = err.getvalue()
    assert code in (0, 1, 2), (argv, code, stderr)
    assert "Traceback" not in stderr, stderr
    if code == 2:
        assert stderr.strip(), f"{argv}: exit 2 without a word"
    return code, out.getvalue(), stderr


def _hung(*_: object) -> None:
    raise AssertionError("the command hung for 60 s")


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="module", autouse=True)
def _report_throughput() -> Iterator[None]:
    yield
    if CASES:
        for command, seconds in sorted(THROUGHPUT.items()):
            sys.__stdout__.write(f"\nfuzz: envbuild {command}: {len(seconds)} runs, "  # type: ignore[union-attr]
                                 f"{len(seconds) / sum(seconds):.1f} per second\n")


def dump(doc: Any, deep: int | None = None) -> str | None:
    """DOC as TOML; DEEP: the value of its DEEP-th assignment (counted round the lines) nested a thousand levels."""
    try:
        text = tomlkit.dumps(doc)
    except Exception:
        return None
    if deep is None:
        return text
    lines = text.splitlines()
    assignments = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    if not assignments:
        return text
    i = assignments[deep % len(assignments)]
    lines[i] = lines[i].split(" = ", 1)[0] + " = " + "[" * DEEP + "]" * DEEP
    return "\n".join(lines) + "\n"


def _no_injected_line(text: str, name: str) -> None:
    """No line of a generated file starts with what an injection carried: a command, a pip option."""
    for line in text.splitlines():
        stripped = line.strip()
        assert not stripped.startswith(("RUN touch", f"--index-url {EVIL}", "touch ")), (name, line)
        assert not (stripped.startswith("--") and EVIL in stripped), (name, line)


# ---------------------------------------------------------------------------------------------------------
# Specs: `lock --check` reads them without the network


TABLE_KEYS = {
    "environment": ["name", "platform", "platforms", "python", "base-image", "distro"],
    "python": ["requirements", "requirements-files", "index-url", "extra-index-urls", "resolver", "from-conda"],
    "system": ["packages", "mirror", "security-mirror", "signed-by", "insecure-unsigned"],
    "cuda": ["version"], "conda": ["channels", "packages", "cuda", "prefix"], "env": [], "check": ["ignore-extra"],
}
GOOD = {"environment": {"name": "t", "platform": "linux/amd64", "distro": "debian:bookworm", "python": "3.11"},
        "python": {"requirements": ["alpha"]}}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.sampled_from([*TABLE_KEYS, "unknown-table"]))
        keys = TABLE_KEYS.get(table) or []
        key = draw(st.sampled_from(keys) if keys and draw(st.booleans()) else text)
        doc.setdefault(table, {})
        if isinstance(doc[table], dict):
            doc[table][key] = draw(values | st.lists(text, max_size=3))
        if draw(st.booleans()) and draw(st.booleans()):
            doc[table] = draw(values)
    return doc


@SETTINGS
@given(specs(), st.none() | st.integers(0, 50))
@example({**GOOD, "env": {"X": "a\nb"}}, None)
@example({**GOOD, "system": {"signed-by": "../../etc/passwd", "mirror": "http://127.0.0.1:1/x"}}, None)
@example(GOOD, 3)
def test_any_spec_is_checked_without_a_traceback(tmp_path: Path, spec: dict[str, Any], deep: int | None) -> None:
    body = dump(spec, deep)
    if body is None:
        return
    (tmp_path / "envbuild.toml").write_text(body, encoding="utf-8")
    (tmp_path / "envbuild.lock").unlink(missing_ok=True)
    run(["lock", "--check"], tmp_path)


@SETTINGS
@given(st.binary(max_size=400))
@example(b"\xff\xfe[environment]")
@example(b"[environment\n")
def test_any_bytes_as_a_spec_are_one_line(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "envbuild.toml").write_bytes(data)
    run(["lock", "--check"], tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Locks: render, export, check


LOCKS = [FIXTURES / "render" / "envbuild.lock", FIXTURES / "golden" / "lock-sample-multi.toml"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


@st.composite
def locks(draw: st.DrawFn) -> str | None:
    doc = tomllib.loads(draw(st.sampled_from(LOCKS)).read_text())
    strings = [p for p in _paths(doc) if p and isinstance(_at(doc, p), str)]
    for _ in range(draw(st.integers(0, 2))):  # a control character and a line of its own into a string slot
        path = draw(st.sampled_from(strings))
        value = _at(doc, path[:-1])[path[-1]]
        at = draw(st.integers(1, max(1, len(value))))
        _at(doc, path[:-1])[path[-1]] = value[:at] + draw(st.sampled_from(INJECTIONS)) + value[at:]
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        how = draw(st.sampled_from(["replace", "inject", "delete", "add"]))
        if how == "delete":
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(text)] = draw(values)
        elif how == "inject" and isinstance(parent[path[-1]], str):
            parent[path[-1]] = parent[path[-1]] + draw(st.sampled_from(INJECTIONS))
        else:
            parent[path[-1]] = draw(values)
    return dump(doc, draw(st.none() | st.none() | st.integers(0, 200)))


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _no_injected_command(build_file: str) -> None:
    """No shell word of a RUN line, and no instruction, names the canary: injected text stays inside one word."""
    for line in build_file.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        assert not line.lstrip().upper().startswith(("RUN TOUCH",)), line
        if line.lstrip().startswith("RUN "):
            try:
                words = shlex.split(line.lstrip()[4:], comments=True)
            except ValueError:
                continue  # heredocs and the like: the instruction-level check above still applies
            assert CANARY not in words, line


@SETTINGS
@given(locks(), st.sampled_from(["dockerfile", "apptainer", "devcontainer"]))
def test_any_lock_renders_safely_or_is_refused(tmp_path: Path, lock: str | None, fmt: str) -> None:
    if lock is None:
        return
    (tmp_path / "envbuild.lock").write_text(lock, encoding="utf-8")
    out = tmp_path / f"out-{fmt}"
    code, _, _ = run(["render", "--format", fmt, "-o", str(out)], tmp_path)
    if code == 0:
        for name in ("Dockerfile", "envbuild.def"):
            for found in out.rglob(name):
                _no_injected_command(found.read_text())
        for found in out.rglob("*"):
            if found.is_file() and found.suffix in ("", ".txt", ".sources", ".sha256", ".def", ".json"):
                _no_injected_line(found.read_text(errors="replace"), found.name)


@SETTINGS
@given(locks(), st.sampled_from(["requirements", "pylock", "conda-lock", "explicit", "cyclonedx"]))
def test_any_lock_exports_or_is_refused(tmp_path: Path, lock: str | None, fmt: str) -> None:
    if lock is None:
        return
    (tmp_path / "envbuild.lock").write_text(lock, encoding="utf-8")
    platform = ["--platform", "linux/amd64"] if fmt != "conda-lock" else []
    code, out, _ = run(["export", "--format", fmt, *platform, "-o", "-"], tmp_path)
    if code == 0 and fmt in ("requirements", "explicit"):  # the line-oriented ones
        _no_injected_line(out, fmt)


@SETTINGS
@given(locks())
def test_any_lock_is_checked_or_refused(tmp_path: Path, lock: str | None) -> None:
    if lock is None:
        return
    (tmp_path / "envbuild.lock").write_text(lock, encoding="utf-8")
    run(["check", "--json", "--platform", "linux/amd64", "--root", str(tmp_path)], tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Reports


@SETTINGS
@given(st.lists(values | st.fixed_dictionaries({"schema": st.just(1), "ok": st.booleans(), "host": values,
                                                "findings": st.lists(values, max_size=3)}), min_size=1, max_size=3))
@example([{"schema": 1, "ok": False, "host": "", "findings": []}])  # found by the fuzz: a host that is not an object
@example([{"schema": 1, "ok": True, "host": {}, "findings": [{"kind": 1}]}])
def test_any_report_is_aggregated_or_refused(tmp_path: Path, reports: list[Any]) -> None:
    names = []
    for i, report in enumerate(reports):
        text = json.dumps(report)
        if i == 1 and len(text) % 3 == 0:  # now and then, a report nested deeper than Python's JSON reader goes
            text = "[" * 100 * DEEP + "]" * 100 * DEEP
        (tmp_path / f"{i}.json").write_text(text)
        names.append(f"{i}.json")
    for fmt in ("human", "markdown"):
        code, out, _ = run(["report", "--format", fmt, *names], tmp_path)
        if code in (0, 1):
            _no_injected_line(out, f"report {fmt}")


# ---------------------------------------------------------------------------------------------------------
# `lock` itself, against the loopback index and apt mirror (slower: a few cases in CI)


@settings(max_examples=CASES or 4, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requirements=st.lists(st.one_of(st.sampled_from(["alpha", "beta>=1", "gamma==9", "needs-newer-beta", "nope"]),
                                       text), min_size=1, max_size=3),
       packages=st.lists(st.one_of(st.sampled_from(["git", "libgomp1", "nope-pkg"]), text), max_size=2),
       env=st.dictionaries(text, text, max_size=2))
def test_any_lock_request_resolves_or_is_one_line(tmp_path: Path, index: LocalIndex, requirements: list[str],
                                                  packages: list[str], env: dict[str, str]) -> None:
    spec = write_spec(tmp_path / "p", index.url, requirements, system=packages)
    if env:
        body = dump({"env": env})
        if body is None:
            return
        spec.write_text(spec.read_text() + "\n" + body)
    before = (tmp_path / "p" / "envbuild.lock").read_bytes() if (tmp_path / "p" / "envbuild.lock").exists() else None
    code, _, _ = run(["lock"], tmp_path / "p")
    if code == 2 and before is not None:
        assert (tmp_path / "p" / "envbuild.lock").read_bytes() == before, "a failed lock keeps the old one"
