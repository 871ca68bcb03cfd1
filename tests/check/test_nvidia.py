"""NVIDIA facts: recorded NVML answers, the /proc fallback, no GPU, and the CUDA libraries' own versions."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from envbuild.check import nvidia, probe


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


def build_wheel(site: Path, scratch: Path, dist: str, version: str, libraries: dict[str, str]) -> None:
    """An installed wheel as pip and uv leave it: the libraries (stand-ins answering the version calls) where
    its RECORD says, and a dist-info with METADATA and that RECORD."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the stand-in libraries")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\n")
    for rel, source in libraries.items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (scratch / "x.c").write_text(source + "\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(target), str(scratch / "x.c")], check=True)
    record = [f"{rel},sha256=x,1" for rel in libraries] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


def build_cuda_13_wheels(site: Path, scratch: Path) -> None:
    """torch's CUDA 13 wheels as PyPI ships them: the runtime under nvidia/cu13/lib, no suffix on its name;
    and NCCL for CUDA 12 beside CUDA 13's, as xgboost pins it next to torch."""
    build_wheel(site, scratch, "nvidia-cuda-runtime", "13.2.86", {
        "nvidia/cu13/lib/libcudart.so.13": "int cudaRuntimeGetVersion(int *v) { *v = 13020; return 0; }",
        "nvidia/cu13/lib/libcudart_static.a": "int unused;"})
    build_wheel(site, scratch, "nvidia-cudnn-cu13", "9.26.0.51", {
        "nvidia/cudnn/lib/libcudnn.so.9": "unsigned long cudnnGetVersion(void) { return 92600; }"})
    build_wheel(site, scratch, "nvidia-nccl-cu12", "2.21.5", {
        "nvidia/nccl/lib/libnccl.so.2": "int ncclGetVersion(int *v) { *v = 22105; return 0; }"})
    build_wheel(site, scratch, "nvidia-nccl-cu13", "2.30.7", {
        "nvidia/cu13/lib/libnccl.so.2": "int ncclGetVersion(int *v) { *v = 23007; return 0; }"})


def test_cuda_13_wheels_are_found_through_their_record(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_cuda_13_wheels(site, tmp_path)
    packages = probe.distributions([str(site)])["packages"]
    libs = nvidia.cuda_libraries([str(site)], packages)
    assert libs["cudart"] == {"version": "13.2", "path": str(site / "nvidia/cu13/lib/libcudart.so.13"), "others": []}
    assert libs["cudnn"]["version"] == "9.26.0"
    assert {libs["nccl"]["version"], *(c["version"] for c in libs["nccl"]["others"])} == {"2.21.5", "2.30.7"}
    facts = probe.probe(paths=[str(site)], interpreter=None, dpkg=False, cuda=True)
    assert facts["cuda"]["cudart"]["path"] == str(site / "nvidia/cu13/lib/libcudart.so.13"), \
        "the wheel's copy, not a system toolkit's"


def test_a_layout_no_release_has_yet_is_read_from_the_record(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_wheel(site, tmp_path, "nvidia-cuda-runtime", "14.0.12", {
        "nvidia/cu14/lib64/libcudart.so.14": "int cudaRuntimeGetVersion(int *v) { *v = 14000; return 0; }"})
    libs = nvidia.cuda_libraries([str(site)], probe.distributions([str(site)])["packages"])
    assert libs["cudart"]["version"] == "14.0"
    assert libs["cudart"]["path"].endswith("nvidia/cu14/lib64/libcudart.so.14")


def test_which_distributions_ship_a_family() -> None:
    assert nvidia.ships("nvidia-nccl", "nvidia-nccl") and nvidia.ships("nvidia-nccl", "nvidia-nccl-cu13")
    assert not nvidia.ships("nvidia-nccl", "nvidia-nccl-cu") and not nvidia.ships("nvidia-cuda-runtime",
                                                                                   "nvidia-cuda-runtime-extra")
    assert not nvidia.ships("nvidia-cudnn", "nvidia-cudnn-frontend")


def test_version_encodings() -> None:
    assert nvidia._decode_version("cudart", 12060) == "12.6"
    assert nvidia._decode_version("cudnn", 8902) == "8.9.2"
    assert nvidia._decode_version("nccl", 2807) == "2.8.7" and nvidia._decode_version("nccl", 22303) == "2.23.3"
