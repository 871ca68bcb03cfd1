"""Against the real PyPI (marked `network`; skipped with the reason when PyPI cannot be reached)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, write_spec

pytestmark = pytest.mark.network


@pytest.mark.usefixtures("pypi_reachable")
def test_torch_for_linux_amd64_pins_its_cuda_12_wheels(tmp_path: Path) -> None:
    write_spec(tmp_path, "https://pypi.org/simple", ["torch==2.5.1", "numpy<2"])
    done = envbuild("lock", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    pins = {p.name: p.version for p in lock.python.packages}
    assert pins["torch"] == "2.5.1"
    assert pins["numpy"] == "1.26.4"
    assert pins["nvidia-cudnn-cu12"] == "9.1.0.70"
    assert pins["nvidia-nccl-cu12"] == "2.21.5"
    assert pins["nvidia-cuda-runtime-cu12"] == "12.4.127"
    assert pins["triton"] == "3.1.0"
    torch = lock.python.by_name()["torch"]
    assert [f.name for f in torch.files] == ["torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl"]
    assert all(p.hashes for p in lock.python.packages)
    assert lock.cuda is not None
    assert (lock.cuda.runtime, lock.cuda.cudnn, lock.cuda.nccl) == ("12.4.127", "9.1.0.70", "2.21.5")
    assert (lock.cuda.min_driver, lock.cuda.toolkit_driver) == ("525.60.13", "550.54.15")
    assert "CUDA 12.4.127 (cuDNN 9.1.0.70, NCCL 2.21.5): needs NVIDIA driver >= 525.60.13" in done.stdout


@pytest.mark.usefixtures("pypi_reachable")
def test_the_bundled_example_locks_byte_identically_twice(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "trainer" / "envbuild.toml"
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "envbuild.toml").write_text(example.read_text())
        done = envbuild("lock", cwd=tmp_path / run, timeout=300)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "first" / "envbuild.lock").read_bytes() == (tmp_path / "second" / "envbuild.lock").read_bytes()


@pytest.mark.usefixtures("pypi_reachable")
def test_torch_for_amd64_and_arm64_in_one_lock(tmp_path: Path) -> None:
    """torch 2.5.1 on PyPI: the CUDA 12.4 build (with its nvidia-* wheels) for x86_64, the CPU build for aarch64;
    the shared packages at the same versions, the [cuda] facts per platform."""
    write_spec(tmp_path, "https://pypi.org/simple", ["torch==2.5.1", "numpy<2"],
               platforms=["linux/amd64", "linux/arm64"])
    done = envbuild("lock", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    whole = lockfile.read_lockfile(tmp_path / "envbuild.lock")
    amd, arm = whole.view("linux/amd64"), whole.view("linux/arm64")
    assert [f.name for f in amd.python.by_name()["torch"].files] == ["torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl"]
    assert [f.name for f in arm.python.by_name()["torch"].files] == [
        "torch-2.5.1-cp311-cp311-manylinux2014_aarch64.whl"]
    assert "nvidia-cuda-runtime-cu12" in amd.python.by_name()
    assert not [p for p in arm.python.packages if p.name.startswith("nvidia-")], "the aarch64 build is CPU-only"
    assert amd.cuda is not None and amd.cuda.runtime == "12.4.127" and arm.cuda is None
    shared = set(amd.python.by_name()) & set(arm.python.by_name())
    assert {"torch", "numpy", "sympy", "filelock"} <= shared
    assert all(amd.python.by_name()[n].version == arm.python.by_name()[n].version for n in shared)
    assert "linux/arm64: " in done.stdout and "no CUDA" in done.stdout


def test_conda_forge_for_amd64_and_arm64_with_a_cuda_driver(tmp_path: Path) -> None:
    """The real conda-forge (sharded repodata, tens of thousands of records per subdir), solved for two targets."""
    from tests.conftest import skip_unless_reachable

    pytest.importorskip("rattler", reason="py-rattler is not installed (pip install 'envbuild[conda]')")
    skip_unless_reachable("https://conda.anaconda.org/conda-forge/noarch/repodata.json", "conda-forge")
    write_spec(tmp_path, "https://pypi.org/simple", [], platforms=["linux/amd64", "linux/arm64"],
               conda={"channels": ["conda-forge"], "packages": ["python=3.11", "numpy", "cuda-version=12.4",
                                                               "cuda-cudart"], "cuda": "12.4"})
    done = envbuild("lock", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    for platform, subdir in (("linux/amd64", "linux-64"), ("linux/arm64", "linux-aarch64")):
        lock = lockfile.read_lock(tmp_path / "envbuild.lock", platform)
        assert lock.conda is not None and lock.python.source == "conda"
        records = lock.conda.by_name()
        assert records["python"].version.startswith("3.11.") and records["python"].subdir == subdir
        assert records["cuda-version"].version.startswith("12.4")
        assert all(len(p.sha256) == 64 and p.url.startswith("https://conda.anaconda.org/conda-forge/")
                   for p in lock.conda.packages)
        assert lock.cuda is not None and lock.cuda.runtime.startswith("12.4")


@pytest.mark.usefixtures("pypi_reachable")
def test_today_s_default_torch_locks_syncs_and_checks_clean(tmp_path: Path) -> None:
    """A new developer's first three commands with `torch` as PyPI serves it today (CUDA 13 wheels since 2.9, whose
    libraries live under nvidia/cu13/lib): the check finds each CUDA library in the wheels, wherever they put it,
    and asks it its version; nothing falls back to a system toolkit (about 4 GB of wheels)."""
    from envbuild.check import nvidia, probe

    write_spec(tmp_path, "https://pypi.org/simple", ["torch"])
    done = envbuild("lock", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    pins = {p.name: p.version for p in lock.python.packages}
    runtime = next(version for name, version in pins.items() if nvidia.ships("nvidia-cuda-runtime", name))
    assert lock.cuda is not None and lock.cuda.runtime == runtime, "[cuda] auto reads the runtime wheel"
    synced = envbuild("sync", cwd=tmp_path, timeout=1500)
    assert synced.returncode == 0, synced.stderr
    checked = envbuild("check", "--json", cwd=tmp_path, env={"VIRTUAL_ENV": ""}, timeout=300)
    report = json.loads(checked.stdout)
    print(envbuild("check", cwd=tmp_path, env={"VIRTUAL_ENV": ""}).stdout)  # quoted in the note
    assert checked.returncode == 0 and report["ok"], checked.stdout
    assert [f for f in report["findings"] if f["kind"] == "cuda"] == [], "each library found in the wheels"
    site = next((tmp_path / ".venv" / "lib").glob("python3.*/site-packages"))
    libraries = nvidia.cuda_libraries([str(site)], probe.distributions([str(site)])["packages"])
    for name in ("cudart", "cudnn", "nccl"):
        assert libraries[name] is not None and libraries[name]["path"].startswith(str(site)), libraries
    assert libraries["cudart"]["version"] == ".".join(runtime.split(".")[:2])


@pytest.mark.usefixtures("pypi_reachable")
def test_a_fine_tuning_stack_locks_its_build_group_and_says_what_compiles(tmp_path: Path) -> None:
    """The issue's stack: deepspeed and flash-attn have no wheel on PyPI; their build group is locked at the
    runtime's torch, and lock says, in one line each, that they compile CUDA kernels with nowhere to compile."""
    spec = write_spec(tmp_path, "https://pypi.org/simple", ["torch==2.5.1", "transformers", "accelerate", "peft",
                                                           "datasets", "deepspeed", "bitsandbytes", "flash-attn"])
    needs = ["torch", "packaging", "psutil", "ninja", "einops", "setuptools", "wheel"]
    spec.write_text(spec.read_text() + f"build-dependencies = {{flash-attn = {json.dumps(needs)}, "
                    f"deepspeed = {json.dumps([*needs[:4], 'py-cpuinfo', 'setuptools', 'wheel'])}}}\n"
                    'build-env = {MAX_JOBS = "4", TORCH_CUDA_ARCH_LIST = "8.0;9.0"}\n')
    done = envbuild("lock", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    runtime, group = lock.python.by_name(), {p.name: p for p in lock.python.build_packages}
    assert runtime["flash-attn"].built and runtime["deepspeed"].built
    assert group["torch"].version == runtime["torch"].version == "2.5.1"  # compiled against the torch it runs with
    assert {"ninja", "einops", "setuptools", "wheel", "psutil", "py-cpuinfo"} <= set(group)
    assert all(p.hashes for p in group.values())
    for name in ("deepspeed", "flash-attn"):
        assert f"sdist    {name} {runtime[name].version}: built from its sdist at install time, with its locked " \
               "build group" in done.stdout
        said = [line for line in done.stderr.splitlines() if line.startswith(f"warning: {name} ")]
        assert len(said) == 1 and "compiles CUDA kernels (nvcc)" in said[0], done.stderr
    assert "build    group of " in done.stdout
