"""envbuild/lockfile/parse.py: a large lock's parse kept in the cache, and several locks read at once (a forked child
parses the next into the cache while this process reads one)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.errors import LockfileError
from envbuild.lockfile import PythonPackage
from tests.test_lockfile import SAMPLE

# Run in a process of its own: pytest-xdist's workers run threads, and a child is never forked beside a thread.
# It counts the children forked, and reports whether any is left unwaited for.
READ_AT_ONCE = """
import json, os, sys
cpus = int(os.environ.get("CPUS", "0"))
if cpus:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cpus]))
from envbuild import lockfile
from envbuild.errors import LockfileError
forks = []
fork = os.fork
def counted():
    pid = fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = counted
paths = sys.argv[1:]
try:
    locks = lockfile.loads_files([(open(p).read(), p) for p in paths])
    outcome = [lockfile.dumps(lock) for lock in locks]
except LockfileError as exc:
    outcome = str(exc)
try:
    os.waitpid(-1, os.WNOHANG)
    left = True
except ChildProcessError:
    left = False
print(json.dumps({"forks": len(forks), "outcome": outcome, "left": left}))
"""


def _large(tmp_path: Path, name: str, version: str) -> Path:
    packages = tuple(PythonPackage(f"pkg-{i:03d}", version, (f"sha256:{i:064x}",)) for i in range(600))
    lock = dataclasses.replace(SAMPLE, python=dataclasses.replace(SAMPLE.python, packages=packages))
    path = tmp_path / name
    path.write_text(lockfile.dumps(lockfile.LockFile.of(lock)))
    assert path.stat().st_size > 1 << 16, "the cache, and reading apart, are for large locks: this one must be large"
    return path


def _read_at_once(*paths: Path, cpus: int | None = None) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", READ_AT_ONCE, *map(str, paths)], capture_output=True, text=True,
                          env={**os.environ, "CPUS": str(cpus or 0)}, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _usable_cpus() -> int:
    if not hasattr(os, "sched_getaffinity") or sys.platform != "linux":
        pytest.skip("reading locks apart forks a child on Linux only")
    return len(os.sched_getaffinity(0))


def test_two_large_locks_read_at_once_are_the_locks_read_in_turn_and_a_child_parsed_the_second(tmp_path: Path) -> None:
    if _usable_cpus() < 2:
        pytest.skip("one CPU here: no child is forked, the locks are read in turn")
    old, new = _large(tmp_path, "old.lock", "1.0"), _large(tmp_path, "new.lock", "2.0")
    result = _read_at_once(old, new)
    in_turn = [lockfile.dumps(lockfile.read_lockfile(path)) for path in (old, new)]
    assert result == {"forks": 1, "outcome": in_turn, "left": False}
    assert len(list((tmp_path / ".envbuild-cache").rglob("lock-parse-*"))) == 2
    again = _read_at_once(old, new)  # both parses are in the cache now: nothing to start a child for
    assert again == {"forks": 0, "outcome": in_turn, "left": False}


def test_on_one_cpu_the_locks_are_read_in_turn_without_a_child(tmp_path: Path) -> None:
    _usable_cpus()
    old, new = _large(tmp_path, "old.lock", "1.0"), _large(tmp_path, "new.lock", "2.0")
    result = _read_at_once(old, new, cpus=1)
    assert result == {"forks": 0, "outcome": [lockfile.dumps(lockfile.read_lockfile(p)) for p in (old, new)],
                      "left": False}


@pytest.mark.parametrize("broken", [0, 1])
def test_a_broken_lock_read_at_once_gives_its_own_error_and_leaves_no_child_behind(tmp_path: Path,
                                                                                   broken: int) -> None:
    """The child that parses a broken lock leaves no entry; this process then parses it and raises the error, naming
    that lock.  When the first lock is the broken one, the child still parsing the second is waited for."""
    if _usable_cpus() < 2:
        pytest.skip("one CPU here: no child is forked")
    paths = [_large(tmp_path, "old.lock", "1.0"), _large(tmp_path, "new.lock", "2.0")]
    paths[broken].write_text(paths[broken].read_text().replace('version = "', 'version = ', 1))
    result = _read_at_once(*paths)
    assert result["forks"] == 1  # for the second lock, whichever is broken
    assert result["left"] is False
    assert isinstance(result["outcome"], str) and result["outcome"].startswith(f"{paths[broken]}: not valid TOML")


def test_a_large_locks_parse_is_kept_and_an_entry_for_another_text_is_never_used(tmp_path: Path) -> None:
    """The parse cache (every command reads the lock) names an entry by the text's length and CRC-32; an entry
    holding another text under that name, as a collision or a stale file would, must cost a miss, not a wrong lock."""
    import marshal

    from envbuild.compat import tomllib

    path = _large(tmp_path, "envbuild.lock", "1.0")
    text = path.read_text()
    assert lockfile.dumps(lockfile.read_lockfile(path)) == text
    entries = list((tmp_path / ".envbuild-cache").rglob("lock-parse-*"))
    assert len(entries) == 1, "the parse was not kept"
    assert lockfile.dumps(lockfile.read_lockfile(path)) == text  # from the entry
    other = text.replace('version = "1.0"', 'version = "6.6"')
    entries[0].write_bytes(marshal.dumps((other.encode(), tomllib.loads(other))))
    assert lockfile.dumps(lockfile.read_lockfile(path)) == text


def test_a_broken_large_lock_is_a_one_line_error_and_keeps_nothing(tmp_path: Path) -> None:
    path = _large(tmp_path, "envbuild.lock", "1.0")
    path.write_text(path.read_text() + "\n[python\n")
    with pytest.raises(LockfileError, match=r"envbuild.lock: not valid TOML .*regenerate it with envbuild lock"):
        lockfile.read_lockfile(path)
    assert not list((tmp_path / ".envbuild-cache").rglob("lock-parse-*"))
