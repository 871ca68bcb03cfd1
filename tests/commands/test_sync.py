"""`envbuild sync`: a real virtual environment made to match the lock, from the index on 127.0.0.1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envbuild.adapters import uv
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex, make_wheel


def installed(venv: Path) -> dict[str, str]:
    return uv.installed(venv / "bin" / "python")


@pytest.fixture
def locked(tmp_path: Path, index: LocalIndex) -> Path:
    write_spec(tmp_path, index.url, ["alpha", "gamma"])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_sync_creates_the_venv_and_installs_exactly_the_lock(locked: Path, index: LocalIndex) -> None:
    done = envbuild("sync", cwd=locked)
    assert done.returncode == 0, done.stderr
    assert "Created and synced" in done.stdout and "3 packages (3 installed, 0 removed)" in done.stdout
    assert installed(locked / ".venv") == {"alpha": "1.1", "beta": "1.1", "gamma": "1.0"}
    ran = subprocess.run([locked / ".venv/bin/python", "-c", "import alpha; print(alpha.__version__)"],
                         capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "1.1"


def test_sync_removes_extras_and_restores_changed_versions(locked: Path, index: LocalIndex) -> None:
    venv = locked / "dev-env"
    assert envbuild("sync", "--venv", str(venv), cwd=locked).returncode == 0
    subprocess.run([uv.binary(), "pip", "install", "--python", str(venv / "bin/python"), "--index-url", index.url,
                    "delta==1.0", "beta==1.0"], check=True, capture_output=True)
    assert installed(venv)["beta"] == "1.0"
    done = envbuild("sync", "--venv", str(venv), cwd=locked)
    assert done.returncode == 0, done.stderr
    assert "(1 installed, 2 removed)" in done.stdout
    assert installed(venv) == {"alpha": "1.1", "beta": "1.1", "gamma": "1.0"}


def test_sync_requires_the_locked_hashes(locked: Path, index: LocalIndex, tmp_path: Path) -> None:
    tampered = make_wheel(tmp_path / "evil", "alpha", "1.1", ["beta>=1.0"], module_text="print('owned')\n")
    index.publish(tampered)  # same file name, other bytes
    done = envbuild("sync", "--venv", str(tmp_path / "v"), cwd=locked)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "hash" in done.stderr.lower()
    assert "alpha" not in installed(tmp_path / "v")


def test_sync_refuses_a_venv_of_another_python(locked: Path, tmp_path: Path) -> None:
    lock = locked / "envbuild.lock"
    text = lock.read_text().replace('requested = "3.11"', 'requested = "3.9"')
    lock.write_text(text.replace('python = "3.11.2"\npython-source = "system"\n', ""))
    subprocess.run([uv.binary(), "venv", str(tmp_path / "v311"), "--python", "3.11", "-q"], check=True)
    done = envbuild("sync", "--venv", str(tmp_path / "v311"), cwd=locked)
    assert done.returncode == 2
    assert "runs Python 3.11" in done.stderr and "the lock is for Python 3.9" in done.stderr


def test_sync_refuses_a_lock_for_another_platform(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["gamma"], platform="linux/arm64")
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("sync", cwd=tmp_path)
    assert done.returncode == 2 and "the lock is for linux/arm64" in done.stderr
    assert not (tmp_path / ".venv").exists()


def test_sync_without_a_lock_says_how_to_make_one(tmp_path: Path) -> None:
    done = envbuild("sync", "-l", "nope.lock", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "envbuild: error: nope.lock: no such lock (create it with envbuild lock)"


def test_sync_refuses_a_path_that_is_not_a_venv(locked: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("precious\n")
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-dir" / "notes.txt").write_text("precious\n")
    for target in ("a-file", "a-dir"):
        done = envbuild("sync", "--venv", str(tmp_path / target), cwd=locked)
        assert done.returncode == 2 and "is not a virtual environment" in done.stderr, done.stderr
    assert (tmp_path / "a-file").read_text() == (tmp_path / "a-dir" / "notes.txt").read_text() == "precious\n"


def test_sync_uses_the_exact_interpreter_the_lock_froze_when_the_host_has_it(locked: Path) -> None:
    """The lock froze bookworm's 3.11.2: where this host has it (Debian's python3.11), the venv is made of it, so
    that envbuild check agrees with the sync; else of another 3.11, and the sync says the interpreter differs."""
    import shutil

    debian = shutil.which("python3.11", path="/usr/bin")
    has_it = debian is not None and uv.venv_python_version(Path(debian)) == "3.11.2"
    done = envbuild("sync", cwd=locked)
    assert done.returncode == 0, done.stderr
    runs = uv.venv_python_version(locked / ".venv" / "bin" / "python")
    if has_it:
        assert runs == "3.11.2" and "the lock froze" not in done.stderr, done.stderr
    else:
        assert "the lock froze Python 3.11.2 (system)" in done.stderr


def test_sync_into_another_micro_release_warns_that_the_interpreter_differs(locked: Path) -> None:
    lock = locked / "envbuild.lock"
    lock.write_text(lock.read_text().replace('python = "3.11.2"', 'python = "3.11.99"'))  # no host has it
    done = envbuild("sync", cwd=locked)
    assert done.returncode == 0, done.stderr
    assert "the lock froze Python 3.11.99 (system)" in done.stderr
