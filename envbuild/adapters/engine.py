"""The local Docker engine, through the docker SDK (image export for ``docker-daemon:NAME``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from envbuild.errors import EnvbuildError


class EngineError(EnvbuildError):
    """No Docker engine, or it could not do what was asked."""


def save_image(name: str, directory: Path) -> Path:
    """``docker save NAME`` into DIRECTORY; returns the archive's path."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise EngineError("docker-daemon: images need the docker SDK (pip install docker)") from None
    try:
        client = docker.from_env()
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        raise EngineError(f"docker-daemon:{name}: the local Docker engine has no such image") from None
    except docker.errors.DockerException as exc:
        raise EngineError(f"docker-daemon:{name}: cannot reach the Docker engine ({exc})") from None
    handle, path = tempfile.mkstemp(dir=directory, suffix=".tar")
    with open(handle, "wb") as out:
        for chunk in image.save(named=True):
            out.write(chunk)
    return Path(path)
