"""``[python] build-image``: where the sdists of build-dependencies compile (a CUDA devel image, by digest).

The lock reads only the image's manifest and config (a devel image is gigabytes; its layers are never fetched
here): its digest for the platform, and the CUDA it declares (``CUDA_VERSION``, as nvidia/cuda images set it).  The
build runs the target's ``pythonX.Y`` found on that image's PATH, and says so in one line when there is none."""

from __future__ import annotations

from envbuild.errors import EnvbuildError
from envbuild.lockfile import BuildImage, CudaLock, PythonLock
from envbuild.versions import minor


def resolve_build_image(text: str, platform: str, python: str) -> BuildImage:
    """TEXT's manifest for PLATFORM and what its config says; PYTHON: the spec's version (3.11 or 3.11.2)."""
    from envbuild.resolve.image import open_image

    try:
        with open_image(text, platform) as image:  # a registry: the manifest and the config blob, no layer
            env = image.env()
            digest = image.digest
    except EnvbuildError as exc:  # the key path first: which image of the spec could not be read
        raise EnvbuildError(f"[python] -> build-image: {exc}") from None
    return BuildImage(digest=digest, python=f"python{minor(python)}", cuda=env.get("CUDA_VERSION") or None,
                      reference=text)


AUTO = "docker.io/pytorch/pytorch:{torch}-cuda{cuda}-cudnn{cudnn}-devel"  # PyTorch's devel images: Python + nvcc


def auto_reference(python: PythonLock, cuda: CudaLock | None) -> str:
    """``build-image = "auto"``: PyTorch's devel image of the locked torch, CUDA and cuDNN (it holds nvcc, the CUDA
    headers and a Python), e.g. pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel."""
    torch = python.by_name().get("torch")
    if torch is None or cuda is None or not cuda.cudnn:
        missing = "no torch" if torch is None else "no CUDA" if cuda is None else "no cuDNN"
        raise EnvbuildError(f'[python] -> build-image = "auto" picks PyTorch\'s devel image of the locked torch and '
                            f"CUDA ({AUTO.format(torch='<torch>', cuda='<X.Y>', cudnn='<N>')}), and this lock has "
                            f"{missing}: name a CUDA devel image that holds the target's Python")
    return AUTO.format(torch=torch.version.split("+")[0], cuda=minor(cuda.runtime), cudnn=cuda.cudnn.split(".")[0])


def auto_build_image(platform: str, python: PythonLock, cuda: CudaLock | None, wanted: str) -> BuildImage:
    """``build-image = "auto"`` for PLATFORM: ``auto_reference``, pinned by digest."""
    return resolve_build_image(auto_reference(python, cuda), platform, wanted)


def check_build_image(text: str, image: BuildImage, cuda: CudaLock | None) -> None:
    """A kernel compiled with another CUDA major than the one the environment runs does not load: said now."""
    if cuda is None or image.cuda is None:
        return
    built, runs = image.cuda.split(".")[0], cuda.runtime.split(".")[0]
    if built != runs:
        raise EnvbuildError(f"[python] -> build-image: {text} has CUDA {image.cuda} (its CUDA_VERSION), but the "
                            f"environment runs CUDA {cuda.runtime} (from its pins); kernels compiled for CUDA {built} "
                            f"do not load with CUDA {runs}: use a {runs}.x devel image")
