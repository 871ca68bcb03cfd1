"""The CUDA stack of the environment: runtime, cuDNN and NCCL versions, and the lowest driver that runs them.

With ``[cuda] version = "auto"`` the versions come from the pinned ``nvidia-*`` wheels (PyTorch pins them), or
from a ``+cuXYZ`` local version (torch 2.5.1+cu124, from the PyTorch index) when no such wheel is pinned; the
two must name the same CUDA major.  An explicit version must agree with those pins.  ``min-driver`` comes from
NVIDIA's published tables, kept in ``envbuild/data/cuda.toml`` with their sources: the minor-version-compatibility
floor of the CUDA family, and the driver shipped with that toolkit release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from envbuild import data
from envbuild.check.nvidia import ships
from envbuild.errors import EnvbuildError
from envbuild.lockfile import CondaPackage, CudaLock, PythonPackage
from envbuild.versions import minor, within

_SUFFIX = re.compile(r"-cu(\d+)$")
_LOCAL_CUDA = re.compile(r"(?:^|[.])cu(\d{2,3})(?:$|[.])")  # torch 2.5.1+cu124, xformers 0.0.28+cu118.torch2.5


class CudaConflict(EnvbuildError):
    """The pins (or the spec) describe CUDA stacks that cannot work together."""


@dataclass(frozen=True)
class _Component:
    package: str
    version: str
    cuda_major: int


def _components(packages: Sequence[PythonPackage], kind: str,
                conda: Sequence[CondaPackage] = ()) -> list[_Component]:
    """The pinned wheels and conda packages of one KIND (runtime, cudnn, nccl), with the CUDA major each is for."""
    families = data.load("cuda")["wheels"][kind]
    out = []
    for pkg in packages:
        if not any(ships(family, pkg.name) for family in families):
            continue
        match = _SUFFIX.search(pkg.name)
        # without a -cuNN suffix, a runtime's version is its CUDA; a cuDNN's or NCCL's names none (0: unknown)
        major = int(match.group(1)) if match else _major(pkg.version) if kind == "runtime" else 0
        out.append(_Component(pkg.name, pkg.version, major))
    conda_names = set(data.load("cuda")["conda"][kind])
    for record in conda:
        if record.name in conda_names:
            out.append(_Component(f"conda {record.name}", record.version, _conda_major(record, kind)))
    return out


def _local_builds(packages: Sequence[PythonPackage]) -> list[_Component]:
    """The packages whose local version names the CUDA they were built for (+cu124: CUDA 12.4), as the PyTorch
    index publishes them; one CUDA for all of them, else an error."""
    out = []
    for pkg in packages:
        local = pkg.version.partition("+")[2]
        match = _LOCAL_CUDA.search(local)
        if match:
            digits = match.group(1)
            major, minor_ = (digits[:2], digits[2:]) if len(digits) == 3 else (digits[:1], digits[1:])
            out.append(_Component(f"{pkg.name}=={pkg.version}", f"{int(major)}.{int(minor_)}", int(major)))
    if len({c.version for c in out}) > 1:
        raise CudaConflict("the pins are built for different CUDA versions (" + ", ".join(
            f"{c.package}: CUDA {c.version}" for c in out) + "); take them all from one index (cu124, ...)")
    return out


def _runtimes(packages: Sequence[PythonPackage], conda: Sequence[CondaPackage]) -> list[_Component]:
    """The runtime wheels (and conda packages), checked against the +cuXYZ builds; without any, the build's CUDA
    (older +cuXYZ wheels carry the CUDA libraries inside)."""
    runtimes = _components(packages, "runtime", conda)
    builds = _local_builds(packages)
    for build in builds:
        for runtime in runtimes:
            if runtime.cuda_major != build.cuda_major:
                raise CudaConflict(f"{build.package} is built for CUDA {build.version}, but the pins bring CUDA "
                                   f"runtime {runtime.version} ({runtime.package}); take both from one CUDA")
    return runtimes or builds[:1]


def _conda_major(record: CondaPackage, kind: str) -> int:
    """The CUDA major of a conda package: its own version for the runtime; for cuDNN and NCCL, the cudaNN of its
    build string (conda-forge: cudnn-9.1.1.17-cuda12_0), else the cuda-version it depends on."""
    if kind == "runtime":
        return _major(record.version)
    match = re.search(r"cuda(\d+)", record.build)
    if match:
        return int(match.group(1)[:2]) if len(match.group(1)) > 2 else int(match.group(1))
    for depend in record.depends:
        found = re.match(r"cuda-version\s*[>=]=?\s*(\d+)", depend)
        if found:
            return int(found.group(1))
    return 0  # unknown: compared with nothing


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def driver_floor(runtime: str) -> tuple[str, str | None]:
    """(minimum driver under minor-version compatibility, driver shipped with that toolkit release or None)."""
    table = data.load("cuda")
    family = table["families"].get(str(_major(runtime)))
    if family is None:
        known = ", ".join(f"{k}.x" for k in table["families"])
        raise CudaConflict(f"CUDA {runtime}: no driver data for this CUDA family (envbuild knows {known})")
    release = table["releases"].get(minor(runtime))
    toolkit: str | None = None
    if release is not None:
        toolkit = release["toolkit-driver"]
        for update in release.get("updates", []):
            if _version(runtime) >= _version(update["cudart"]):
                toolkit = update["driver"]
    return family["min-driver"], toolkit


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise CudaConflict(f"{text!r} is not a CUDA version") from None


def _image_stack(requested: str, runtimes: list[_Component], cudnns: list[_Component],
                 image: dict[str, str]) -> CudaLock | None:
    """The stack the base image provides, when no wheel brings a runtime; conflicts with the wheels raise."""
    image_cuda = image.get("CUDA_VERSION")
    if not image_cuda:
        return None
    if runtimes and runtimes[0].cuda_major != _major(image_cuda):
        wheel = f"{runtimes[0].package}=={runtimes[0].version}"
        raise CudaConflict(f"the pins bring CUDA {runtimes[0].cuda_major} ({wheel}) but the base image's toolkit is "
                           f"CUDA {image_cuda} (CUDA_VERSION); choose a torch build for the image's CUDA, or an "
                           "image for the wheels' CUDA")
    if runtimes or requested != "auto":
        return None
    for c in cudnns:
        if c.cuda_major not in (_major(image_cuda), 0):
            raise CudaConflict(f"{c.package}=={c.version} is cuDNN for CUDA {c.cuda_major}, but the base image's "
                               f"toolkit is CUDA {image_cuda}")
    min_driver, toolkit_driver = driver_floor(image_cuda)
    return CudaLock(runtime=image_cuda,
                    cudnn=cudnns[0].version if cudnns else image.get("NV_CUDNN_VERSION") or image.get("CUDNN_VERSION"),
                    nccl=image.get("NCCL_VERSION"), min_driver=min_driver, toolkit_driver=toolkit_driver)


def resolve_cuda(requested: str, packages: Sequence[PythonPackage], image_env: Mapping[str, str] | None = None, *,
                 conda: Sequence[CondaPackage] = ()) -> tuple[CudaLock | None, list[str]]:
    """The ``[cuda]`` table of the lock (None when the environment has no CUDA), and warnings.

    REQUESTED is the spec's ``[cuda] version``: "auto", "none" or a version such as "12.4".  IMAGE_ENV is
    the base image's environment: nvidia/cuda images say ``CUDA_VERSION``, ``NV_CUDNN_VERSION``,
    ``NCCL_VERSION``; they describe the stack when no wheel does, and must agree with the wheels' CUDA major.
    Two CUDA runtimes, or a cuDNN built for another CUDA major than the runtime, cannot work together:
    errors.  An NCCL wheel for another major (xgboost pins nvidia-nccl-cu12 whatever torch uses) is loaded by
    its own package: a warning that names it.
    """
    if requested == "none":
        return None, []
    runtimes = _runtimes(packages, conda)
    cudnns = _components(packages, "cudnn", conda)
    nccls = _components(packages, "nccl", conda)
    from_image = _image_stack(requested, runtimes, cudnns, dict(image_env or {}))
    if from_image is not None:
        return from_image, []
    if len({c.cuda_major for c in runtimes}) > 1 or len(runtimes) > 1:
        raise CudaConflict("the pins hold two CUDA runtimes (" + ", ".join(f"{c.package}=={c.version}" for c in
                           runtimes) + "); one environment can load only one")
    if runtimes:
        runtime, major = runtimes[0].version, runtimes[0].cuda_major
        if requested != "auto" and not within(runtime, requested):
            raise CudaConflict(f"[cuda] version = {requested!r}, but the pins bring CUDA runtime {runtime} "
                               f"({runtimes[0].package}); change the spec or the requirements so they agree")
    elif requested != "auto":
        runtime, major = requested, _major(requested)  # a CUDA the host or image provides, named by the spec
    elif cudnns or nccls:
        found = ", ".join(c.package for c in cudnns + nccls)
        raise CudaConflict(f"the pins bring {found} but no CUDA runtime wheel; set [cuda] version "
                           "to the CUDA the target provides")
    else:
        return None, []
    source = f"the runtime is CUDA {major}" + (f" ({runtimes[0].package}=={runtime})" if runtimes else
                                                f" ([cuda] version = {requested!r})")
    for c in cudnns:
        if c.cuda_major not in (major, 0):
            raise CudaConflict(f"{c.package}=={c.version} is cuDNN for CUDA {c.cuda_major}, but {source}")
    warnings = [f"{c.package}=={c.version} is NCCL for CUDA {c.cuda_major}, but {source}; the package that pins "
                "it loads its own copy" for c in nccls if c.cuda_major not in (major, 0)]
    same = sorted((c for c in nccls if c.cuda_major in (major, 0)), key=lambda c: c.cuda_major == 0)
    min_driver, toolkit_driver = driver_floor(runtime)
    return CudaLock(
        runtime=runtime,
        cudnn=cudnns[0].version if cudnns else None,
        nccl=same[0].version if same else None,
        min_driver=min_driver,
        toolkit_driver=toolkit_driver,
    ), warnings
