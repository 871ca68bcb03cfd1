"""The stdlib probe: recorded NVML answers, the /proc fallback, no GPU, stdlib only, RECORD verification."""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from envbuild.check import probe
from envbuild.check.compare import compare
from envbuild.lockfile import CudaLock, Lock, PythonLock, Target

PROBE = Path(probe.__file__)


class RecordedNVML:
    """Answers an H100 node with driver 550.54.15 gave (CUDA 12.4 driver API), in NVML's calling convention."""

    def __init__(self, gpus: list[tuple[bytes, int, int]], init: int = 0) -> None:
        self.gpus, self.init = gpus, init

    def nvmlInit_v2(self) -> int:
        return self.init

    def nvmlShutdown(self) -> int:
        return 0

    def nvmlSystemGetDriverVersion(self, buf: ctypes.Array, size: int) -> int:
        buf.value = b"550.54.15"
        return 0

    def nvmlSystemGetCudaDriverVersion_v2(self, ref: object) -> int:
        ref._obj.value = 12040  # type: ignore[attr-defined]
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
    facts = probe.nvidia(RecordedNVML([(b"NVIDIA H100 80GB HBM3", 9, 0)] * 2), proc=str(tmp_path / "none"))
    assert facts == {"driver": "550.54.15", "cuda_driver": "12.4", "source": "nvml",
                     "gpus": [{"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}] * 2}


def test_the_kernel_module_file_when_nvml_fails_and_none_without_a_gpu(tmp_path: Path) -> None:
    proc = tmp_path / "version"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n")
    assert probe.nvidia(RecordedNVML([], init=9), proc=str(proc)) == {
        "driver": "535.104.05", "cuda_driver": None, "gpus": None, "source": "proc"}
    assert probe.nvidia(RecordedNVML([], init=9), proc=str(tmp_path / "absent")) is None


def test_the_probe_runs_with_the_standard_library_alone(tmp_path: Path) -> None:
    # -I -S: no site-packages at all, so any third-party import would fail
    done = subprocess.run([sys.executable, "-I", "-S", str(PROBE), "--env", "HOME"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["schema"] == 1 and facts["interpreter"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["os"]["id"] and "HOME" in facts["env"]


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def test_rewritten_shebangs_and_hashless_entries_are_not_tampering(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "tool-1.0.dist-info"
    (site / "tool").mkdir(parents=True)
    info.mkdir()
    (tmp_path / "bin").mkdir()
    script_as_shipped = b"#!python\nimport tool\n"
    (tmp_path / "bin" / "tool").write_bytes(b"#!/opt/venv/bin/python3\nimport tool\n")  # rewritten by pip
    (site / "tool" / "__init__.py").write_bytes(b"x = 1\n")
    (info / "METADATA").write_text("Name: tool\nVersion: 1.0\n")
    (info / "RECORD").write_text("\n".join([
        _record_line("tool/__init__.py", b"x = 1\n"), _record_line("../bin/tool", script_as_shipped),
        "tool/__pycache__/__init__.cpython-311.pyc,,", "tool-1.0.dist-info/RECORD,,"]) + "\n")
    packages = probe.distributions([str(site)])["packages"]
    assert probe.verify_records(packages) == []
    (site / "tool" / "__init__.py").write_bytes(b"x = 2\n")
    assert probe.verify_records(packages) == [
        {"package": "tool", "path": str(site / "tool" / "__init__.py"), "status": "modified"}]


def _lock(min_driver: str = "525.60.13") -> Lock:
    return Lock(spec_hash="sha256:x", name="t", target=Target(platform="linux/amd64"),
                python=PythonLock(requested="3.11", resolver="uv", index_url="x"),
                cuda=CudaLock(runtime="12.4.127", min_driver=min_driver))


def _facts(gpu: dict | None) -> dict:
    return {"interpreter": {"version": "3.11.2"}, "python": {"packages": {}, "problems": []}, "nvidia": gpu,
            "env": {}}


def test_the_driver_must_reach_the_locks_minimum() -> None:
    h100 = probe.nvidia(RecordedNVML([(b"NVIDIA H100 80GB HBM3", 9, 0)]), proc="/nonexistent")
    outcome = compare(_lock(), _facts(h100))
    assert outcome.ok
    assert [(f.kind, f.status, f.severity) for f in outcome.findings] == [("gpu", "unverifiable", "warning")]
    too_old = compare(_lock(min_driver="560.28.03"), _facts(h100))
    assert not too_old.ok
    assert [(f.kind, f.status, f.expected, f.found) for f in too_old.findings if f.severity == "error"] == [
        ("driver", "changed", ">= 560.28.03", "550.54.15")]
    no_gpu = compare(_lock(), _facts(None))
    assert no_gpu.ok and [(f.kind, f.status, f.severity) for f in no_gpu.findings] == [
        ("driver", "missing", "warning")]


def test_deep_leaves_distro_installed_packages_to_the_distro(tmp_path: Path) -> None:
    info = tmp_path / "yaml-6.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: PyYAML\nVersion: 6.0\n")
    (info / "INSTALLER").write_text("debian\n")
    (info / "RECORD").write_text(_record_line("yaml/_yaml.so", b"unstripped") + "\n")
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "_yaml.so").write_bytes(b"stripped by dh_strip")
    packages = probe.distributions([str(tmp_path)])["packages"]
    assert packages["pyyaml"]["installer"] == "debian"
    assert probe.verify_records(packages) == []
    (info / "INSTALLER").write_text("pip\n")
    assert probe.verify_records(probe.distributions([str(tmp_path)])["packages"])[0]["status"] == "modified"


FAKE_LIBS = {
    "nvidia/cuda_runtime/lib/libcudart.so.12": "int cudaRuntimeGetVersion(int *v) { *v = 12040; return 0; }",
    "nvidia/cudnn/lib/libcudnn.so.9": "unsigned long cudnnGetVersion(void) { return 90100; }",
    "nvidia/nccl/lib/libnccl.so.2": "int ncclGetVersion(int *v) { *v = 22105; return 0; }",
}


def test_cuda_libraries_are_asked_their_versions_where_the_wheels_put_them(tmp_path: Path) -> None:
    import shutil

    if shutil.which("gcc") is None:
        import pytest

        pytest.skip("gcc is needed to build the stand-in libraries")
    site = tmp_path / "site"
    for rel, source in FAKE_LIBS.items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "x.c").write_text(source + "\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(target), str(tmp_path / "x.c")], check=True)
    libs = probe.cuda_libraries([str(site)])
    assert {name: lib["version"] for name, lib in libs.items()} == {"cudart": "12.4", "cudnn": "9.1.0",
                                                                    "nccl": "2.21.5"}
    lock = Lock(spec_hash="sha256:x", name="t", target=Target(platform="linux/amd64"),
                python=PythonLock(requested="3.11", resolver="uv", index_url="x"),
                cuda=CudaLock(runtime="12.4.127", cudnn="9.1.0.70", nccl="2.21.5", min_driver="525.60.13"))
    facts = {**_facts(None), "cuda": libs}
    assert [f for f in compare(lock, facts).findings if f.kind == "cuda"] == []
    other = dataclasses.replace(lock, cuda=dataclasses.replace(lock.cuda, runtime="12.6.77", nccl="2.23.4"))
    found = {(f.name, f.status) for f in compare(other, facts).findings if f.kind == "cuda"}
    assert found == {("cudart", "changed"), ("nccl", "changed")}


def test_version_encodings() -> None:
    assert probe._decode_version("cudart", 12060) == "12.6"
    assert probe._decode_version("cudnn", 8902) == "8.9.2"
    assert probe._decode_version("nccl", 2807) == "2.8.7" and probe._decode_version("nccl", 22303) == "2.23.3"


def test_the_probe_reads_what_to_collect_from_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "envbuild.lock"
    lock.write_text('version = 1\nname = "t"\n\n[python]\nrequested = "3.11"\n\n'
                    '[[system.packages]]\nname = "git"\n\n[cuda]\nruntime = "12.4.127"\n\n[env]\n'
                    'PYTHONHASHSEED = "0"\n"CUBLAS_WORKSPACE_CONFIG" = ":4096:8"\n\n[check]\nignore-extra = []\n')
    assert probe.lock_needs(str(lock)) == (["CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED"], True, True)
    lock.write_text('version = 1\n\n[python]\nrequested = "3.11"\n')
    assert probe.lock_needs(str(lock)) == ([], False, False)
    assert probe.lock_needs(str(tmp_path / "missing.lock")) == ([], True, True)  # collect everything
