"""Which GPUs the installed torch has kernels for: the fatbin reader against real nvcc output (and a real torch
CUDA wheel where one is on disk), CUDA's compatibility rules, and the data-file fallback."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from envbuild.check import kernels

KERNEL = ("__global__ void add(float *x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; "
          "if (i < n) x[i] += 1.0f; }\n")
LIBRARIES = {  # -gencode options -> what the reader must find
    "mixed": (["compute_80,code=sm_80", "compute_90a,code=sm_90a", "compute_100f,code=sm_100f",
               "compute_90,code=compute_90"], {"sass": ["8.0", "9.0a", "10.0f"], "ptx": ["9.0"]}),
    "old": (["compute_75,code=sm_75", "compute_86,code=sm_86"], {"sass": ["7.5", "8.6"], "ptx": []}),
}
TORCH_WHEEL = Path(os.environ.get("ENVBUILD_TEST_TORCH_WHEEL",
                                  "/opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl"))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Shared libraries compiled by nvcc for the architectures in LIBRARIES (skipped where nvcc is missing)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (the CUDA toolkit) is needed to build real fat binaries")
    root = tmp_path_factory.mktemp("fatbin")
    (root / "k.cu").write_text(KERNEL)
    out = {}
    for name, (codes, _) in LIBRARIES.items():
        argv = [nvcc, "-shared", "-Xcompiler", "-fPIC", "-o", str(root / f"lib{name}.so"), str(root / "k.cu")]
        for code in codes:
            argv += ["-gencode", f"arch={code}"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"nvcc could not build for {codes}: {done.stderr.strip()[-200:]}")
        out[name] = root / f"lib{name}.so"
    return out


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_the_reader_finds_what_nvcc_put_in(built: dict[str, Path], name: str) -> None:
    assert kernels.read_fatbin(str(built[name])) == LIBRARIES[name][1]


def test_files_without_a_fat_binary(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("not an ELF file")
    assert kernels.read_fatbin(str(tmp_path / "text")) is None
    assert kernels.read_fatbin("/bin/sh") is None  # an ELF file without .nv_fatbin
    assert kernels.read_fatbin(str(tmp_path / "absent")) is None


@pytest.mark.parametrize(("capability", "expected"), [
    ("8.0", "sass"), ("8.6", "sass"), ("8.9", "sass"),  # sm_80 SASS runs on the later 8.x GPUs
    ("9.0", "sass"),  # sm_90a: exactly 9.0
    ("10.0", "sass"), ("10.3", "sass"),  # sm_100f: the 10.x family
    ("12.0", "ptx"), ("11.0", "ptx"),  # compute_90 PTX, compiled by the driver for any later GPU
    ("7.5", None), ("7.0", None),  # older than anything carried
])
def test_cuda_compatibility_rules(capability: str, expected: str | None) -> None:
    assert kernels.runs_on({"sass": ["8.0", "9.0a", "10.0f"], "ptx": ["9.0"]}, capability) == expected


def test_arch_specific_code_runs_on_that_gpu_only() -> None:
    assert kernels.runs_on({"sass": ["9.0a"], "ptx": []}, "9.0") == "sass"
    assert kernels.runs_on({"sass": ["10.0a"], "ptx": []}, "10.3") is None
    assert kernels.runs_on({"sass": [], "ptx": ["10.0a"]}, "12.0") is None
    assert kernels.runs_on({"sass": [], "ptx": ["10.0f"]}, "10.3") == "ptx"
    assert kernels.runs_on({"sass": [], "ptx": ["10.0f"]}, "12.0") is None


def _torch(site: Path, version: str, *, library: Path | None = None, cuda: str | None = None) -> dict:
    info = site / f"torch-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Name: torch\nVersion: {version}\n")
    (site / "torch" / "lib").mkdir(parents=True)
    (site / "torch" / "version.py").write_text(f"__version__ = '{version}'\ncuda: Optional[str] = {cuda!r}\n")
    if library is not None:
        shutil.copy(library, site / kernels.LIBRARY)
    return {"version": version, "path": str(info)}


def test_torch_kernels_from_its_library_else_from_the_data_file(tmp_path: Path, built: dict[str, Path]) -> None:
    read = kernels.of_torch(_torch(tmp_path / "a", "2.5.1", library=built["old"], cuda="12.4"))
    assert read == {"package": "torch 2.5.1", "source": kernels.LIBRARY, "sass": ["7.5", "8.6"], "ptx": []}
    fallback = kernels.of_torch(_torch(tmp_path / "b", "2.5.1+cu124", cuda="12.4"))
    assert fallback is not None and fallback["source"].startswith("data: TORCH_CUDA_ARCH_LIST")
    assert "9.0" in fallback["sass"] and fallback["ptx"] == ["9.0"]
    cpu = kernels.of_torch(_torch(tmp_path / "c", "2.5.1+cpu", cuda=None))
    assert cpu is not None and cpu["sass"] == [] and "without CUDA" in cpu["source"]
    unknown = kernels.of_torch(_torch(tmp_path / "d", "1.8.0", cuda="11.1"))
    assert unknown is not None and unknown["source"] is None and unknown["cuda"] == "11.1"


def test_every_data_row_names_its_source() -> None:
    from envbuild.data import load

    rows = load("torch_cuda")["variant"]
    assert {(r["cuda"], r["machine"]) for r in rows} >= {("12.4", "x86_64"), ("12.8", "x86_64"), ("13.0", "x86_64")}
    for row in rows:
        assert row["source"] in ("builder-cu12x", "pytorch-799d09f")
        assert all(a.removesuffix("+PTX").replace(".", "").isdigit() for a in row["arch-list"].split(";"))


@pytest.fixture(scope="session")
def torch_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libtorch_cuda.so of a real torch CUDA wheel on this disk (skipped where there is none)."""
    if not TORCH_WHEEL.is_file():
        pytest.skip(f"no torch CUDA wheel at {TORCH_WHEEL} (set ENVBUILD_TEST_TORCH_WHEEL to one)")
    root = tmp_path_factory.mktemp("torch")
    with zipfile.ZipFile(TORCH_WHEEL) as wheel:
        wheel.extract(kernels.LIBRARY, root)
    return root / kernels.LIBRARY


def test_a_real_torch_library_carries_the_architectures_its_build_script_names(torch_library: Path) -> None:
    """torch 2.14.1+cu130: pytorch's build script sets TORCH_CUDA_ARCH_LIST 7.5;8.0;8.6;9.0;10.0;12.0+PTX for
    CUDA 13.0 (envbuild/data/torch_cuda.toml); the binary has SASS for each (plus some a/f kernels), and no PTX."""
    found = kernels.read_fatbin(str(torch_library))
    assert found is not None
    plain = [arch for arch in found["sass"] if arch[-1].isdigit()]
    assert {"7.5", "8.0", "8.6", "9.0", "10.0", "12.0"} <= set(plain)
    assert found["ptx"] == []
    assert kernels.runs_on(found, "7.0") is None and kernels.runs_on(found, "12.1") == "sass"
