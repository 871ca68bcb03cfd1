"""Written paths that are not regular files (a FIFO here; /dev/null and /dev/stdout alike) are written into, never
replaced: a rename over a device turns it into a plain file that breaks every other program on the machine."""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path

from tests.conftest import FIXTURES, envbuild

LOCK = FIXTURES / "render" / "envbuild.lock"


def _reader(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_export_writes_into_a_fifo_and_dash_is_standard_output(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _reader(fifo, got)
    done = envbuild("export", "-l", str(LOCK), "--format", "requirements", "-o", str(fifo), cwd=tmp_path)
    reader.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "still a FIFO, not replaced by a file"
    assert got and b"--hash=sha256:" in got[0]
    assert not list(tmp_path.glob(".pipe.*")), "no temporary file left beside it"
    dash = envbuild("export", "-l", str(LOCK), "--format", "requirements", "-o", "-", cwd=tmp_path)
    assert dash.returncode == 0 and dash.stdout.encode() == got[0] and not (tmp_path / "-").exists()


def test_the_check_writes_its_junit_report_into_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "junit"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _reader(fifo, got)
    done = envbuild("check", "-l", str(LOCK), "--python", sys.executable, "--junit", str(fifo),
                    cwd=tmp_path)
    reader.join(timeout=30)
    assert done.returncode in (0, 1), done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got and got[0].startswith(b"<?xml")


def test_render_into_something_that_is_not_a_folder_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "context"
    os.mkfifo(fifo)
    done = envbuild("render", "-l", str(LOCK), "-o", str(fifo), cwd=tmp_path, timeout=30)
    assert done.returncode == 2 and "not a directory" in done.stderr and "Traceback" not in done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    plain = tmp_path / "file"
    plain.write_text("mine\n")
    done = envbuild("render", "-l", str(LOCK), "-o", str(plain), cwd=tmp_path)
    assert done.returncode == 2 and plain.read_text() == "mine\n"
