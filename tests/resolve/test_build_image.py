"""[python] build-image: a named devel image is pinned by digest from its manifest and config (the loopback registry,
in tests/test_build_kernels.py), and "auto" names PyTorch's devel image of the locked torch, CUDA and cuDNN."""

from __future__ import annotations

from pathlib import Path

import pytest

from envbuild.errors import EnvbuildError
from envbuild.lockfile import BuildImage, CudaLock, PythonLock, PythonPackage
from envbuild.resolve.build_image import auto_reference, check_build_image
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex, make_sdist

CUDA = CudaLock(runtime="12.4.127", min_driver="525.60.13", cudnn="9.1.0.70", nccl="2.21.5")


def _python(*packages: tuple[str, str]) -> PythonLock:
    return PythonLock(requested="3.11", resolver="uv", index_url="https://pypi.org/simple",
                      packages=tuple(PythonPackage(n, v, ()) for n, v in packages))


def test_auto_is_pytorchs_devel_image_of_the_locked_torch_cuda_and_cudnn() -> None:
    assert auto_reference(_python(("numpy", "1.26.4"), ("torch", "2.5.1")), CUDA) == \
        "docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel"
    assert auto_reference(_python(("torch", "2.4.0+cu121")), CudaLock("12.1.105", "525.60.13", cudnn="8.9.2.26")) \
        == "docker.io/pytorch/pytorch:2.4.0-cuda12.1-cudnn8-devel"


@pytest.mark.parametrize(("packages", "cuda", "missing"), [
    ((("numpy", "1.26.4"),), CUDA, "no torch"),
    ((("torch", "2.5.1"),), None, "no CUDA"),
    ((("torch", "2.5.1"),), CudaLock("12.4.127", "525.60.13"), "no cuDNN"),
])
def test_auto_without_what_it_needs_says_so_in_one_line(packages: tuple[tuple[str, str], ...],
                                                        cuda: CudaLock | None, missing: str) -> None:
    with pytest.raises(EnvbuildError, match=f'build-image = "auto" picks .* this lock has {missing}: name a CUDA'):
        auto_reference(_python(*packages), cuda)


def test_a_build_image_of_another_cuda_major_is_refused() -> None:
    check_build_image("x", BuildImage("sha256:" + "a" * 64, "python3.11", "12.6.3"), CUDA)
    check_build_image("x", BuildImage("sha256:" + "a" * 64, "python3.11", None), CUDA)  # says none: the build says
    with pytest.raises(EnvbuildError, match=r"x has CUDA 13.0.88 .* runs CUDA 12.4.127 .* use a 12.x devel image"):
        check_build_image("x", BuildImage("sha256:" + "a" * 64, "python3.11", "13.0.88"), CUDA)


def test_a_build_image_that_cannot_be_read_is_one_line_with_its_key(tmp_path: Path, index: LocalIndex) -> None:
    make_sdist(index.root, "needsix", "0.2", needs="beta", runtime=False)
    spec = write_spec(tmp_path, index.url, ["needsix"])
    for image, problem in (("127.0.0.1:9/nvidia/cuda:12.4.1-devel", "cannot reach 127.0.0.1:9"),
                           ("Bad@@ref", "is not a sha256 digest")):
        spec.write_text(spec.read_text().split("build-dependencies")[0] +
                        f'build-dependencies = {{needsix = ["beta"]}}\nbuild-image = "{image}"\n')
        done = envbuild("lock", cwd=tmp_path, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.startswith("envbuild: error: [python] -> build-image: ") and problem in done.stderr, \
            done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "envbuild.lock").exists()
