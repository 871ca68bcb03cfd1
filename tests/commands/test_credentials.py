"""Index credentials never reach a process's command line, a spec written by init, or an error message.

Any user of a shared login node can read every process's argv (/proc/PID/cmdline); its environment is its owner's
alone.  The tests watch the process table while `envbuild lock` and `envbuild sync` run against a slow index that
needs a password, and look for the password in every command line they see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex

SECRET = "s3cret-t0ken-4f9a"


def command_lines() -> dict[int, str]:
    """pid -> command line of every process this user can see."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    out[int(entry)] = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
    return out


class Watcher:
    """Reads the process table every few milliseconds while a command runs: what it saw, and where SECRET was."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.leaks: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stop.is_set():
            for line in command_lines().values():
                self.seen.add(line)
                if SECRET in line:
                    self.leaks.append(line)
            time.sleep(0.005)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to read command lines")
def test_lock_and_sync_pass_index_credentials_without_a_command_line(tmp_path: Path, standard_wheels: list) -> None:
    root = tmp_path / "private"
    root.mkdir()
    with LocalIndex(root, auth=("ci-bot", SECRET)) as private:
        private.publish(*standard_wheels)
        private.delay = 0.05  # each answer waits: uv runs long enough to be seen
        url = private.url_with("${IDX_USER}:${IDX_TOKEN}")
        write_spec(tmp_path, url, ["alpha", "gamma"])
        with (tmp_path / "envbuild.toml").open("a") as spec:
            spec.write(f'extra-index-urls = ["{private.url_with("${IDX_USER}:${IDX_TOKEN}")}"]\n')
        env = {"IDX_USER": "ci-bot", "IDX_TOKEN": SECRET}
        with Watcher() as watcher:
            locked = envbuild("lock", cwd=tmp_path, env=env, timeout=300)
            synced = envbuild("sync", cwd=tmp_path, env=env, timeout=300)
        assert locked.returncode == 0, locked.stderr
        assert synced.returncode == 0, synced.stderr
        assert any(" pip compile " in line for line in watcher.seen), "uv's resolution was seen running"
        assert any(" pip sync " in line for line in watcher.seen), "uv's install was seen running"
        assert watcher.leaks == [], watcher.leaks
        assert SECRET not in (tmp_path / "envbuild.lock").read_text()


def test_an_error_of_the_index_does_not_say_the_password(tmp_path: Path, standard_wheels: list) -> None:
    root = tmp_path / "private"
    root.mkdir()
    with LocalIndex(root, auth=("ci-bot", SECRET)) as private:
        private.publish(*standard_wheels)
        write_spec(tmp_path, private.url_with("${IDX_USER}:${IDX_TOKEN}"), ["no-such-package"])
        done = envbuild("lock", cwd=tmp_path, env={"IDX_USER": "ci-bot", "IDX_TOKEN": SECRET})
        assert done.returncode == 2 and SECRET not in done.stderr + done.stdout, done.stderr
        verbose = envbuild("lock", "-v", cwd=tmp_path, env={"IDX_USER": "ci-bot", "IDX_TOKEN": SECRET})
        assert verbose.returncode == 2 and SECRET not in verbose.stderr + verbose.stdout
        broken = envbuild("lock", cwd=tmp_path, env={"IDX_USER": "ci-bot", "IDX_TOKEN": f"{SECRET}\n--pre"})
        assert broken.returncode == 2 and SECRET not in broken.stderr
        assert "${IDX_TOKEN} holds a space or a line break" in broken.stderr


def test_init_leaves_every_credential_out_of_the_spec(tmp_path: Path) -> None:
    """A token alone (https://TOKEN@host/...), user:password, in --index-url or a requirements file's options:
    left out and said; a ${VAR} placeholder is kept."""
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url https://deploy:{SECRET}@extra.example/simple\n"
                                               "alpha==1.0\n")
    done = envbuild("init", "--from", "requirements.txt", "--index-url", f"https://{SECRET}@pypi.example/simple",
                    "--no-lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = (tmp_path / "envbuild.toml").read_text()
    assert SECRET not in spec and SECRET not in done.stdout + done.stderr
    assert 'index-url = "https://pypi.example/simple"' in spec and "https://extra.example/simple" in spec
    assert "were left out of the spec (it is committed): put them in ~/.netrc" in done.stderr
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "requirements.txt").write_text("alpha==1.0\n")
    kept = envbuild("init", "--from", "requirements.txt", "--index-url", "https://${U}:${T}@pypi.example/simple",
                    "--no-lock", cwd=tmp_path / "kept")
    assert kept.returncode == 0 and "https://${U}:${T}@pypi.example/simple" in (
        tmp_path / "kept" / "envbuild.toml").read_text()
    assert "left out of the spec" not in kept.stderr


def test_the_watcher_sees_a_secret_on_a_command_line() -> None:
    """The test above can fail: a process started with the secret in its argv is caught."""
    with Watcher() as watcher:
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)", SECRET], check=True)
    assert watcher.leaks, "the watcher must see what it looks for"
