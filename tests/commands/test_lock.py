"""`envbuild lock` end to end: the real CLI in a child process, against a real index on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, free_port, write_spec
from tests.support.pypi import LocalIndex, make_wheel


def pins(path: Path) -> dict[str, str]:
    return {p.name: p.version for p in lockfile.read_lock(path).python.packages}


def test_lock_pins_every_package_with_the_hashes_of_its_files(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma"])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("Locked 3 Python packages and 49 system packages for linux/amd64 (debian:12), Python 3.11.2 (uv"
            in done.stdout)
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1", "gamma": "1.0"}
    served = {p.name: "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in index.root.glob("*.whl")}
    gamma = lock.python.by_name()["gamma"]
    # only the wheel of the target platform, with the sha256 of the file actually served
    assert [f.name for f in gamma.files] == ["gamma-1.0-py3-none-manylinux_2_17_x86_64.whl"]
    assert gamma.hashes == (served["gamma-1.0-py3-none-manylinux_2_17_x86_64.whl"],)
    assert lock.python.by_name()["alpha"].hashes == (served["alpha-1.1-py3-none-any.whl"],)
    assert lock.target.python_platform == "x86_64-manylinux_2_36"
    assert done.stderr == "", "a pipe must get no spinner or progress noise"


@pytest.mark.parametrize(
    ("environment", "gamma_wheel", "delta"),
    [
        ({"platform": "linux/amd64", "distro": "debian:bookworm"}, "manylinux_2_17_x86_64", "1.0"),
        ({"platform": "linux/arm64", "distro": "debian:bookworm"}, "manylinux_2_17_aarch64", None),
        ({"platform": "linux/amd64", "distro": "ubuntu:24.04"}, "manylinux_2_17_x86_64", "2.0"),
    ],
)
def test_pins_are_for_the_target_not_the_host(tmp_path: Path, index: LocalIndex, environment: dict[str, str],
                                              gamma_wheel: str, delta: str | None) -> None:
    requirements = ["gamma"] + (["delta"] if delta else [])
    write_spec(tmp_path, index.url, requirements, **environment)
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert [f.name for f in lock.python.by_name()["gamma"].files] == [f"gamma-1.0-py3-none-{gamma_wheel}.whl"]
    if delta:  # delta 2.0 has only a manylinux_2_39 wheel: too new for bookworm's glibc 2.36, fine on noble
        assert lock.python.by_name()["delta"].version == delta


def test_the_lock_is_byte_identical_across_runs_and_checkouts(tmp_path: Path, index: LocalIndex) -> None:
    first = write_spec(tmp_path / "a", index.url, ["alpha", "gamma"]).parent
    second = tmp_path / "some" / "other" / "checkout"
    shutil.copytree(first, second)
    assert envbuild("lock", cwd=first).returncode == 0
    text = (first / "envbuild.lock").read_bytes()
    (first / "envbuild.lock").unlink()
    assert envbuild("lock", cwd=first).returncode == 0
    assert envbuild("lock", cwd=second, env={"HOSTNAME": "elsewhere"}).returncode == 0
    assert (first / "envbuild.lock").read_bytes() == text == (second / "envbuild.lock").read_bytes()
    # the armored key of [system] signed-by is base64, in which a short host name ("vm") may appear by chance
    words = re.sub(rb"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", b"", text,
                   flags=re.S)
    assert b"-----BEGIN PGP PUBLIC KEY BLOCK-----" in text, "the spec's signed-by key is in the lock"
    assert str(tmp_path).encode() not in text and os.uname().nodename.encode() not in words


def test_relock_keeps_pins_and_dash_p_upgrades_only_that_package(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1"}
    wheels = tmp_path / "new-wheels"
    index.publish(make_wheel(wheels, "alpha", "1.2", ["beta>=1.0"]), make_wheel(wheels, "beta", "1.2"))

    again = envbuild("lock", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1"}, "a plain relock must keep pins"
    assert "is unchanged" in again.stdout

    upgraded = envbuild("lock", "-P", "Alpha", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.2", "beta": "1.1"}
    assert "changed  alpha 1.1 -> 1.2" in upgraded.stdout

    everything = envbuild("lock", "--upgrade", cwd=tmp_path)
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.2", "beta": "1.2"}
    assert "changed  beta 1.1 -> 1.2" in everything.stdout


def test_summary_reports_added_and_removed_packages(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    spec.write_text(spec.read_text().replace('["alpha"]', '["beta", "gamma"]'))
    done = envbuild("lock", cwd=tmp_path)
    assert "added    gamma 1.0" in done.stdout and "removed  alpha 1.1" in done.stdout


def _assert_failed_cleanly(done: subprocess.CompletedProcess[str], lock: Path, before: bytes, says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envbuild: error: "), done.stderr
    assert says in lines[0], lines[0]
    assert lock.read_bytes() == before, "a failed lock must leave the old lock byte-identical"
    assert sorted(p.name for p in lock.parent.iterdir() if p.name.startswith(".envbuild.lock")) == []


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("alpha", "no-such-package"), "no-such-package was not found in the package registry"),
        (("alpha", "needs-newer-beta"), "all versions of needs-newer-beta depend on beta>=9"),
        (("alpha", "alpha>>1"), "[python] -> requirements[0]: invalid requirement 'alpha>>1'"),
        (("[python]", "[pyhton]"), "pyhton: unknown key"),
        (("python = ", "python = = "), "envbuild.toml: invalid TOML"),
    ],
)
def test_failures_leave_the_old_lock_byte_identical(tmp_path: Path, index: LocalIndex, edit: tuple[str, str],
                                                     says: str) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    lock = tmp_path / "envbuild.lock"
    before = lock.read_bytes()
    spec.write_text(spec.read_text().replace(*edit, 1))
    _assert_failed_cleanly(envbuild("lock", cwd=tmp_path), lock, before, says)


def test_an_unreachable_index_fails_cleanly(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    before = (tmp_path / "envbuild.lock").read_bytes()
    spec.write_text(spec.read_text().replace(index.url, f"http://127.0.0.1:{free_port()}/simple"))
    done = envbuild("lock", "-P", "alpha", cwd=tmp_path, env={"UV_HTTP_RETRIES": "0"})  # uv's backoff: 7 s
    _assert_failed_cleanly(done, tmp_path / "envbuild.lock", before, "Connection refused")


def test_a_killed_lock_leaves_the_old_lock(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    before = (tmp_path / "envbuild.lock").read_bytes()
    index.hang.set()
    seen = len(index.requests)
    child = subprocess.Popen([sys.executable, "-m", "envbuild", "lock", "-U"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while len(index.requests) == seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(index.requests) > seen, "the child never reached the index"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    index.hang.clear()
    assert (tmp_path / "envbuild.lock").read_bytes() == before


def test_two_locks_at_once_both_finish_with_a_whole_lock(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma"])
    children = [subprocess.Popen([sys.executable, "-m", "envbuild", "lock"], cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outcomes = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0, 0, 0], outcomes
    text = (tmp_path / "envbuild.lock").read_text()
    assert lockfile.loads(text).python.by_name()["gamma"].version == "1.0"
    (tmp_path / "envbuild.lock").unlink()
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    assert (tmp_path / "envbuild.lock").read_text() == text
    assert sum("Locked" in out for out, _ in outcomes) == 1, "exactly one run created it; the others found it"


def test_index_credentials_are_used_but_never_written(tmp_path: Path, standard_wheels: list) -> None:
    root = tmp_path / "private"
    root.mkdir()
    with LocalIndex(root, auth=("bob", "s3cret-token")) as private:
        private.publish(*standard_wheels)
        url = private.url_with("${IDX_USER}:${IDX_TOKEN}")
        write_spec(tmp_path, url, ["alpha"])
        missing = envbuild("lock", cwd=tmp_path)
        assert missing.returncode == 2 and "${IDX_USER} is not set" in missing.stderr
        done = envbuild("lock", cwd=tmp_path, env={"IDX_USER": "bob", "IDX_TOKEN": "s3cret-token"})
        assert done.returncode == 0, done.stderr
        text = (tmp_path / "envbuild.lock").read_text()
        assert "s3cret-token" not in text and "bob" not in text
        assert "${IDX_USER}:${IDX_TOKEN}@127.0.0.1" in text
        assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1"}

        # the same index with credentials from ~/.netrc and a plain URL in the spec
        home = tmp_path / "home"
        home.mkdir()
        (home / ".netrc").write_text("machine 127.0.0.1 login bob password s3cret-token\n")
        (home / ".netrc").chmod(0o600)
        write_spec(tmp_path / "netrc", private.url, ["alpha"])
        done = envbuild("lock", cwd=tmp_path / "netrc", env={"HOME": str(home)})
        assert done.returncode == 0, done.stderr
        assert "s3cret" not in (tmp_path / "netrc" / "envbuild.lock").read_text()


def _host_distro_python() -> dict[str, str]:
    return {"python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


def test_pip_tools_locks_for_the_host_and_matches_uv(tmp_path: Path, index: LocalIndex,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    spec = write_spec(tmp_path / "uv", index.url, ["alpha"], **_host_distro_python())
    assert envbuild("lock", cwd=spec.parent).returncode == 0
    spec = write_spec(tmp_path / "pt", index.url, ["alpha"], **_host_distro_python())
    spec.write_text(spec.read_text() + 'resolver = "pip-tools"\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    assert pins(spec.parent / "envbuild.lock") == pins(tmp_path / "uv" / "envbuild.lock")
    uv_lock = lockfile.read_lock(tmp_path / "uv" / "envbuild.lock").python.by_name()
    pt_lock = lockfile.read_lock(spec.parent / "envbuild.lock").python.by_name()
    assert pt_lock["alpha"].hashes == uv_lock["alpha"].hashes


def test_pip_tools_refuses_another_target_and_suggests_uv(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"], platform="linux/arm64")
    spec.write_text(spec.read_text() + 'resolver = "pip-tools"\n')
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2
    assert "pip-tools cannot lock for another platform or Python (the target is linux/arm64" in done.stderr
    assert 'resolver = "uv"' in done.stderr
    assert not (tmp_path / "envbuild.lock").exists()


def test_lock_check_compares_the_spec_hash_without_network(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"])
    absent = envbuild("lock", "--check", cwd=tmp_path)
    assert absent.returncode == 1 and "does not exist" in absent.stdout
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    index.hang.set()  # any network access would now hang the check
    ok = envbuild("lock", "--check", cwd=tmp_path, timeout=20)
    assert ok.returncode == 0, ok.stderr
    assert "up to date" in ok.stdout
    spec.write_text(spec.read_text().replace('["alpha"]', '["alpha", "gamma"]'))
    stale = envbuild("lock", "--check", cwd=tmp_path, timeout=20)
    assert stale.returncode == 1 and "out of date" in stale.stdout
    index.hang.clear()
    (tmp_path / "envbuild.lock").write_text("version = 9\n")
    unknown = envbuild("lock", "--check", cwd=tmp_path)
    assert unknown.returncode == 2 and "lock version 9" in unknown.stderr


def test_a_newer_lock_version_is_never_overwritten(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    (tmp_path / "envbuild.lock").write_text("version = 99\n")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and "lock version 99 is not one this envbuild reads" in done.stderr
    assert (tmp_path / "envbuild.lock").read_text() == "version = 99\n"


def test_a_corrupt_lock_is_regenerated_with_a_warning(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    (tmp_path / "envbuild.lock").write_text("version = 1\n[[oops\n")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: the existing lock is unreadable" in done.stderr
    assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1"}


def test_a_terminal_sees_a_spinner_while_resolving(tmp_path: Path, index: LocalIndex) -> None:
    import pty

    write_spec(tmp_path, index.url, ["alpha"])
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    index.hang.set()  # hold the resolver at the index long enough for the spinner to draw
    child = subprocess.Popen([sys.executable, "-m", "envbuild", "lock"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=secondary, start_new_session=True)
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 20
    while b"Resolving 0 system packages and 1 Python requirements with uv" not in seen and time.monotonic() < deadline:
        import select

        if select.select([primary], [], [], 0.2)[0]:
            seen += os.read(primary, 4096)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    os.close(primary)
    index.hang.clear()
    assert b"Resolving 0 system packages and 1 Python requirements with uv for linux/amd64," in seen


def test_extra_index_urls_and_requirements_files_are_respected(tmp_path: Path, index: LocalIndex) -> None:
    root = tmp_path / "second-index"
    root.mkdir()
    with LocalIndex(root) as second:
        second.publish(make_wheel(tmp_path / "w", "only-on-second", "3.0"))
        spec = write_spec(tmp_path, index.url, ["alpha"])
        (tmp_path / "requirements").mkdir()
        (tmp_path / "requirements" / "extra.txt").write_text("only-on-second  # from the second index\n")
        spec.write_text(spec.read_text() + f'extra-index-urls = ["{second.url}"]\n'
                        'requirements-files = ["requirements/extra.txt"]\n')
        done = envbuild("lock", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert pins(tmp_path / "envbuild.lock") == {"alpha": "1.1", "beta": "1.1", "only-on-second": "3.0"}
        lock = lockfile.read_lock(tmp_path / "envbuild.lock")
        assert lock.python.extra_index_urls == (second.url,)
        assert lock.python.by_name()["only-on-second"].files[0].url.startswith(second.url.removesuffix("/simple"))
        # editing the requirements file makes the lock out of date
        assert envbuild("lock", "--check", cwd=tmp_path).returncode == 0
        (tmp_path / "requirements" / "extra.txt").write_text("only-on-second<3\n")
        assert envbuild("lock", "--check", cwd=tmp_path).returncode == 1


def test_the_cuda_stack_is_locked_from_the_wheels_and_conflicts_keep_the_old_lock(tmp_path: Path,
                                                                                  index: LocalIndex) -> None:
    wheels = tmp_path / "cuda-wheels"
    index.publish(make_wheel(wheels, "nvidia-cuda-runtime-cu12", "12.4.127", tag="py3-none-manylinux2014_x86_64"),
                  make_wheel(wheels, "nvidia-cudnn-cu12", "9.1.0.70", tag="py3-none-manylinux2014_x86_64"),
                  make_wheel(wheels, "fake-torch", "2.5.1", ["nvidia-cuda-runtime-cu12==12.4.127",
                                                             "nvidia-cudnn-cu12==9.1.0.70"]))
    spec = write_spec(tmp_path, index.url, ["fake-torch"])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CUDA 12.4.127 (cuDNN 9.1.0.70): needs NVIDIA driver >= 525.60.13" in done.stdout
    cuda = lockfile.read_lock(tmp_path / "envbuild.lock").cuda
    assert cuda is not None and (cuda.runtime, cuda.min_driver) == ("12.4.127", "525.60.13")
    before = (tmp_path / "envbuild.lock").read_bytes()
    spec.write_text(spec.read_text().replace("[python]", '[cuda]\nversion = "12.1"\n\n[python]'))
    _assert_failed_cleanly(envbuild("lock", cwd=tmp_path), tmp_path / "envbuild.lock", before,
                           "[cuda] version = '12.1', but the pins bring CUDA runtime 12.4.127")


def test_an_output_that_is_a_directory_fails_before_resolving(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    (tmp_path / "locks").mkdir()
    seen = len(index.requests)
    done = envbuild("lock", "-o", "locks", cwd=tmp_path)
    assert done.returncode == 2 and "locks: is a directory; give the lock's file name" in done.stderr
    assert len(index.requests) == seen, "it resolved before refusing"
