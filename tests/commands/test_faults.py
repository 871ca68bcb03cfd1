"""Faults on the way to a lock: a mirror or index that answers 500, resets, truncates, hangs or corrupts; a lock
killed at many points; a full disk.  Each time: one line and exit 2, the old lock byte-identical, no temporary
file left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, write_spec
from tests.support.apt import AptMirror
from tests.support.faults import FaultyProxy
from tests.support.pypi import LocalIndex


def _spec_through(tmp_path: Path, index_url: str, mirror: AptMirror, mirror_url: str) -> Path:
    spec = write_spec(tmp_path, index_url, ["alpha"], system=["git"], apt=mirror)
    spec.write_text(spec.read_text().replace(mirror.url, mirror_url))
    return spec


def _failed_cleanly(done: subprocess.CompletedProcess[str], folder: Path, before: bytes) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert (folder / "envbuild.lock").read_bytes() == before, "the old lock stays byte-identical"
    assert not list(folder.glob(".envbuild.lock.*")), "no temporary file left behind"


@pytest.mark.parametrize("mode", ["500", "reset", "truncate", "corrupt"])
@pytest.mark.parametrize("where", ["InRelease", "Packages.xz"])
def test_a_failing_apt_mirror_gives_no_lock(tmp_path: Path, index: LocalIndex, mode: str, where: str) -> None:
    with AptMirror(tmp_path / "mirror") as mirror, FaultyProxy(mirror.url, "/nothing-yet", mode) as proxy:
        spec = _spec_through(tmp_path / "p", index.url, mirror, proxy.url)
        assert envbuild("lock", cwd=spec.parent).returncode == 0
        before = (spec.parent / "envbuild.lock").read_bytes()
        shutil.rmtree(tmp_path / ".envbuild-cache", ignore_errors=True)  # the indexes must be fetched again
        mirror.publish(extra_main=[])  # a new state of the mirror: new indexes, new InRelease
        proxy.match = f"bookworm/{where}" if where == "InRelease" else f"bookworm/main/binary-amd64/{where}"
        done = envbuild("lock", cwd=spec.parent)
        assert proxy.hits, "the fault was never served: the test proves nothing"
        _failed_cleanly(done, spec.parent, before)


@pytest.mark.parametrize("mode", ["500", "reset", "truncate", "hang"])
def test_a_failing_index_gives_no_lock(tmp_path: Path, index: LocalIndex, mode: str) -> None:
    with FaultyProxy(index.url.removesuffix("/simple"), "/nothing-yet", mode, hang=20) as proxy:
        spec = write_spec(tmp_path, f"{proxy.url}/simple", ["alpha"])
        assert envbuild("lock", cwd=tmp_path).returncode == 0
        before = (tmp_path / "envbuild.lock").read_bytes()
        shutil.rmtree(tmp_path / ".uv-cache", ignore_errors=True)
        proxy.match = "/simple/beta"
        spec.write_text(spec.read_text())
        done = envbuild("lock", "-U", cwd=tmp_path, env={"UV_HTTP_TIMEOUT": "3", "UV_HTTP_RETRIES": "1",
                                                         "UV_CACHE_DIR": str(tmp_path / ".uv-cache")})
        assert proxy.hits, "the fault was never served: the test proves nothing"
        _failed_cleanly(done, tmp_path, before)


def test_a_lock_killed_at_any_point_leaves_a_whole_lock(tmp_path: Path, index: LocalIndex) -> None:
    """kill -9 at twelve moments of a re-lock that changes pins: the lock is always the old one or the new one,
    whole; the next run clears what the killed one left."""
    spec = write_spec(tmp_path, index.url, ["alpha==1.0", "gamma"], system=["git"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    old = (tmp_path / "envbuild.lock").read_bytes()
    spec.write_text(spec.read_text().replace("alpha==1.0", "alpha"))
    started = time.monotonic()
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    took = time.monotonic() - started
    new = (tmp_path / "envbuild.lock").read_bytes()
    assert new != old
    for i in range(12):
        (tmp_path / "envbuild.lock").write_bytes(old)
        child = subprocess.Popen([sys.executable, "-m", "envbuild", "lock"], cwd=tmp_path, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(took * (i + 0.5) / 12)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        assert (tmp_path / "envbuild.lock").read_bytes() in (old, new), f"kill at {i}: a torn lock"
        lockfile.read_lockfile(tmp_path / "envbuild.lock")
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    assert not list(tmp_path.glob(".envbuild.lock.*.tmp")), "the next run clears what a killed one left"


def test_a_full_or_read_only_disk_keeps_the_old_lock(tmp_path: Path, index: LocalIndex) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "envbuild-test", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here to fill ({mounted.stderr.strip() or 'not root'})")
    try:
        spec = write_spec(disk, index.url, ["alpha==1.0", "gamma"], system=["git"])
        env = {"ENVBUILD_CACHE_DIR": str(tmp_path / "cache"), "UV_CACHE_DIR": str(tmp_path / "uv")}
        assert envbuild("lock", cwd=disk, env=env).returncode == 0
        before = (disk / "envbuild.lock").read_bytes()
        spec.write_text(spec.read_text().replace("alpha==1.0", "alpha"))
        _fill(disk)
        done = envbuild("lock", cwd=disk, env=env)
        assert "No space left on device" in done.stderr, done.stderr
        _failed_cleanly(done, disk, before)
        for filler in disk.glob("filler-*"):
            filler.unlink()
        if subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=False).returncode == 0:
            done = envbuild("lock", cwd=disk, env=env)
            assert "Read-only file system" in done.stderr, done.stderr
            _failed_cleanly(done, disk, before)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _fill(disk: Path) -> None:
    """Fill DISK to the last byte (small writes at the end, so no room is left for even a short file)."""
    for size in (1 << 16, 1 << 10, 1):
        try:
            with open(disk / f"filler-{size}", "wb") as filler:
                while True:
                    filler.write(b"\0" * size)
                    filler.flush()
        except OSError:
            continue
