"""The comparison (the driver, GPUs against the installed torch's kernels, CUDA libraries, a strict apt check) and
the report's JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from envbuild.check import nvidia, probe, report
from envbuild.check.compare import compare
from envbuild.lockfile import BaseImage, CudaLock, Lock, PythonLock, PythonPackage, SystemLock, SystemPackage, Target
from envbuild.lockview import from_lock
from tests.check.test_nvidia import RecordedNVML, build_cuda_13_wheels, build_fake_cuda_libraries

CUDA_124 = CudaLock(runtime="12.4.127", cudnn="9.1.0.70", nccl="2.21.5", min_driver="525.60.13",
                    toolkit_driver="550.54.14")


def _lock(**changes: Any) -> Lock:
    lock = Lock(spec_hash="sha256:x", name="t", target=Target(platform="linux/amd64"),
                python=PythonLock(requested="3.11", resolver="uv", index_url="x"), cuda=CUDA_124)
    return dataclasses.replace(lock, **changes)


def _facts(gpu: dict | None = None, **more: Any) -> dict:
    return {"interpreter": {"version": "3.11.2"}, "python": {"packages": {}, "problems": []}, "nvidia": gpu,
            "env": {}, **more}


def _errors_and_warnings(lock: Lock, facts: dict, **options: Any) -> tuple[set, set]:
    outcome = compare(from_lock(lock), facts, **options)
    errors = {(f["kind"], f["status"], f["expected"], f["found"]) for f in outcome.findings
              if f["severity"] == "error"}
    warnings = {(f["kind"], f["status"]) for f in outcome.findings if f["severity"] == "warning"}
    assert outcome.ok == (not errors)
    return errors, warnings


H100 = [(b"NVIDIA H100 80GB HBM3", 9, 0)]


def test_the_driver_must_reach_the_locks_minimum() -> None:
    h100 = nvidia.devices(RecordedNVML(H100), proc="/nonexistent")
    assert _errors_and_warnings(_lock(), _facts(h100)) == (set(), set())
    too_old = _lock(cuda=dataclasses.replace(CUDA_124, min_driver="560.28.03"))
    assert _errors_and_warnings(too_old, _facts(h100))[0] == {("driver", "changed", ">= 560.28.03", "550.54.15")}
    assert _errors_and_warnings(_lock(), _facts(None)) == (set(), {("driver", "missing")})


def test_a_driver_older_than_the_toolkit_runs_it_through_minor_version_compatibility() -> None:
    """Driver 535 (CUDA 12.2) runs CUDA 12.4 (>= 525.60.13), but PTX newer than 12.2 cannot be JIT-compiled."""
    older = nvidia.devices(RecordedNVML(H100, cuda=12020), proc="/nonexistent")
    outcome = compare(from_lock(_lock()), _facts(older))
    assert outcome.ok
    (warning,) = outcome.findings
    assert (warning["kind"], warning["status"], warning["severity"]) == ("driver", "changed", "warning")
    assert warning["expected"] == ">= 550.54.14 (CUDA 12.4)" and "(CUDA 12.2)" in warning["found"]
    assert "JIT" in warning["found"]
    # from the kernel module's file (no CUDA version there): the driver against the toolkit's own
    proc = {"driver": "535.104.05", "cuda_driver": None, "gpus": None, "source": "proc"}
    assert _errors_and_warnings(_lock(), _facts(proc)) == (set(), {("driver", "changed")})
    newer = {**proc, "driver": "550.54.15"}
    assert _errors_and_warnings(_lock(), _facts(newer)) == (set(), set())


def _torch(sass: list[str], ptx: list[str], source: str | None = "torch/lib/libtorch_cuda.so") -> dict:
    return {"package": "torch 2.5.1", "source": source, "sass": sass, "ptx": ptx}


def test_a_gpu_without_kernels_in_the_installed_torch_is_an_error() -> None:
    """sm_120 (an RTX 5090) with a torch that has SASS up to 9.0 and no PTX: "no kernel image is available"."""
    gpus = {"driver": "570.86.10", "cuda_driver": "12.8", "source": "nvml",
            "gpus": [{"name": "NVIDIA GeForce RTX 5090", "compute_capability": "12.0"},
                     {"name": "NVIDIA H100", "compute_capability": "9.0"}]}
    facts = _facts(gpus, kernels=_torch(["7.5", "8.0", "8.6", "9.0"], []))
    outcome = compare(from_lock(_lock()), facts)
    assert not outcome.ok
    (error,) = [f for f in outcome.findings if f["severity"] == "error"]
    assert (error["kind"], error["name"], error["status"]) == ("gpu", "0: NVIDIA GeForce RTX 5090", "missing")
    assert "sm 12.0" in error["expected"] and "from torch/lib/libtorch_cuda.so" in error["found"]
    with_ptx = compare(from_lock(_lock()), _facts(gpus, kernels=_torch(["8.0", "9.0"], ["9.0"])))
    assert with_ptx.ok and [(f["name"], f["status"]) for f in with_ptx.findings if f["kind"] == "gpu"] == [
        ("0: NVIDIA GeForce RTX 5090", "unverifiable")], "PTX only: compiled at first use, a warning"
    assert compare(from_lock(_lock()), _facts(gpus, kernels=_torch(["9.0", "12.0"], []))).findings == []
    unknown = compare(from_lock(_lock()), _facts(gpus, kernels={**_torch([], [], source=None), "cuda": "11.2"}))
    assert unknown.ok and {f["status"] for f in unknown.findings} == {"unverifiable"}
    no_torch = compare(from_lock(_lock()), _facts(gpus))
    assert no_torch.findings == [], "no torch installed: nothing of ours runs on the GPUs"


def test_cuda_libraries_as_loaded_must_be_the_locked_ones(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_fake_cuda_libraries(site, tmp_path)
    facts = _facts(None, cuda=nvidia.cuda_libraries([str(site)]))
    assert [f for f in compare(from_lock(_lock()), facts).findings if f["kind"] == "cuda"] == []
    other = _lock(cuda=dataclasses.replace(CUDA_124, runtime="12.6.77", nccl="2.23.4"))
    found = {(f["name"], f["status"]) for f in compare(from_lock(other), facts).findings if f["kind"] == "cuda"}
    assert found == {("cudart", "changed"), ("nccl", "changed")}


def test_cuda_13_wheels_check_clean_against_a_lock_of_today_s_torch(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_cuda_13_wheels(site, tmp_path)
    cuda_13 = CudaLock(runtime="13.2.86", cudnn="9.26.0.51", nccl="2.30.7", min_driver="580.65.06",
                       toolkit_driver=None)
    facts = _facts(None, cuda=nvidia.cuda_libraries([str(site)], probe.distributions([str(site)])["packages"]))
    assert [f for f in compare(from_lock(_lock(cuda=cuda_13)), facts).findings if f["kind"] == "cuda"] == []
    older = dataclasses.replace(cuda_13, nccl="2.27.3")
    assert [(f["name"], f["status"]) for f in compare(from_lock(_lock(cuda=older)), facts).findings
            if f["kind"] == "cuda"] == [("nccl", "changed")], "no copy of the locked NCCL is installed"


def _dpkg(**packages: str) -> dict:
    return {name.replace("_", "-"): version for name, version in packages.items()}


def test_strict_knows_what_the_base_image_holds() -> None:
    system = SystemLock(sources=(), packages=(SystemPackage("git", "1:2.39.5", "amd64", "0" * 64),))
    base = BaseImage("debian:bookworm", "sha256:" + "1" * 64, packages=(("bash", "5.2.15"), ("libc6", "2.36-9")))
    lock = _lock(cuda=None, system=system, base_image=base)
    clean = _facts(dpkg=_dpkg(git="1:2.39.5", bash="5.2.15", libc6="2.36-9"))
    assert _errors_and_warnings(lock, clean, strict=True) == (set(), set())
    drifted = _facts(dpkg=_dpkg(git="1:2.39.5", bash="5.2.15", libc6="2.36-10", vim="2:9.0"))
    assert _errors_and_warnings(lock, drifted, strict=True)[0] == {
        ("system", "changed", "2.36-9 (base image)", "2.36-10"), ("system", "extra", None, "2:9.0")}
    assert _errors_and_warnings(lock, drifted)[0] == set(), "not strict: only the lock's own packages count"
    version_1 = _lock(cuda=None, system=system, base_image=dataclasses.replace(base, packages=None), version=1)
    assert _errors_and_warnings(version_1, drifted, strict=True) == (set(), {("system", "unverifiable")})
    bare_metal = _lock(cuda=None, system=system)
    assert ("system", "extra", None, "2:9.0") in _errors_and_warnings(bare_metal, drifted, strict=True)[0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_the_reports_json_is_byte_equal_to_json_dumps(value: Any) -> None:
    assert report.dumps(value) == json.dumps(value, indent=2)
    assert report.dumps({"n": 1.5, "k": value}) == json.dumps({"n": 1.5, "k": value}, indent=2)  # floats: json


def test_a_conda_packages_own_dist_info_is_checked_as_conda_and_any_other_is_an_extra() -> None:
    """A conda environment's Python packages have dist-info too: those are conda's records (compared there, under
    their PEP 503 name: conda's ruamel.yaml is ruamel-yaml), and a distribution no record owns is still drift."""
    from envbuild.lockfile import CondaLock, CondaPackage

    record = CondaPackage(name="ruamel.yaml", version="0.18.6", build="py311_0", build_number=0, subdir="linux-64",
                          channel="https://c", url="https://c/linux-64/r.conda", sha256="0" * 64, md5="0" * 32)
    lock = _lock(cuda=None, conda=CondaLock(channels=("https://c",), prefix="/opt/conda", packages=(record,)))
    conda = {"prefix": "/opt/conda", "records": {"ruamel.yaml": ["0.18.6", "py311_0"]}, "problems": []}
    dists = {"ruamel-yaml": {"version": "0.18.6", "direct_url": None, "path": "x"},
             "stray": {"version": "1.0", "direct_url": None, "path": "y"}}
    facts = _facts(conda=conda, python={"packages": dists, "problems": []})
    assert _errors_and_warnings(lock, facts) == ({("python", "extra", None, "1.0")}, set())
    del dists["stray"]
    assert _errors_and_warnings(lock, facts) == (set(), set())
    conda["records"] = {"ruamel.yaml": ["0.18.5", "py311_0"]}
    assert _errors_and_warnings(lock, facts)[0] == {("conda", "changed", "0.18.6 py311_0", "0.18.5 py311_0")}


def test_two_installs_of_one_project_are_said() -> None:
    """In one folder, which one Python reads is chance (a half-removed install): drift.  In two folders of the path,
    the first shadows the second: a warning."""
    lock = _lock(cuda=None, python=PythonLock(requested="3.11", resolver="uv", index_url="x", packages=(
        PythonPackage("numpy", "1.26.4", ("sha256:" + "0" * 64,)),)))
    same = {"name": "numpy", "version": "1.26.3", "path": "/v/site/numpy-1.26.3.dist-info",
            "first": "/v/site/numpy-1.26.4.dist-info", "first_version": "1.26.4"}
    other = {**same, "path": "/usr/lib/python3/dist-packages/numpy-1.26.3.dist-info"}
    python = {"packages": {"numpy": {"version": "1.26.4", "direct_url": None, "path": same["first"]}},
              "problems": []}
    clean = compare(from_lock(lock), _facts(python={**python, "duplicates": []}))
    assert [f for f in clean.findings if f["kind"] == "python"] == []
    found = compare(from_lock(lock), _facts(python={**python, "duplicates": [same]}))
    assert [(f["name"], f["status"], f["severity"]) for f in found.findings if f["kind"] == "python"] == [
        ("numpy", "changed", "error")]
    assert found.findings[0]["found"] == ("two installs: 1.26.4 (/v/site/numpy-1.26.4.dist-info) and 1.26.3 "
                                          "(/v/site/numpy-1.26.3.dist-info)")
    shadowed = compare(from_lock(lock), _facts(python={**python, "duplicates": [other]}))
    assert [(f["status"], f["severity"]) for f in shadowed.findings if f["kind"] == "python"] == [
        ("changed", "warning")] and shadowed.ok
