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

_CUDA_LIBS = (  # name, the wheels that ship it (that name, or it with -cuNN), file prefix, system name (find_library)
    ("cudart", "nvidia-cuda-runtime", "libcudart.so", "cudart"),
    ("cudnn", "nvidia-cudnn", "libcudnn.so", "cudnn"),
    ("nccl", "nvidia-nccl", "libnccl.so", "nccl"),
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


def ships(family: str, name: str) -> bool:
    """Whether the distribution NAME (normalised) is of the wheel FAMILY: nvidia-nccl, nvidia-nccl-cu12, -cu13."""
    if name == family:
        return True
    suffix = name[len(family):]
    return name.startswith(family) and suffix.startswith("-cu") and suffix[3:].isdigit()


def wheel_libraries(packages: dict[str, Any], family: str, prefix: str) -> list[str]:
    """The files named PREFIX* that the installed wheels of FAMILY hold, as their RECORD lists them: wherever a
    wheel puts them (CUDA 12's nvidia/cuda_runtime/lib, CUDA 13's nvidia/cu13/lib, or the next layout).  The
    families' wheels in name order: the suffix-less one (CUDA 13 on) first, then -cu11, -cu12, ..."""
    out = []
    for name in sorted(n for n in packages if ships(family, n)):
        info = packages[name]["path"]
        record = _read(os.path.join(info, "RECORD"), 1 << 22)
        if record is None:
            continue
        base = os.path.dirname(info)
        for line in record.decode("utf-8", "replace").splitlines():
            path = line.rsplit(",", 2)[0]
            if os.path.basename(path).startswith(prefix):
                out.append(os.path.normpath(os.path.join(base, path)))
    return out


def cuda_libraries(paths: list[str], packages: dict[str, Any] | None = None) -> dict[str, Any]:
    """name -> {version, path, others} of cudart, cuDNN and NCCL as loaded (None where none is found or loads).

    The files come from the RECORD of the installed nvidia-* wheels (PACKAGES: the probe's distributions), else
    from the wheels' CUDA 12 directories on PATHS (a wheel installed without RECORD), else from the system
    (``ctypes.util.find_library``).  Every copy the wheels hold is asked its version: the first answers, and
    ``others`` lists the rest (NCCL for CUDA 12 beside CUDA 13's, which xgboost and torch pin side by side)."""
    out: dict[str, Any] = {}
    for name, family, prefix, system in _CUDA_LIBS:
        candidates = wheel_libraries(packages or {}, family, prefix)
        if not candidates:
            folder_name = "cuda_runtime" if name == "cudart" else name
            for directory in paths:
                folder = os.path.join(directory, "nvidia", folder_name, "lib")
                try:
                    candidates = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.startswith(prefix))
                except OSError:
                    continue
                if candidates:
                    break
        if not candidates:
            import ctypes.util

            found = ctypes.util.find_library(system)
            candidates = [found] if found else []
        loaded = []
        for path in candidates:
            version = _call_version(name, path)
            if version:
                loaded.append({"version": version, "path": path})
        out[name] = dict(loaded[0], others=loaded[1:]) if loaded else None
    return out
