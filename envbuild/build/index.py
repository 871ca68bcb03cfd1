"""One tag for every Linux platform of a lock: each platform's image is built (``envbuild.build.build``) and checked
against its own lock, then one OCI image index names them all under the tag (as ``docker buildx build --platform
a,b --push`` makes), each entry with its image's os and architecture, so every node pulls its own."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envbuild.build import BuildResult
from envbuild.errors import BuildError


@dataclass(frozen=True)
class IndexResult:
    tag: str
    images: tuple[tuple[str, BuildResult], ...]  # (platform, its image), in the lock's order
    pushed: str | None = None  # the index's digest in the registry
    kept: bool = False  # the engine keeps the index locally under TAG (buildah, podman)

    @property
    def verified(self) -> bool:
        return all(result.verified for _, result in self.images)


def index_platforms(lock_path: Path, platform: str | None) -> tuple[str, ...]:
    """The platforms one ``envbuild build`` builds: PLATFORM alone when given, else every Linux platform of a lock
    of several (one of them: a single image, as before)."""
    if platform is not None:
        return ()
    from envbuild import lockfile
    from envbuild.platforms import PLATFORMS

    whole = lockfile.read_lockfile(lock_path)
    linux = tuple(p for p in whole.platforms if PLATFORMS[p].linux)
    return linux if len(linux) > 1 else ()


def index_tag(lock_path: Path, tag: str | None) -> str:
    """The index's tag: TAG (with the lock's hash when it names no version), else NAME:<12 hex of the lock>."""
    import hashlib

    from envbuild import lockfile
    from envbuild.build import default_tag, tag_for

    text = lockfile.read_lock_text(lock_path)
    whole = lockfile.loads_file(text, shown=str(lock_path))
    view = whole.view(whole.platforms[0])
    if tag is not None:
        return tag_for(view, text.encode(), tag)
    repository = default_tag(view, text.encode()).split(":", 1)[0]
    return f"{repository}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def build_index(lock_path: Path, platforms: tuple[str, ...], *, tag: str | None, push: bool, verify: bool,
                templates: Path | None, engine: str | None, no_cache: bool,
                on_line: Callable[[str], None] = lambda _: None) -> IndexResult:
    """Build every one of PLATFORMS as TAG-<arch>, check each, then make the index TAG of them (pushed with them
    when PUSH).  Whether each platform can be built here is settled before any build starts."""
    from envbuild.build import _has_registry, build, engines
    from envbuild.build.emulation import require
    from envbuild.platforms import PLATFORMS

    name = index_tag(lock_path, tag)
    if push and not _has_registry(name):
        raise BuildError(f"--push needs a tag that names a registry (-t registry.example.com/team/app); {name!r} "
                         "would go to Docker Hub's library")
    for platform in platforms:  # each image's build says again whether it ran under emulation
        require(platform)
    chosen = engines.choose(engine)
    images: list[tuple[str, BuildResult]] = []
    for platform in platforms:
        on_line(f"envbuild: building {platform} ({len(images) + 1} of {len(platforms)})")
        result = build(lock_path, tag=f"{name}-{PLATFORMS[platform].oci_arch}", push=False, verify=verify,
                       platform=platform, templates=templates, engine=chosen.engine.name, no_cache=no_cache,
                       on_line=on_line)
        images.append((platform, result))
    if not all(result.verified for _, result in images):
        return IndexResult(name, tuple(images))
    with tempfile.TemporaryDirectory(prefix="envbuild-index-") as scratch:
        pushed = chosen.engine.push_index(name, [(result.tag, result.image_id) for _, result in images],
                                          f"docker://{name}" if push else None, Path(scratch))
    return IndexResult(name, tuple(images), pushed=pushed, kept=chosen.engine.name != "docker")
