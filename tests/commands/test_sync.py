"""`envbuild sync`: a real virtual environment made to match the lock, from the index on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envbuild.adapters import uv
from tests.conftest import envbuild, write_spec
from tests.support.apt import AptMirror, stanza
from tests.support.pypi import LocalIndex, make_wheel


def installed(venv: Path) -> dict[str, str]:
    """What the venv holds besides its pip (which sync puts there, outside the lock)."""
    found = uv.installed(venv / "bin" / "python")
    assert "pip" in found, "sync leaves a pip in the venv, so that pip install goes into it"
    return {name: version for name, version in found.items() if name != "pip"}


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
    assert "alpha" not in uv.installed(tmp_path / "v" / "bin" / "python")


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


def test_pip_in_the_synced_venv_installs_into_it_and_the_check_calls_that_drift(locked: Path, index: LocalIndex,
                                                                                tmp_path: Path) -> None:
    done = envbuild("sync", cwd=locked)
    assert done.returncode == 0, done.stderr
    assert "pip " in done.stdout and "is in the venv, outside the lock" in done.stdout
    assert "setuptools" not in uv.installed(locked / ".venv/bin/python"), "only pip: the lock has no setuptools"
    pip = subprocess.run(["sh", "-c", f". {locked}/.venv/bin/activate && command -v pip && pip --version"],
                         capture_output=True, text=True, check=True)
    assert pip.stdout.splitlines()[0] == f"{locked}/.venv/bin/pip", "the activated venv's own pip"
    assert envbuild("check", cwd=locked).returncode == 0, "the venv's pip is no drift"
    index.publish(make_wheel(tmp_path / "more", "delta", "1.0", []))
    subprocess.run(["sh", "-c", f". {locked}/.venv/bin/activate && pip install -q --index-url {index.url} delta"],
                   check=True, capture_output=True)
    check = envbuild("check", cwd=locked)
    assert check.returncode == 1 and "python\tdelta\textra\t-\t1.0\terror" in check.stdout, check.stdout
    again = envbuild("sync", cwd=locked)
    assert "(0 installed, 1 removed)" in again.stdout and installed(locked / ".venv") == {
        "alpha": "1.1", "beta": "1.1", "gamma": "1.0"}


def test_sync_then_check_ends_clean_on_a_developer_s_machine(tmp_path: Path, index: LocalIndex) -> None:
    """The lock holds apt packages this host does not have at those versions (it is not the image) and [env]
    that this shell does not export: a venv sync made checks clean (warnings allowed), the host in full does not."""
    with AptMirror(tmp_path / "mirror", extra_main=[stanza("team-tool", "1.0")]) as mirror:
        write_spec(tmp_path, index.url, ["alpha"], system=["team-tool"], apt=mirror)
        with (tmp_path / "envbuild.toml").open("a") as spec:
            spec.write('\n[env]\nPYTHONHASHSEED = "0"\nCUBLAS_WORKSPACE_CONFIG = ":4096:8"\n')
        done = envbuild("lock", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    synced = envbuild("sync", cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert f"[env] CUBLAS_WORKSPACE_CONFIG, PYTHONHASHSEED: exported by {tmp_path}/.venv/bin/activate" in synced.stdout
    plain = _check_in_a_new_shell(tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    first, *findings, last = plain.stdout.splitlines()
    assert first.endswith("as envbuild sync made it (this host's apt packages and OS are its own: --scope host "
                          "checks them)")
    assert {(*tuple(line.split("\t")[:3]), line.split("\t")[-1]) for line in findings} == {
        ("env", "CUBLAS_WORKSPACE_CONFIG", "missing", "warning"), ("env", "PYTHONHASHSEED", "missing", "warning")}
    assert last.startswith("OK: ")
    activated = subprocess.run(["sh", "-c", f". {tmp_path}/.venv/bin/activate && {_envbuild_argv()} check --json"],
                               cwd=tmp_path, capture_output=True, text=True, check=False)
    report = json.loads(activated.stdout)
    assert activated.returncode == 0 and report["findings"] == [] and report["checked"]["scope"] == "venv"
    wrong = _check_in_a_new_shell(tmp_path, PYTHONHASHSEED="1")
    assert wrong.returncode == 1 and "env\tPYTHONHASHSEED\tchanged\t0\t1 (this shell)\terror" in wrong.stdout
    full = _check_in_a_new_shell(tmp_path, "--scope", "host")
    assert full.returncode == 1 and "\nsystem\tteam-tool\tmissing\t1.0\t-\terror" in full.stdout, full.stdout
    assert "env\tPYTHONHASHSEED\tmissing\t0\t-\terror" in full.stdout
    strict = envbuild("check", "--scope", "venv", "--strict", cwd=tmp_path)
    assert strict.returncode == 2 and "give --scope host with it" in strict.stderr


def test_a_venv_sync_did_not_make_is_checked_in_full(tmp_path: Path, index: LocalIndex) -> None:
    with AptMirror(tmp_path / "mirror", extra_main=[stanza("team-tool", "1.0")]) as mirror:
        write_spec(tmp_path, index.url, ["alpha"], system=["team-tool"], apt=mirror)
        assert envbuild("lock", cwd=tmp_path).returncode == 0
    subprocess.run([uv.binary(), "venv", str(tmp_path / ".venv"), "--python", "3.11", "-q"], check=True)
    subprocess.run([uv.binary(), "pip", "install", "-q", "--python", str(tmp_path / ".venv/bin/python"),
                    "--index-url", index.url, "alpha"], check=True)
    done = _check_in_a_new_shell(tmp_path)
    assert done.returncode == 1 and "as envbuild sync made it" not in done.stdout
    assert "\nsystem\tteam-tool\tmissing" in done.stdout
    narrowed = _check_in_a_new_shell(tmp_path, "--scope", "venv")
    assert "\nsystem\t" not in narrowed.stdout and "as envbuild sync made it" in narrowed.stdout
    image = envbuild("check", "--scope", "venv", "--root", str(tmp_path), cwd=tmp_path)
    assert image.returncode == 2 and image.stderr.strip() == (
        f"envbuild: error: --scope venv checks a virtual environment that envbuild sync made, not a mounted root "
        f"{tmp_path}")
    bad = envbuild("check", "--scope", "laptop", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "envbuild: error: --scope takes venv or host, not 'laptop'"


def _check_in_a_new_shell(directory: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """envbuild check as a new shell runs it: no venv active, none of the lock's [env] exported (but ENV)."""
    import os
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHASHSEED",
                                                                  "CUBLAS_WORKSPACE_CONFIG")}
    return subprocess.run([sys.executable, "-m", "envbuild", "check", *args], cwd=directory, capture_output=True,
                          text=True, env={**clean, **env}, check=False)


def _envbuild_argv() -> str:
    import shlex
    import sys

    return f"{shlex.quote(sys.executable)} -m envbuild"
