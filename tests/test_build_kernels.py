"""GPU-kernel packages in a real image build: an sdist with a CUDA extension (kern.cu, compiled by nvcc) whose build
imports a package the runtime does not need.  It locks with its build group, compiles in a kernels stage on a CUDA
devel image (made from this machine's toolkit, on the loopback registry), and the runtime image holds the extension
but no nvcc, no toolkit and not the build-only package; a rebuild after an unrelated pin change reuses the wheel.

Marked docker and network (the devel image's g++ and python3-dev, and python3-venv, come from deb.debian.org).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, skip_unless_reachable
from tests.support.cuda import make_cuda_sdist
from tests.support.pypi import LocalIndex, make_wheel

MIRROR = "http://deb.debian.org/debian"
COMPILED = "Building wheel for cudakern"  # what pip says when it compiles the sdist
REUSED = "envbuild: cudakern: the wheel built before (/root/.cache/"  # what the build echoes (not its command)

pytestmark = [pytest.mark.docker, pytest.mark.network]


def _spec(directory: Path, base: str, index: LocalIndex, devel: str, *, alpha: str, run: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "envbuild.toml").write_text(f"""
[environment]
name = "kernels"
platform = "linux/amd64"
base-image = "{base}"
python = "3.11"

[system]
mirror = "{MIRROR}"

[python]
requirements = {json.dumps(["cudakern", f"alpha=={alpha}"])}
index-url = "{index.url}"
build-dependencies = {{cudakern = ["six"]}}
build-env = {{MAX_JOBS = "2", CUDA_ARCH = "sm_80", TEST_RUN = "{run}"}}
build-image = "{devel}"
""")


def _run(image: str, docker_engine: Any, command: list[str]) -> str:
    return str(docker_engine.containers.run(image, command, network_mode="none", remove=True).decode())


def test_a_cuda_extension_compiles_in_the_devel_stage_and_only_its_wheel_reaches_the_runtime(
        tmp_path: Path, index: LocalIndex, python_base_image: str, cuda_devel_image: str, docker_engine: Any) -> None:
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (python3.11-venv in the build)")
    index.publish(make_wheel(tmp_path / "w", "six", "1.16.0"))
    make_cuda_sdist(index.root, "cudakern", "0.1", needs="six")
    project = tmp_path / "project"
    run = uuid.uuid4().hex  # in build-env, so in the wheel cache's key: this test's first build compiles
    _spec(project, python_base_image, index, cuda_devel_image, alpha="1.0", run=run)

    locked = envbuild("lock", cwd=project, timeout=300)
    assert locked.returncode == 0, locked.stderr
    assert "cudakern 0.1: built from its sdist at install time, with its locked build group" in locked.stdout
    assert f"build    group of 1 locked package (six 1.16.0), installed only in {cuda_devel_image}" in locked.stdout
    lock = lockfile.read_lock(project / "envbuild.lock")
    assert [p.name for p in lock.python.build_packages] == ["six"] and "six" not in lock.python.by_name()
    assert lock.build_image is not None and lock.build_image.python == "python3.11"
    assert lock.build_image.cuda is not None and lock.build_image.cuda.startswith("13.")
    assert lock.build_image.digest.startswith("sha256:")

    started = time.monotonic()
    first = envbuild("build", "--engine", "docker", "-t", "envbuild-kernels:1", cwd=project, timeout=900)
    first_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stderr[-3000:]
    assert COMPILED in first.stderr and REUSED not in first.stderr
    assert "Verified: OK:" in first.stderr
    assert "cudakern-0.1-cp311-cp311-linux_x86_64.whl" in first.stderr  # the built wheel, reported with its sha256
    # the extension runs (its CUDA runtime is linked in: no device here, so -1), built with the locked six and
    # build-env, by the toolkit's nvcc; the runtime has no six, no nvcc and no toolkit
    out = _run("envbuild-kernels:1", docker_engine, ["python", "-c", (
        "import cudakern, importlib.util, shutil, os; print(cudakern.compiled_with(), cudakern.devices(), "
        "cudakern.BUILT_WITH, cudakern.MAX_JOBS, importlib.util.find_spec('six') is None, shutil.which('nvcc'), "
        "os.path.exists('/usr/local/cuda'), os.path.exists('/opt/envbuild/build-venv'))")])
    nvcc = ".".join(lock.build_image.cuda.split(".")[:2])  # 13.0.88 -> 13.0
    assert out.split() == [nvcc, "-1", "1.16.0", "2", "True", "None", "False", "False"], out
    [record] = json.loads(_run("envbuild-kernels:1", docker_engine, ["cat", "/opt/envbuild/built.json"]))
    assert record["wheel"] == "cudakern-0.1-cp311-cp311-linux_x86_64.whl" and record["name"] == "cudakern"
    assert f"  built  {record['wheel']}  {record['sha256']}" in first.stderr  # reported by envbuild build

    _spec(project, python_base_image, index, cuda_devel_image, alpha="1.1", run=run)  # an unrelated pin change
    assert envbuild("lock", cwd=project, timeout=300).returncode == 0
    started = time.monotonic()
    second = envbuild("build", "--engine", "docker", "-t", "envbuild-kernels:2", cwd=project, timeout=900)
    second_seconds = time.monotonic() - started
    assert second.returncode == 0, second.stderr[-3000:]
    # the kernels stage depends on nothing the pin changed: nothing compiles, the same wheel is installed
    assert COMPILED not in second.stderr, second.stderr[-3000:]
    assert f"  built  {record['wheel']}  {record['sha256']}" in second.stderr
    assert "Verified: OK:" in second.stderr
    assert _run("envbuild-kernels:2", docker_engine, ["python", "-c", "import alpha, cudakern; print("
                "alpha.__version__, cudakern.compiled_with())"]).split()[0] == "1.1"
    # what the build depends on does change it: another build-env compiles again
    (project / "envbuild.toml").write_text((project / "envbuild.toml").read_text().replace('MAX_JOBS = "2"',
                                                                                         'MAX_JOBS = "3"'))
    assert envbuild("lock", cwd=project, timeout=300).returncode == 0
    third = envbuild("build", "--engine", "docker", "-t", "envbuild-kernels:3", cwd=project, timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]
    assert COMPILED in third.stderr and REUSED not in third.stderr
    assert _run("envbuild-kernels:3", docker_engine, ["python", "-c", "import cudakern; print(cudakern.MAX_JOBS)"]
                ).strip() == "3"
    print(f"first build {first_seconds:.1f} s, rebuild after an unrelated pin change {second_seconds:.1f} s")


def test_buildah_builds_the_kernels_stage_too(tmp_path: Path, index: LocalIndex, python_base_image: str,
                                              cuda_devel_image: str) -> None:
    """The engine envbuild picks where buildah is installed: the kernels stage FROM the devel image, the wheel
    mounted from it into the runtime stage, the image's own check passing."""
    import shutil

    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah; make ci does it)")
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (python3.11-venv in the build)")
    index.publish(make_wheel(tmp_path / "w", "six", "1.16.0"))
    make_cuda_sdist(index.root, "cudakern", "0.1", needs="six")
    project = tmp_path / "project"
    _spec(project, python_base_image, index, cuda_devel_image, alpha="1.0", run=uuid.uuid4().hex)
    assert envbuild("lock", cwd=project, timeout=300).returncode == 0
    done = envbuild("build", "--engine", "buildah", "-t", "envbuild-kernels-buildah:1", cwd=project, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert COMPILED in done.stderr and "Verified: OK:" in done.stderr
    assert "  built  cudakern-0.1-cp311-cp311-linux_x86_64.whl  sha256:" in done.stderr
