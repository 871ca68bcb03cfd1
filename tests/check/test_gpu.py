"""The GPU part of `envbuild check`, end to end: NVML through ctypes, the installed torch's kernels, the verdict.

Without a GPU, a C stand-in for libnvidia-ml.so.1 (built here with gcc, found through LD_LIBRARY_PATH as the real
one would be) answers NVML's calls; torch is a dist-info with a libtorch_cuda.so that nvcc built for sm_75 and
sm_86.  The `gpu`-marked test runs the same check against the real driver where there is one."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.check import kernels, nvidia
from tests.check.conftest import check
from tests.conftest import envbuild

FAKE_NVML = r"""
#include <string.h>
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char *v, unsigned int n) { strncpy(v, "570.86.10", n); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int *v) { *v = 12080; return 0; }
int nvmlDeviceGetCount_v2(unsigned int *c) { *c = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) { *h = (void *)(unsigned long)(i + 1); return 0; }
int nvmlDeviceGetName(void *h, char *name, unsigned int n) {
  strncpy(name, (unsigned long)h == 1 ? "NVIDIA A10" : "NVIDIA GeForce RTX 5090", n); return 0; }
int nvmlDeviceGetCudaComputeCapability(void *h, int *major, int *minor) {
  if ((unsigned long)h == 1) { *major = 8; *minor = 6; } else { *major = 12; *minor = 0; } return 0; }
"""
KERNEL = "__global__ void k(float *x) { x[threadIdx.x] += 1.0f; }\n"


def build_nvml(tmp_path: Path) -> Path:
    """A directory holding the NVML stand-in (for LD_LIBRARY_PATH); skips without gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the NVML stand-in")
    nvml = tmp_path / "nvml"
    nvml.mkdir()
    (tmp_path / "nvml.c").write_text(FAKE_NVML)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(nvml / "libnvidia-ml.so.1"), str(tmp_path / "nvml.c")],
                   check=True)
    return nvml


def _build(tmp_path: Path) -> tuple[Path, Path]:
    """(a directory holding the NVML stand-in, a libtorch_cuda.so with SASS for sm_75 and sm_86)."""
    if shutil.which("gcc") is None or shutil.which("nvcc") is None:
        pytest.skip("gcc and nvcc are needed to build the NVML stand-in and a real fat binary")
    nvml = build_nvml(tmp_path)
    (tmp_path / "k.cu").write_text(KERNEL)
    library = tmp_path / "libtorch_cuda.so"
    subprocess.run(["nvcc", "-shared", "-Xcompiler", "-fPIC", "-o", str(library), str(tmp_path / "k.cu"),
                    "-gencode", "arch=compute_75,code=sm_75", "-gencode", "arch=compute_86,code=sm_86"], check=True)
    return nvml, library


def test_a_gpu_the_installed_torch_has_no_kernels_for_fails_the_check(env: Path, tmp_path: Path) -> None:
    nvml, library = _build(tmp_path)
    site = next((env / ".venv/lib").glob("python3*/site-packages"))
    info = site / "torch-2.5.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1\n")
    (site / "torch/lib").mkdir(parents=True)
    shutil.copy(library, site / kernels.LIBRARY)
    path = env / "envbuild.lock"
    lock = lockfile.read_lock(path)
    torch = lockfile.PythonPackage("torch", "2.5.1", ("sha256:" + "0" * 64,))
    cuda = lockfile.CudaLock(runtime="12.4.127", min_driver="525.60.13", toolkit_driver="550.54.14")
    path.write_text(lockfile.dumps(dataclasses.replace(
        lock, cuda=cuda, python=dataclasses.replace(lock.python, packages=(*lock.python.packages, torch)))))
    code, report = check(env, env={"LD_LIBRARY_PATH": str(nvml)})
    assert code == 1 and report["host"]["driver"] == "570.86.10"
    gpu = {f["name"]: f for f in report["findings"] if f["kind"] == "gpu"}
    assert list(gpu) == ["1: NVIDIA GeForce RTX 5090"], "the A10 (sm_86) has SASS; the RTX 5090 (sm_120) has none"
    finding = gpu["1: NVIDIA GeForce RTX 5090"]
    assert (finding["status"], finding["severity"]) == ("missing", "error")
    assert finding["found"] == f"torch 2.5.1: SASS 7.5 8.6, PTX none (from {kernels.LIBRARY})"
    text = envbuild("check", "--python", str(env / ".venv/bin/python"), cwd=env,
                    env={"LD_LIBRARY_PATH": str(nvml), "PYTHONHASHSEED": "0"})
    assert text.returncode == 1 and "RTX 5090\tmissing" in text.stdout


@pytest.mark.gpu
def test_the_probe_and_the_check_on_a_real_gpu(env: Path) -> None:
    """On a host with an NVIDIA GPU: NVML answers, each GPU has a compute capability, and the check says whether
    the torch that is installed (if any) has kernels for it."""
    facts = nvidia.devices()
    if not facts or not facts.get("gpus"):
        pytest.skip("no NVIDIA GPU here (NVML did not load or reports no device)")
    assert facts["source"] == "nvml" and facts["driver"] and facts["cuda_driver"]
    assert all(gpu["compute_capability"] for gpu in facts["gpus"])
    path = env / "envbuild.lock"
    lock = lockfile.read_lock(path)
    cuda = lockfile.CudaLock(runtime="12.4.127", min_driver="525.60.13", toolkit_driver="550.54.14")
    path.write_text(lockfile.dumps(dataclasses.replace(lock, cuda=cuda)))
    code, report = check(env)
    assert code in (0, 1) and report["host"]["driver"] == facts["driver"]
    print(json.dumps({"nvml": facts, "findings": report["findings"]}, indent=2))
