from __future__ import annotations

import pytest

from envbuild.lockfile import CudaLock, PythonPackage
from envbuild.resolve.cuda import CudaConflict, driver_floor, resolve_cuda


def pkg(name: str, version: str) -> PythonPackage:
    return PythonPackage(name=name, version=version, hashes=("sha256:" + "0" * 64,))


TORCH_251 = [pkg("torch", "2.5.1"), pkg("nvidia-cuda-runtime-cu12", "12.4.127"), pkg("nvidia-cudnn-cu12", "9.1.0.70"),
             pkg("nvidia-nccl-cu12", "2.21.5"), pkg("numpy", "1.26.4")]


@pytest.mark.parametrize(("runtime", "floor", "toolkit"), [
    ("11.8.89", "450.80.02", "520.61.05"),
    ("12.0.146", "525.60.13", "525.60.13"),
    ("12.4.99", "525.60.13", "550.54.14"),    # 12.4 GA
    ("12.4.127", "525.60.13", "550.54.15"),   # 12.4 Update 1
    ("12.8.90", "525.60.13", "570.26"),
    ("13.0.88", "580.65.06", "580.65.06"),
])
def test_driver_floors_follow_nvidias_tables(runtime: str, floor: str, toolkit: str) -> None:
    assert driver_floor(runtime) == (floor, toolkit)


def test_an_unknown_family_is_refused_with_what_is_known() -> None:
    with pytest.raises(CudaConflict, match=r"CUDA 10.2.89: no driver data .* \(envbuild knows 11.x, 12.x, 13.x\)"):
        driver_floor("10.2.89")


def test_auto_reads_the_stack_from_the_torch_wheels() -> None:
    assert resolve_cuda("auto", TORCH_251) == (CudaLock(runtime="12.4.127", cudnn="9.1.0.70", nccl="2.21.5",
                                                       min_driver="525.60.13", toolkit_driver="550.54.15"), [])


def test_cuda_13_wheels_without_suffix_are_recognised() -> None:
    lock, _ = resolve_cuda("auto", [pkg("nvidia-cuda-runtime", "13.0.88"), pkg("nvidia-cudnn-cu13", "9.13.0.50")])
    assert lock is not None and lock.runtime == "13.0.88" and lock.min_driver == "580.65.06"


TORCH_TODAY = [pkg("torch", "2.14.1"), pkg("cuda-toolkit", "13.2.2"), pkg("nvidia-cuda-runtime", "13.2.86"),
               pkg("nvidia-cudnn-cu13", "9.26.0.51"), pkg("nvidia-nccl-cu13", "2.30.7"),
               pkg("nvidia-cusparselt-cu13", "0.8.1"), pkg("nvidia-cublas", "13.4.1.3")]


def test_today_s_default_torch_gives_its_cuda_13_stack() -> None:
    """torch from PyPI pins the CUDA 13 wheels (uv pip compile torch, 2026-12: the pins above)."""
    assert resolve_cuda("auto", TORCH_TODAY) == (CudaLock(runtime="13.2.86", cudnn="9.26.0.51", nccl="2.30.7",
                                                          min_driver="580.65.06", toolkit_driver=None), [])


def test_the_next_family_is_read_by_its_name_s_rule_without_a_data_row() -> None:
    """A CUDA 14 stack, named the way 13's is: nothing in envbuild names these wheels one by one."""
    lock, warnings = resolve_cuda("13.2", [pkg("nvidia-cuda-runtime", "13.2.86"), pkg("nvidia-nccl-cu14", "2.40.1")])
    assert lock is not None and lock.nccl is None and warnings == [
        "nvidia-nccl-cu14==2.40.1 is NCCL for CUDA 14, but the runtime is CUDA 13 (nvidia-cuda-runtime==13.2.86); "
        "the package that pins it loads its own copy"]
    with pytest.raises(CudaConflict, match=r"nvidia-cudnn-cu14==9.40.0.1 is cuDNN for CUDA 14, but the runtime is"):
        resolve_cuda("auto", [pkg("nvidia-cuda-runtime", "13.2.86"), pkg("nvidia-cudnn-cu14", "9.40.0.1")])


def test_a_cudnn_or_nccl_wheel_without_suffix_names_no_cuda() -> None:
    """nvidia-nccl 2.30.7's version is NCCL's, not a CUDA major: it goes with any runtime."""
    lock, warnings = resolve_cuda("auto", [pkg("nvidia-cuda-runtime", "13.2.86"), pkg("nvidia-nccl", "2.30.7"),
                                           pkg("nvidia-cudnn", "9.26.0.51")])
    assert warnings == [] and lock is not None and (lock.cudnn, lock.nccl) == ("9.26.0.51", "2.30.7")


def test_no_cuda_and_none_give_no_table() -> None:
    assert resolve_cuda("auto", [pkg("numpy", "1.26.4")]) == (None, [])
    assert resolve_cuda("none", TORCH_251) == (None, [])


def test_an_explicit_version_must_agree_with_the_pins() -> None:
    assert resolve_cuda("12.4", TORCH_251)[0] is not None
    with pytest.raises(CudaConflict, match=r"\[cuda\] version = '12.1', but the pins bring CUDA runtime 12.4.127"):
        resolve_cuda("12.1", TORCH_251)


