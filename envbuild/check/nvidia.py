"""NVIDIA facts with the standard library alone: the driver and GPUs (NVML through ctypes, else the kernel
module's version file), and the CUDA libraries an environment loads (cudart, cuDNN, NCCL), asked their versions.

No GPU is a normal answer (None), never an error: CI runners and login nodes have none.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any


def _read(path: str, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def devices(nvml: Any | None = None, proc: str = "/proc/driver/nvidia/version") -> dict[str, Any] | None:
    """Driver, CUDA driver API and GPUs from NVML, else the kernel module's version file; None without a GPU.

    NVML and the file may be injected: tests replay recorded answers."""
    import ctypes

    try:
        lib = nvml if nvml is not None else ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        lib = None
    if lib is not None:
        facts = _from_nvml(lib)
        if facts is not None:
            return facts
    data = _read(proc, 4096)
    if data is not None:
        import re

        match = re.search(rb"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", data)
        if match:
            return {"driver": match.group(1).decode(), "cuda_driver": None, "gpus": None, "source": "proc"}
    return None


def _from_nvml(lib: Any) -> dict[str, Any] | None:
    import ctypes

    try:
        if lib.nvmlInit_v2() != 0:
            return None
    except (AttributeError, OSError):
        return None
    try:
        buf = ctypes.create_string_buffer(96)
        driver = buf.value.decode() if lib.nvmlSystemGetDriverVersion(buf, 96) == 0 else None
        cuda = ctypes.c_int()
        cuda_driver = None
        if lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda)) == 0:
            cuda_driver = f"{cuda.value // 1000}.{(cuda.value % 1000) // 10}"  # 12040 -> 12.4
        count = ctypes.c_uint()
        gpus = []
        if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0:
            for index in range(count.value):
                handle = ctypes.c_void_p()
                if lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                    continue
                name = ctypes.create_string_buffer(96)
                major, minor = ctypes.c_int(), ctypes.c_int()
                lib.nvmlDeviceGetName(handle, name, 96)
                capability = None
                if lib.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor)) == 0:
                    capability = f"{major.value}.{minor.value}"
                gpus.append({"name": name.value.decode("utf-8", "replace"), "compute_capability": capability})
        return {"driver": driver, "cuda_driver": cuda_driver, "gpus": gpus, "source": "nvml"}
    finally:
        try:  # noqa: SIM105 - contextlib would be one more import on the check's path
            lib.nvmlShutdown()
        except (AttributeError, OSError):
            pass


# ---------------------------------------------------------------------------------------------------------
# CUDA libraries as this environment would load them: the nvidia-* wheels' copies, else the system's

_CUDA_LIBS = (  # name, directory inside site-packages, file prefix, system name (ctypes.util.find_library)
    ("cudart", "nvidia/cuda_runtime/lib", "libcudart.so", "cudart"),
    ("cudnn", "nvidia/cudnn/lib", "libcudnn.so", "cudnn"),
    ("nccl", "nvidia/nccl/lib", "libnccl.so", "nccl"),
)


def _decode_version(name: str, value: int) -> str:
    if name == "cudart":  # 1000 * major + 10 * minor
        return f"{value // 1000}.{(value % 1000) // 10}"
    if name == "cudnn":  # 9.x: major * 10000 + minor * 100 + patch; 8.x and older: major * 1000 + minor * 100 + patch
        major, rest = (value // 10000, value % 10000) if value >= 90000 else (value // 1000, value % 1000)
        return f"{major}.{rest // 100}.{rest % 100}"
    # nccl 2.9+: X * 10000 + Y * 100 + Z; 2.8 and older: X * 1000 + Y * 100 + Z
    major, rest = (value // 10000, value % 10000) if value >= 20900 else (value // 1000, value % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def _call_version(name: str, path: str) -> str | None:
    import ctypes

    try:
        lib = ctypes.CDLL(path)
        if name == "cudnn":
            lib.cudnnGetVersion.restype = ctypes.c_size_t
            return _decode_version(name, int(lib.cudnnGetVersion()))
        value = ctypes.c_int()
        function = lib.cudaRuntimeGetVersion if name == "cudart" else lib.ncclGetVersion
        if function(ctypes.byref(value)) != 0:
            return None
        return _decode_version(name, value.value)
    except (OSError, AttributeError):
        return None


def cuda_libraries(paths: list[str]) -> dict[str, Any]:
    """name -> {version, path} of cudart, cuDNN and NCCL as loaded (None where none is found or loads)."""
    import ctypes.util

    out: dict[str, Any] = {}
    for name, subdir, prefix, system in _CUDA_LIBS:
        candidates = []
        for directory in paths:
            folder = os.path.join(directory, subdir)
            try:
                candidates += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.startswith(prefix))
            except OSError:
                continue
            if candidates:
                break
        if not candidates:
            found = ctypes.util.find_library(system)
            candidates = [found] if found else []
        version = None
        for path in candidates:
            version = _call_version(name, path)
            if version:
                out[name] = {"version": version, "path": path}
                break
        if not version:
            out[name] = None
    return out
