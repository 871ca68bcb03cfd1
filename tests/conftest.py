from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apt import AptMirror
from tests.support.pypi import LocalIndex, Wheel, build_standard
from tests.support.registry import Registry

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite the golden files under fixtures/golden from the current output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


_APT: dict[str, AptMirror] = {}


@pytest.fixture(scope="session", autouse=True)
def apt_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AptMirror]:
    """The loopback apt mirror that every spec written by write_spec() resolves against (never the Internet)."""
    with AptMirror(tmp_path_factory.mktemp("apt")) as mirror:
        _APT["default"] = mirror
        yield mirror
    _APT.clear()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own uv and envbuild caches and no user-level resolver settings."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / ".uv-cache"))
    monkeypatch.setenv("ENVBUILD_CACHE_DIR", str(tmp_path / ".envbuild-cache"))
    monkeypatch.delenv("CI", raising=False)
    for var in list(os.environ):
        if var.startswith(("UV_INDEX", "UV_EXTRA", "PIP_INDEX", "PIP_EXTRA")):
            monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def standard_wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Wheel]:
    return build_standard(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def index(tmp_path: Path, standard_wheels: list[Wheel]) -> Iterator[LocalIndex]:
    """A PEP 503 index on 127.0.0.1 serving the standard wheels; tests may publish more."""
    root = tmp_path / "index"
    root.mkdir()
    with LocalIndex(root) as served:
        served.publish(*standard_wheels)
        yield served


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry on 127.0.0.1 (skipped, with the reason, where it is not installed)."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; make ci does it)")
    with Registry(tmp_path_factory.mktemp("registry"), free_port()) as served:
        yield served


@pytest.fixture(scope="session")
def conda_channel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard conda channel (tests/support/conda.py), built once (skipped, with the reason, without
    py-rattler and conda-package-handling: pip install -e '.[dev]')."""
    try:
        import conda_package_handling  # noqa: F401
        import rattler  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the conda tests need py-rattler and conda-package-handling ({exc})")
    from tests.support.conda import STANDARD, build

    root = tmp_path_factory.mktemp("conda") / "channel"
    build(root, STANDARD)
    return root


@pytest.fixture
def conda_channel(conda_channel_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """The standard channel, copied (a test may add packages) and served on 127.0.0.1."""
    from tests.support.conda import CondaChannel

    root = tmp_path / "channel"
    shutil.copytree(conda_channel_dir, root)
    with CondaChannel(root) as served:
        yield served


BASE_IMAGE = os.environ.get("ENVBUILD_TEST_BASE_IMAGE", "envbuild-ci/debian:bookworm")
PYTHON_IMAGE = os.environ.get("ENVBUILD_TEST_IMAGE", "envbuild-ci/python3:bookworm")


@pytest.fixture(scope="session")
def docker_engine() -> object:
    """The docker SDK's client of a running engine (skipped, with the reason, where there is none)."""
    try:
        import docker
        import docker.errors

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach it means: no engine here
        pytest.skip(f"no Docker engine ({type(exc).__name__}: {str(exc)[:120]}); make provision starts one as root")
    return client


@pytest.fixture(scope="session")
def base_image(docker_engine: Any, registry: Registry) -> str:
    """The CI base image (a debootstrapped bookworm minbase that make provision imports), pushed to the loopback
    registry; returns its reference there."""
    return _pushed(docker_engine, registry, BASE_IMAGE, "debian", "make provision debootstraps and imports it")


@pytest.fixture(scope="session")
def python_base_image(docker_engine: Any, registry: Registry) -> str:
    """The CI base image with Debian's python3 (make provision builds it), pushed to the loopback registry: a base
    that needs no apt step in the build."""
    return _pushed(docker_engine, registry, PYTHON_IMAGE, "python3", "make provision builds it")