def test_an_explicit_version_without_runtime_wheels_is_the_providers() -> None:
    lock, warnings = resolve_cuda("11.8", [pkg("nvidia-nccl-cu11", "2.19.3")])
    assert lock == CudaLock(runtime="11.8", nccl="2.19.3", min_driver="450.80.02", toolkit_driver="520.61.05")
    assert warnings == []


@pytest.mark.parametrize(("requested", "packages", "says"), [
    ("auto", [pkg("nvidia-cuda-runtime-cu12", "12.4.127"), pkg("nvidia-cudnn-cu13", "9.13.0.50")],
     "nvidia-cudnn-cu13==9.13.0.50 is cuDNN for CUDA 13, but the runtime is CUDA 12 "
     "(nvidia-cuda-runtime-cu12==12.4.127)"),
    ("auto", [pkg("nvidia-cuda-runtime-cu12", "12.4.127"), pkg("nvidia-cuda-runtime-cu11", "11.8.89")],
     "the pins hold two CUDA runtimes (nvidia-cuda-runtime-cu12==12.4.127, nvidia-cuda-runtime-cu11==11.8.89)"),
    ("12.4", [pkg("nvidia-cudnn-cu11", "8.9.2.26")],
     "nvidia-cudnn-cu11==8.9.2.26 is cuDNN for CUDA 11, but the runtime is CUDA 12 ([cuda] version = '12.4')"),
    ("auto", [pkg("nvidia-cudnn-cu12", "9.1.0.70")], "no CUDA runtime wheel; set [cuda] version"),
])
def test_contradictions_are_explained(requested: str, packages: list[PythonPackage], says: str) -> None:
    with pytest.raises(CudaConflict) as info:
        resolve_cuda(requested, packages)
    assert says in str(info.value)


def test_an_nccl_of_another_major_is_a_warning_not_an_error() -> None:
    # seen on PyPI: torch for CUDA 13 beside xgboost, which pins nvidia-nccl-cu12
    stack = [pkg("nvidia-cuda-runtime", "13.2.86"), pkg("nvidia-cudnn-cu13", "9.26.0.51"),
             pkg("nvidia-nccl-cu13", "2.30.7"), pkg("nvidia-nccl-cu12", "2.32.3")]
    lock, warnings = resolve_cuda("auto", stack)
    assert lock is not None and (lock.runtime, lock.nccl, lock.min_driver) == ("13.2.86", "2.30.7", "580.65.06")
    assert warnings == ["nvidia-nccl-cu12==2.32.3 is NCCL for CUDA 12, but the runtime is CUDA 13 "
                        "(nvidia-cuda-runtime==13.2.86); the package that pins it loads its own copy"]


def test_the_base_images_cuda_describes_the_stack_and_must_agree_with_the_wheels() -> None:
    image = {"CUDA_VERSION": "12.4.1", "NV_CUDNN_VERSION": "9.1.0.70", "NCCL_VERSION": "2.21.5"}
    lock, _ = resolve_cuda("auto", [pkg("numpy", "1.26.4")], image)
    assert lock == CudaLock(runtime="12.4.1", cudnn="9.1.0.70", nccl="2.21.5", min_driver="525.60.13",
                            toolkit_driver="550.54.14")
    assert resolve_cuda("auto", TORCH_251, image)[0] == resolve_cuda("auto", TORCH_251)[0], "the wheels' CUDA wins"
    with pytest.raises(CudaConflict, match=r"the pins bring CUDA 12 \(nvidia-cuda-runtime-cu12==12.4.127\) but the "
                                           r"base image's toolkit is CUDA 11.8.0 \(CUDA_VERSION\)"):
        resolve_cuda("auto", TORCH_251, {"CUDA_VERSION": "11.8.0"})
    with pytest.raises(CudaConflict, match=r"nvidia-cudnn-cu11==8\.9\.2\.26 is cuDNN for CUDA 11, but the base image"):
        resolve_cuda("auto", [pkg("nvidia-cudnn-cu11", "8.9.2.26")], {"CUDA_VERSION": "12.4.1"})


def test_a_cuda_local_version_agrees_with_the_runtime_wheels() -> None:
    pins = [pkg("torch", "2.5.1+cu124"), *TORCH_251[1:]]
    lock, _ = resolve_cuda("auto", pins)
    assert lock is not None and lock.runtime == "12.4.127"
    with pytest.raises(CudaConflict, match=r"torch==2.5.1\+cu118 is built for CUDA 11.8, but the pins bring CUDA "
                                           r"runtime 12.4.127"):
        resolve_cuda("auto", [pkg("torch", "2.5.1+cu118"), *TORCH_251[1:]])


def test_a_cuda_local_version_alone_names_the_cuda() -> None:
    lock, _ = resolve_cuda("auto", [pkg("torch", "2.0.1+cu118"), pkg("xformers", "0.0.22+cu118.torch2.0"),
                                    pkg("numpy", "1.26.4")])
    assert lock is not None and lock.runtime == "11.8" and lock.min_driver == "450.80.02"
    assert resolve_cuda("auto", [pkg("torch", "2.5.1+cpu")]) == (None, [])
    with pytest.raises(CudaConflict, match="built for different CUDA versions"):
        resolve_cuda("auto", [pkg("torch", "2.5.1+cu124"), pkg("torchvision", "0.20.1+cu121")])
    with pytest.raises(CudaConflict, match=r"\[cuda\] version = '12.4'"):
        resolve_cuda("12.4", [pkg("torch", "2.0.1+cu118")])
