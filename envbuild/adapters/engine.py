"""The local Docker engine, through the docker SDK: image export (``docker-daemon:NAME``) and running the
stdlib probe inside an image (``envbuild check --image REF``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

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


def _client() -> object:
    try:
        import docker
        import docker.errors
    except ImportError:
        raise EngineError("this needs the docker SDK (pip install docker)") from None
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot reach the Docker engine ({exc})") from None
    return client


def run_probe(image: str, probe: Path, args: list[str]) -> str:
    """Run PROBE (mounted read-only) with the image's python3, as the image's user, with no network.

    Returns what it printed (the facts as JSON)."""
    import docker.errors

    client: Any = _client()
    try:
        output = client.containers.run(
            image, entrypoint=["python3", "/opt/envbuild-probe/probe.py", *args], remove=True,
            network_mode="none", stdout=True, stderr=False,
            volumes={str(probe.parent): {"bind": "/opt/envbuild-probe", "mode": "ro"}})
    except docker.errors.ImageNotFound:
        raise EngineError(f"{image}: the local Docker engine has no such image (docker pull it first)") from None
    except docker.errors.ContainerError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [str(exc)]
        hint = "; the image needs a python3 (3.9+) on its PATH" if "python3" in detail[0] else ""
        raise EngineError(f"{image}: the probe failed in the container: {detail[0]}{hint}") from None
    except docker.errors.APIError as exc:
        raise EngineError(f"{image}: {exc.explanation or exc}") from None
    return bytes(output).decode("utf-8", "replace")