@pytest.fixture(scope="session")
def cuda_devel_image(docker_engine: Any, registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CUDA devel base image made from this machine's toolkit (/usr/local/cuda-*, nvcc included) on the CI base
    with python3 (as nvidia/cuda:*-devel provides one; g++ and python3-dev come from deb.debian.org), pushed to the
    loopback registry as nvidia/cuda:VERSION-devel-bookworm; built once, then kept by the engine."""
    import docker.errors

    from tests.support.cuda import DEVEL_DOCKERFILE, toolkit, toolkit_version

    root = toolkit()
    if root is None:
        pytest.skip("no CUDA toolkit with nvcc under /usr/local/cuda-* on this machine")
    version = toolkit_version(root)
    local = f"envbuild-ci/cuda:{version}-devel-bookworm"
    try:
        image = docker_engine.images.get(local)
    except docker.errors.ImageNotFound:
        python = _pushed(docker_engine, registry, PYTHON_IMAGE, "python3", "make provision builds it")
        skip_unless_reachable("http://deb.debian.org/debian/dists/bookworm/Release",
                              "the Debian mirror (g++ and python3-dev for the devel image)")
        context = tmp_path_factory.mktemp("cuda-devel")
        shutil.copytree(root, context / root.name, symlinks=True)
        (context / "Dockerfile").write_text(DEVEL_DOCKERFILE.format(base=python, name=root.name, version=version))
        image, _ = docker_engine.images.build(path=str(context), tag=local, network_mode="host", rm=True)
        shutil.rmtree(context)
    repository = f"{registry.host}/nvidia/cuda"
    image.tag(repository, f"{version}-devel-bookworm")
    for event in docker_engine.images.push(repository, tag=f"{version}-devel-bookworm", stream=True, decode=True):
        assert "error" not in event, event
    return f"{repository}:{version}-devel-bookworm"


ARM64_IMAGE = os.environ.get("ENVBUILD_TEST_ARM64_IMAGE", "envbuild-ci/debian:bookworm-arm64")


@pytest.fixture(scope="session")
def multiarch_base(docker_engine: Any, registry: Registry) -> str:
    """The CI base for amd64 and arm64 behind one index tag on the loopback registry: the amd64 minbase (make
    provision imports it into Docker), the arm64 one (debootstrap --arch arm64 under qemu, committed by buildah,
    which sets its architecture), each pushed, then an index of both.  Skipped, with the reason, without buildah,
    the arm64 base or a binfmt handler for arm64."""
    from envbuild.build.emulation import handler

    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah; make ci does it)")
    if handler("linux/arm64") is None:
        pytest.skip("no binfmt_misc handler for aarch64 (apt-get install qemu-user-static binfmt-support; make "
                    "provision registers it)")
    if subprocess.run(["buildah", "inspect", "--type", "image", ARM64_IMAGE], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip(f"the arm64 base image {ARM64_IMAGE} is missing (make provision debootstraps it)")
    amd64 = _pushed(docker_engine, registry, BASE_IMAGE, "multi/debian", "make provision debootstraps and imports it")
    arm64 = f"{registry.host}/multi/debian:bookworm-arm64"
    index = f"{registry.host}/multi/debian:bookworm-both"

    def buildah(*args: str) -> None:
        done = subprocess.run(["buildah", *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    buildah("push", "--quiet", "--tls-verify=false", ARM64_IMAGE, f"docker://{arm64}")
    subprocess.run(["buildah", "manifest", "rm", "envbuild-test-multiarch"], capture_output=True, check=False)
    buildah("manifest", "create", "envbuild-test-multiarch")
    for reference in (amd64, arm64):
        buildah("manifest", "add", "--tls-verify=false", "envbuild-test-multiarch", f"docker://{reference}")
    buildah("manifest", "push", "--all", "--tls-verify=false", "envbuild-test-multiarch", f"docker://{index}")
    return index


def _pushed(docker_engine: Any, registry: Registry, image_name: str, repository_name: str, how: str) -> str:
    import docker.errors

    try:
        image = docker_engine.images.get(image_name)
    except docker.errors.ImageNotFound:
        pytest.skip(f"the base image {image_name} is missing ({how})")
    repository = f"{registry.host}/{repository_name}"
    image.tag(repository, "bookworm")
    for event in docker_engine.images.push(repository, tag="bookworm", stream=True, decode=True):
        assert "error" not in event, event
    return f"{repository}:bookworm"


def skip_unless_reachable(url: str, what: str) -> None:
    """Skip the test, with the reason, when URL (a real server outside loopback) cannot be reached."""
    try:
        urllib.request.urlopen(url, timeout=10).close()
    except OSError as exc:
        pytest.skip(f"{what} is not reachable from here: {exc}")


@pytest.fixture(scope="session")
def pypi_reachable() -> None:
    skip_unless_reachable("https://pypi.org/simple/pip/", "PyPI")


def write_spec(directory: Path, index_url: str, requirements: list[str], *, system: list[str] | None = None,
               apt: AptMirror | None = None, conda: dict[str, object] | None = None,
               **environment: str | list[str] | None) -> Path:
    """An envbuild.toml whose apt sources are the loopback mirror; [python] comes last, so tests may append.
    ``platforms=[...]`` replaces the default ``platform``; CONDA is the [conda] table."""
    env: dict[str, str | list[str] | None] = {"name": "t", "platform": "linux/amd64", "distro": "debian:bookworm",
                                              "python": "3.11", **environment}
    if "platforms" in environment:
        env.pop("platform")
    lines = ["[environment]"] + [f'{k.replace("_", "-")} = {json.dumps(v)}' for k, v in env.items() if v is not None]
    lines += ["", "[system]", f"packages = {system or []!r}".replace("'", '"'), (apt or _APT["default"]).spec_lines()]
    if conda is not None:
        lines += ["[conda]"] + [f"{k} = {json.dumps(v)}" for k, v in conda.items()] + [""]
    lines += ["[python]", f"requirements = {json.dumps(requirements)}", f'index-url = "{index_url}"']
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "envbuild.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def envbuild(*args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point as a user would, in a child process."""
    return subprocess.run([sys.executable, "-m", "envbuild", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
