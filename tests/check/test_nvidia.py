"""NVIDIA facts: recorded NVML answers, the /proc fallback, no GPU, and the CUDA libraries' own versions."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from envbuild.check import nvidia


class RecordedNVML:
    """NVML's calling convention, answering as an H100 node with driver 550.54.15 (CUDA 12.4 driver API) would.

    Not a recording of real hardware (no GPU was lent to the session that wrote this): the values follow NVML's
    documented encodings (nvmlSystemGetCudaDriverVersion_v2: 1000 * major + 10 * minor)."""

    def __init__(self, gpus: list[tuple[bytes, int, int]], init: int = 0, cuda: int = 12040) -> None:
        self.gpus, self.init, self.cuda = gpus, init, cuda

    def nvmlInit_v2(self) -> int:
        return self.init

    def nvmlShutdown(self) -> int:
        return 0

    def nvmlSystemGetDriverVersion(self, buf: ctypes.Array, size: int) -> int:
        buf.value = b"550.54.15"
        return 0

    def nvmlSystemGetCudaDriverVersion_v2(self, ref: object) -> int:
        ref._obj.value = self.cuda  # type: ignore[attr-defined]
        return 0

    def nvmlDeviceGetCount_v2(self, ref: object) -> int:
        ref._obj.value = len(self.gpus)  # type: ignore[attr-defined]
        return 0

    def nvmlDeviceGetHandleByIndex_v2(self, index: int, ref: object) -> int:
        ref._obj.value = index + 1  # type: ignore[attr-defined]
        return 0

    def nvmlDeviceGetName(self, handle: ctypes.c_void_p, buf: ctypes.Array, size: int) -> int:
        buf.value = self.gpus[handle.value - 1][0]
        return 0

    def nvmlDeviceGetCudaComputeCapability(self, handle: ctypes.c_void_p, major: object, minor: object) -> int:
        _, ma, mi = self.gpus[handle.value - 1]
        major._obj.value, minor._obj.value = ma, mi  # type: ignore[attr-defined]
        return 0


def test_nvml_answers_become_driver_cuda_and_gpus(tmp_path: Path) -> None:
    facts = nvidia.devices(RecordedNVML([(b"NVIDIA H100 80GB HBM3", 9, 0)] * 2), proc=str(tmp_path / "none"))
    assert facts == {"driver": "550.54.15", "cuda_driver": "12.4", "source": "nvml",
                     "gpus": [{"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}] * 2}


def test_the_kernel_module_file_when_nvml_fails_and_none_without_a_gpu(tmp_path: Path) -> None:
    proc = tmp_path / "version"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n")
    assert nvidia.devices(RecordedNVML([], init=9), proc=str(proc)) == {
        "driver": "535.104.05", "cuda_driver": None, "gpus": None, "source": "proc"}
    assert nvidia.devices(RecordedNVML([], init=9), proc=str(tmp_path / "absent")) is None


FAKE_LIBS = {
    "nvidia/cuda_runtime/lib/libcudart.so.12": "int cudaRuntimeGetVersion(int *v) { *v = 12040; return 0; }",
    "nvidia/cudnn/lib/libcudnn.so.9": "unsigned long cudnnGetVersion(void) { return 90100; }",
    "nvidia/nccl/lib/libnccl.so.2": "int ncclGetVersion(int *v) { *v = 22105; return 0; }",
}


def build_fake_cuda_libraries(site: Path, scratch: Path) -> None:
    """Stand-ins for the nvidia-* wheels' libraries that answer the version calls as CUDA 12.4's do."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the stand-in libraries")
    for rel, source in FAKE_LIBS.items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (scratch / "x.c").write_text(source + "\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(target), str(scratch / "x.c")], check=True)


def test_cuda_libraries_are_asked_their_versions_where_the_wheels_put_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_fake_cuda_libraries(site, tmp_path)
    libs = nvidia.cuda_libraries([str(site)])
    assert {name: lib["version"] for name, lib in libs.items()} == {"cudart": "12.4", "cudnn": "9.1.0",
                                                                    "nccl": "2.21.5"}


def test_version_encodings() -> None:
    assert nvidia._decode_version("cudart", 12060) == "12.6"
    assert nvidia._decode_version("cudnn", 8902) == "8.9.2"
    assert nvidia._decode_version("nccl", 2807) == "2.8.7" and nvidia._decode_version("nccl", 22303) == "2.23.3"
