"""envbuild record and envbuild.record(): the fingerprint of the environment a run starts in."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild


def record(cwd: Path, *args: str, **env: str) -> dict:
    done = envbuild("record", "--json", "--python", str(cwd / ".venv/bin/python"), *args, cwd=cwd,
                    env={"PYTHONHASHSEED": "0", **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_fingerprint_names_the_lock_the_verdict_and_the_host(env: Path) -> None:
    fingerprint = record(env)
    lock = env / "envbuild.lock"
    assert fingerprint["lock"] == {"path": "envbuild.lock",
                                   "sha256": "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest(),
                                   "spec-hash": lockfile.read_lock(lock).spec_hash}
    assert fingerprint["verdict"] == {"ok": True, "findings": {}}
    host = fingerprint["host"]
    assert host["executable"] == str(env / ".venv/bin/python") and host["glibc"] and host["platform"]
    assert fingerprint["image"] is None and fingerprint["schema"] == 1
    # drift shows in the counts
    drifted = record(env, PYTHONHASHSEED="1")
    assert drifted["verdict"] == {"ok": False, "findings": {"env": 1}}
    # in words: one column of values, however long a key (findings.interpreter: a lock for another interpreter)
    path = env / "envbuild.lock"
    lock = lockfile.read_lock(path)
    path.write_text(lockfile.dumps(dataclasses.replace(lock, python=dataclasses.replace(lock.python, version="3.9.0"))))
    text = envbuild("record", "--python", str(env / ".venv/bin/python"), cwd=env, env={"PYTHONHASHSEED": "1"})
    rows = [re.fullmatch(r"(\S+)( {2,})(.+)", line) for line in text.stdout.splitlines()]
    assert all(rows) and len({row.start(3) for row in rows if row}) == 1, f"one column of values:\n{text.stdout}"
    pairs = {row.group(1): row.group(3) for row in rows if row}
    assert (pairs["findings.env"], pairs["findings.interpreter"], pairs["ok"]) == ("1", "1", "false"), pairs


def test_the_python_api_is_the_same_and_needs_no_lock(env: Path, tmp_path: Path) -> None:
    code = ("import envbuild, json, sys; print(json.dumps(envbuild.record(python=sys.argv[1]))); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich', 'tomlkit', 'requests')))")
    done = subprocess.run([sys.executable, "-c", code, str(env / ".venv/bin/python")], cwd=env, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0",
                                          "ENVBUILD_CACHE_DIR": str(tmp_path / "cache")}, check=False)
    assert done.returncode == 0, done.stderr
    first, loaded = done.stdout.splitlines()
    assert json.loads(first)["verdict"] == {"ok": True, "findings": {}}
    assert loaded == "[]", "standard library only on its path"
    empty = tmp_path / "empty"
    empty.mkdir()
    done = envbuild("record", "--json", cwd=empty)
    assert done.returncode == 0 and json.loads(done.stdout)["lock"] is None
    done = envbuild("record", "-l", "missing.lock", cwd=empty)
    assert done.returncode == 2 and done.stderr == ("envbuild: error: missing.lock: no such lock (create it with "
                                                    "envbuild lock, or give -l LOCK)\n")
    nowhere = envbuild("record", "--python", "no/such/python", cwd=empty)  # named, like a lock: bad input is exit 2
    assert nowhere.returncode == 2 and nowhere.stderr == ("envbuild: error: --python: no/such/python does not "
                                                          "exist; give the path of a Python interpreter (a virtual "
                                                          "environment's bin/python)\n"), nowhere.stderr
    helped = envbuild("record", "--help", cwd=empty)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: envbuild record [OPTIONS]")
    assert "-l, --lock LOCK" in helped.stdout and "Examples:" in helped.stdout
    for args, message in ((["--bogus"], "no such option: --bogus"), (["-l"], "-l requires an argument (LOCK)"),
                          (["stray"], "unexpected argument: 'stray'"), (["--json", "--json"], "--json is given twice")):
        done = envbuild("record", *args, cwd=empty)
        assert done.returncode == 2 and done.stderr == f"envbuild record: error: {message} (see envbuild record " \
                                                       "--help)\n", (args, done.stderr)


@pytest.mark.parametrize("variable", ["ENVBUILD_LOCK"])
def test_the_lock_is_found_where_a_job_puts_it(env: Path, tmp_path: Path, variable: str) -> None:
    elsewhere = tmp_path / "job"
    elsewhere.mkdir()
    done = envbuild("record", "--json", "--python", str(env / ".venv/bin/python"), cwd=elsewhere,
                    env={variable: str(env / "envbuild.lock"), "PYTHONHASHSEED": "0"})
    assert json.loads(done.stdout)["lock"]["path"] == str(env / "envbuild.lock")
