"""``[python] build-image``: where the sdists of build-dependencies compile (a CUDA devel image, by digest).

The lock reads only the image's manifest and config (a devel image is gigabytes; its layers are never fetched
here): its digest for the platform, and the CUDA it declares (``CUDA_VERSION``, as nvidia/cuda images set it).  The
build runs the target's ``pythonX.Y`` found on that image's PATH, and says so in one line when there is none."""

from __future__ import annotations

from envbuild.errors import EnvbuildError
from envbuild.lockfile import BuildImage, CudaLock
from envbuild.versions import minor


def resolve_build_image(text: str, platform: str, python: str) -> BuildImage:
    """TEXT's manifest for PLATFORM and what its config says; PYTHON: the spec's version (3.11 or 3.11.2)."""
    from envbuild.resolve.image import open_image

    with open_image(text, platform) as image:  # a registry: the manifest and the config blob, no layer
        env = image.env()
        digest = image.digest
    return BuildImage(digest=digest, python=f"python{minor(python)}", cuda=env.get("CUDA_VERSION") or None,
                      reference=text)


def check_build_image(text: str, image: BuildImage, cuda: CudaLock | None) -> None:
    """A kernel compiled with another CUDA major than the one the environment runs does not load: said now."""
    if cuda is None or image.cuda is None:
        return
    built, runs = image.cuda.split(".")[0], cuda.runtime.split(".")[0]
    if built != runs:
        raise EnvbuildError(f"[python] -> build-image: {text} has CUDA {image.cuda} (its CUDA_VERSION), but the "
                            f"environment runs CUDA {cuda.runtime} (from its pins); kernels compiled for CUDA {built} "
                            f"do not load with CUDA {runs}: use a {runs}.x devel image")
