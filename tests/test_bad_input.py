"""Inputs that ended in a traceback, or cost a good file: each is one line on stderr and exit 2 now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.lockfile import Lock, PythonLock, PythonPackage, SystemLock, SystemPackage, Target
from tests.conftest import FIXTURES, envbuild, write_spec
from tests.support.pypi import LocalIndex

DEEP = 1000


def one_line(done: object, says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    lines = done.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in done.stderr and says in lines[0], done.stderr  # type: ignore


@pytest.mark.parametrize("command", [["lock"], ["lock", "--check"], ["render"], ["export", "--format",
                                     "requirements"], ["check"], ["diff", "envbuild.lock", "envbuild.lock"],
                                     ["why", "x"], ["record", "-l", "envbuild.lock"], ["sync"]])
def test_toml_nested_a_thousand_levels_deep_is_one_line(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "envbuild.toml").write_text('[environment]\nname = "x"\nplatform = "linux/amd64"\ndistro = '
                                            '"debian:bookworm"\npython = "3.11"\n[python]\nrequirements = '
                                            + "[" * DEEP + "]" * DEEP + "\n")
    (tmp_path / "envbuild.lock").write_text("version = 4\nspec-hash = " + "[" * DEEP + "]" * DEEP + "\n")
    one_line(envbuild(*command, cwd=tmp_path), "nested deeper than a")


def test_a_report_nested_deeper_than_json_allows_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "node1.json").write_text("[" * 100_000 + "]" * 100_000)
    one_line(envbuild("report", "node1.json", cwd=tmp_path), "node1.json: not a readable check report")


def _lock(packages: tuple[PythonPackage, ...] = (), system: SystemLock | None = None) -> str:
    return lockfile.dumps(Lock(spec_hash="sha256:" + "0" * 64, name="t", target=Target("linux/amd64"),
                               python=PythonLock("3.11", "uv", "https://pypi.example/simple", packages=packages),
                               system=system))


def twice(text: str, header: str, change: tuple[str, str] = ("", "")) -> str:
    """TEXT with its first record under HEADER written a second time right after it (with CHANGE made)."""
    start = text.index(header)
    end = text.find("\n[", start + len(header))
    record = text[start:end if end >= 0 else len(text)].rstrip("\n") + "\n"
    return text[:start] + record + "\n" + record.replace(*change) + text[start + len(record):]


def test_a_lock_with_two_records_of_one_package_is_refused(tmp_path: Path) -> None:
    """Read as valid, diff called it the same environment and render installed both."""
    one = PythonPackage("numpy", "1.26.4", ("sha256:" + "1" * 64,))
    text = _lock((one,))
    (tmp_path / "envbuild.lock").write_text(twice(text, "[[python.packages]]", ("1.26.4", "1.26.3")))
    for command in (["render"], ["diff", "envbuild.lock", "envbuild.lock"], ["export", "--format", "requirements"]):
        one_line(envbuild(*command, cwd=tmp_path), "[python] -> packages[1]: numpy is locked twice for linux/amd64 "
                                                   "(and at packages[0])")
    deb = SystemPackage("git", "1:2.39.5", "amd64", "2" * 64)
    text = _lock((one,), SystemLock(sources=("http://m.example/debian bookworm main",), packages=(deb,)))
    (tmp_path / "envbuild.lock").write_text(twice(text, "[[system.packages]]"))
    one_line(envbuild("export", "--format", "requirements", cwd=tmp_path), "git:amd64 is locked twice")


def test_a_lock_of_two_platforms_may_hold_two_versions_each_on_its_own(tmp_path: Path) -> None:
    whole = lockfile.LockFile(
        spec_hash="sha256:" + "0" * 64, name="t",
        targets=(lockfile.TargetLock("linux/amd64"), lockfile.TargetLock("linux/arm64")),
        python=PythonLock("3.11", "uv", "https://pypi.example/simple", packages=(
            PythonPackage("numpy", "1.26.4", ("sha256:" + "1" * 64,), platforms=("linux/amd64",)),
            PythonPackage("numpy", "1.26.3", ("sha256:" + "2" * 64,), platforms=("linux/arm64",)))))
    text = lockfile.dumps(whole)
    assert lockfile.dumps(lockfile.loads_file(text)) == text


def test_render_refuses_a_local_archive_that_is_a_link(tmp_path: Path) -> None:
    """It followed the link and printed the hash of what it pointed to."""
    lock = lockfile.read_lock(FIXTURES / "render" / "envbuild.lock")
    import dataclasses

    wheel = PythonPackage("kernels", "0.3", ("sha256:" + "3" * 64,), path="wheels/kernels-0.3-py3-none-any.whl")
    lock = dataclasses.replace(lock, python=dataclasses.replace(lock.python, packages=(*lock.python.packages, wheel)))
    (tmp_path / "wheels").mkdir()
    (tmp_path / "secret").write_text("not a wheel\n")
    (tmp_path / "wheels" / "kernels-0.3-py3-none-any.whl").symlink_to(tmp_path / "secret")
    (tmp_path / "envbuild.lock").write_text(lockfile.dumps(lock))
    done = envbuild("render", "-o", str(tmp_path / "out"), cwd=tmp_path)
    one_line(done, "kernels-0.3-py3-none-any.whl is a symbolic link; the lock names the archive itself")
    assert "sha256" not in done.stderr


def test_record_of_a_named_lock_that_is_no_lock_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.lock").write_text("version = \n")
    one_line(envbuild("record", "-l", "broken.lock", cwd=tmp_path), "broken.lock: not valid TOML")
    one_line(envbuild("record", cwd=tmp_path, env={"ENVBUILD_LOCK": str(tmp_path / "broken.lock")}),
             "broken.lock: not valid TOML")
    (tmp_path / "envbuild.lock").write_text("version = \n")
    found = envbuild("record", "--json", cwd=tmp_path)  # found, not named: recorded, the run goes on
    assert found.returncode == 0 and "not valid TOML" in json.loads(found.stdout)["verdict"]["error"]


def test_a_lock_shared_by_a_link_stays_a_link(tmp_path: Path, index: LocalIndex) -> None:
    shared = tmp_path / "shared"
    write_spec(shared, index.url, ["alpha"])
    assert envbuild("lock", cwd=shared).returncode == 0
    project = tmp_path / "project"
    write_spec(project, index.url, ["alpha", "gamma"])
    (project / "envbuild.lock").symlink_to(shared / "envbuild.lock")
    done = envbuild("lock", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "envbuild.lock").is_symlink(), "re-locking kept the link"
    assert "gamma" in {p.name for p in lockfile.read_lock(shared / "envbuild.lock").python.packages}
