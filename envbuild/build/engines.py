"""Which engine builds the image, and one face for each: the Docker engine (BuildKit) or buildah/podman.

``--engine`` left out picks one that builds reproducibly (the same lock, the same image digest) when one is
installed: Docker when its BuildKit is 0.13 or newer (``SOURCE_DATE_EPOCH`` and ``rewrite-timestamp``), else buildah,
else podman, else Docker as it is (its digest then changes with every build, and ``build`` says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from envbuild.errors import BuildError

NAMES = ("docker", "buildah", "podman")


class Engine(Protocol):
    @property
    def name(self) -> str: ...

    def build(self, context: Path, tag: str, *, secrets: dict[str, Path], build_args: list[str], epoch: int,
              base: str, on_line: Callable[[str], None], no_cache: bool = False, platform: str | None = None,
              stages: Any = None) -> str: ...

    def inspect(self, tag: str) -> dict[str, Any]: ...

    def run_in_image(self, tag: str, command: list[str]) -> tuple[int, str, str]: ...

    def push(self, tag: str, destination: str, scratch: Path) -> str: ...

    def remove(self, tag: str) -> None: ...

    def push_index(self, tag: str, images: list[tuple[str, str]], destination: str | None,
                   scratch: Path) -> str | None: ...


@dataclass(frozen=True)
class Chosen:
    engine: Engine
    reproducible: bool
    why: str  # one line: why this engine, and whether its digest is reproducible


@dataclass(frozen=True)
class Docker:
    """The Docker engine (BuildKit through the docker CLI), with the SDK for the rest."""

    reproducible: bool
    name: str = "docker"

    def build(self, context: Path, tag: str, *, secrets: dict[str, Path], build_args: list[str], epoch: int,
              base: str, on_line: Callable[[str], None], no_cache: bool = False, platform: str | None = None,
              stages: Any = None) -> str:
        from envbuild.adapters import engine

        def line(text: str) -> None:
            if stages is not None:
                stages.feed(text)
            on_line(text)

        engine.build_image(context, tag, secrets=secrets, build_args=build_args, on_line=line, platform=platform,
                           no_cache=no_cache, epoch=epoch, rewrite_timestamp=self.reproducible)
        return str(engine.inspect_image(tag)["id"])

    def inspect(self, tag: str) -> dict[str, Any]:
        from envbuild.adapters import engine

        return engine.inspect_image(tag)

    def run_in_image(self, tag: str, command: list[str]) -> tuple[int, str, str]:
        from envbuild.adapters import engine

        return engine.run_in_image(tag, command)

    def push(self, tag: str, destination: str, scratch: Path) -> str:
        from envbuild.adapters import engine

        if destination.startswith("docker-archive:"):
            return engine.save_to(tag, Path(destination.removeprefix("docker-archive:")))
        if not destination.startswith("docker://"):
            raise BuildError(f"--output {destination}: the Docker engine writes docker-archive:FILE only; an OCI "
                             "archive or layout needs --engine buildah (or podman)")
        return engine.push_image(tag, lambda _: None)

    def remove(self, tag: str) -> None:
        from envbuild.adapters import engine

        engine.remove_image(tag)

    def push_index(self, tag: str, images: list[tuple[str, str]], destination: str | None,
                   scratch: Path) -> str | None:
        """The Docker engine keeps no index: each image is pushed under its own tag, then ``docker manifest``
        makes the index of them in the registry (None without DESTINATION: nothing to make it in)."""
        from envbuild.adapters import engine

        if destination is None:
            return None
        for image, _ in images:
            engine.push_image(image, lambda _: None)
        return engine.push_index(tag, [image for image, _ in images])


def choose(requested: str | None) -> Chosen:
    """The engine of ``--engine REQUESTED`` (None: the best one installed), and what to say of it."""
    from envbuild.adapters import buildah, engine

    if requested is not None and requested not in NAMES:
        raise BuildError(f"--engine {requested}: unknown (use one of: {', '.join(NAMES)})")
    if requested in buildah.ENGINES:
        return Chosen(buildah.Buildah.named(requested), True,
                      f"{requested} (--timestamp: the same lock gives the same image digest)")
    docker_buildkit = _docker_buildkit() if requested in (None, "docker") else None
    if docker_buildkit is not None and docker_buildkit >= (0, 13):
        return Chosen(Docker(reproducible=True), True, f"docker (BuildKit {docker_buildkit[0]}.{docker_buildkit[1]}: "
                      "SOURCE_DATE_EPOCH and rewrite-timestamp give the same digest for the same lock)")
    if requested is None:
        for name in buildah.ENGINES:
            if buildah.find(name):
                return Chosen(buildah.Buildah.named(name), True,
                              f"{name} (--timestamp: the same lock gives the same image digest; the Docker "
                              "engine here cannot build reproducibly)")
    engine.ping()  # no engine at all is the first thing to say
    return Chosen(Docker(reproducible=False), False,
                  "docker; warning: its BuildKit is older than 0.13, so the image digest is not reproducible (every "
                  "build gives another); install buildah (apt-get install buildah) or BuildKit >= 0.13 for one that is")


_BUILDKIT = re.compile(r"buildkit(?: version)?:\s*v?(\d+)\.(\d+)", re.IGNORECASE)


def _docker_buildkit() -> tuple[int, int] | None:
    """The version of the BuildKit that ``docker buildx`` builds with, or None (no buildx: the engine's own
    BuildKit, which cannot rewrite timestamps before 0.13 and reports no version to its classic CLI)."""
    from envbuild.adapters import engine

    found = _BUILDKIT.search(engine.buildx_inspect())
    return (int(found.group(1)), int(found.group(2))) if found else None
