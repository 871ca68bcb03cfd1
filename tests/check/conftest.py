"""The check tests' shared environment: a lock for this host's interpreter and a venv synced to it."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex

HOST_PYTHON = ".".join(map(str, sys.version_info[:3]))


@pytest.fixture
def env(tmp_path: Path, index: LocalIndex) -> Path:
    """A lock of alpha/beta/gamma for this host's interpreter (no apt part), and a venv synced to it."""
    write_spec(tmp_path, index.url, ["alpha", "gamma"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    path = tmp_path / "envbuild.lock"
    lock = lockfile.read_lock(path)
    lock = dataclasses.replace(lock, system=None, python=dataclasses.replace(lock.python, version=HOST_PYTHON),
                               env=(("PYTHONHASHSEED", "0"),))
    path.write_text(lockfile.dumps(lock))
    done = envbuild("sync", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def check(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    done = envbuild("check", "--python", str(cwd / ".venv/bin/python"), "--json", *args, cwd=cwd,
                    env={"PYTHONHASHSEED": "0", **(env or {})})
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def statuses(report: dict) -> set[tuple[str, str, str]]:
    return {(f["kind"], f["name"], f["status"]) for f in report["findings"] if f["severity"] == "error"}


def test_a_synced_venv_has_no_drift(env: Path) -> None:
    code, report = check(env)
    assert code == 0 and report["ok"] is True and statuses(report) == set()
    assert report["schema"] == 1 and report["lock"]["spec-hash"].startswith("sha256:")
    assert report["host"]["python"] == HOST_PYTHON


