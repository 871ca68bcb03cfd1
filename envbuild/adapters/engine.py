"""The local Docker engine.

The docker SDK does everything but the build: image export (``docker-daemon:NAME``), running the stdlib probe or
checker inside an image, inspect and push.  The SDK cannot build with BuildKit (docker-py #2230: no secrets, no
cache mounts), so ``build_image`` runs the Docker CLI: ``docker buildx build --load`` where buildx is installed,
else ``DOCKER_BUILDKIT=1 docker build`` on a client older than 23 (newer clients need buildx for BuildKit).
``ENVBUILD_DOCKER`` names the docker CLI to use; otherwise ``docker`` on PATH, then ``/usr/bin/docker``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
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


LOCAL = "docker-daemon:"  # an image of the local engine only (never pulled), as skopeo and buildah name it


def has_image(name: str) -> bool:
    """Whether a Docker engine answers and holds NAME (a tag or an id); False without an engine."""
    import docker.errors

    try:
        client: Any = _client()
    except EngineError:
        return False
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:  # a reference the engine cannot parse is no image of its
        if exc.status_code in (400, 404):
            return False
        raise EngineError(f"{name}: {exc.explanation or exc}") from None
    return True


def run_probe(image: str, package: str, args: list[str]) -> dict[str, Any]:
    """Run the stdlib probe of PACKAGE (envbuild's folder, mounted read-only) with the image's python3, as the
    image's user, with no network; returns the facts it printed.  IMAGE is the engine's (a tag or an id),
    else pulled from its registry; ``docker-daemon:NAME`` is the engine's only."""
    import json

    import docker.errors

    client: Any = _client()
    if image.startswith(LOCAL):
        image = image.removeprefix(LOCAL)
        if not has_image(image):
            raise EngineError(f"{LOCAL}{image}: the local Docker engine has no such image")
    code = ("import sys; sys.path.insert(0, '/opt/envbuild-probe'); from envbuild.check.probe import main; "
            "sys.exit(main())")
    try:
        output = client.containers.run(
            image, entrypoint=["python3", "-I", "-c", code, *args], remove=True, network_mode="none",
            stdout=True, stderr=False, volumes={package: {"bind": "/opt/envbuild-probe/envbuild", "mode": "ro"}})
    except docker.errors.ImageNotFound:
        raise EngineError(f"{image}: neither the local Docker engine nor its registry has such an image") from None
    except docker.errors.ContainerError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [str(exc)]
        hint = "; the image needs a python3 (3.9+) on its PATH" if "python3" in detail[0] else ""
        raise EngineError(f"{image}: the probe failed in the container: {detail[0]}{hint}") from None
    except docker.errors.APIError as exc:
        raise EngineError(f"{image}: {exc.explanation or exc}") from None
    try:
        facts: dict[str, Any] = json.loads(bytes(output).decode("utf-8", "replace"))
    except ValueError:
        raise EngineError(f"{image}: the probe printed no report") from None
    return facts


def ping() -> None:
    """Raise ``EngineError`` unless a Docker engine answers."""
    _client()


def _builder() -> tuple[list[str], dict[str, str]]:
    """The argv prefix and environment of a Docker CLI that builds with BuildKit."""
    import os
    import shutil

    from envbuild.adapters import process

    wanted = os.environ.get("ENVBUILD_DOCKER")
    candidates = [wanted] if wanted else [shutil.which("docker"), "/usr/bin/docker"]
    seen: list[str] = []
    for cli in candidates:
        if not cli or cli in seen or not os.access(cli, os.X_OK):
            continue
        seen.append(cli)
        if process.run([cli, "buildx", "version"], timeout=30).returncode == 0:
            return [cli, "buildx", "build", "--load"], dict(os.environ)
        version = process.run([cli, "version", "--format", "{{.Client.Version}}"], timeout=30).stdout.strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 23:
            return [cli, "build"], {**os.environ, "DOCKER_BUILDKIT": "1"}
    if not seen:
        raise EngineError("no docker CLI found: install Docker (docker.io, or docker-ce with docker-buildx-plugin), "
                          "or name it in ENVBUILD_DOCKER")
    raise EngineError(f"{', '.join(seen)}: no way to build with BuildKit (no buildx plugin, and the client is "
                      "23 or newer); install docker-buildx-plugin, or name another CLI in ENVBUILD_DOCKER")


def buildx_inspect() -> str:
    """What ``docker buildx inspect`` says of the builder (its BuildKit version), or "" without buildx."""
    import os
    import shutil

    from envbuild.adapters import process

    cli = os.environ.get("ENVBUILD_DOCKER") or shutil.which("docker")
    if not cli:
        return ""
    try:
        done = process.run([cli, "buildx", "inspect", "--bootstrap"], timeout=60)
    except EnvbuildError:
        return ""
    return str(done.stdout) if done.returncode == 0 else ""


def build_image(context: Path, tag: str, *, secrets: dict[str, Path], build_args: list[str],
                on_line: Callable[[str], None], target: str | None = None, platform: str | None = None,
                no_cache: bool = False, epoch: int | None = None, rewrite_timestamp: bool = False) -> None:
    """Build CONTEXT/Dockerfile with BuildKit on the host network, tag it TAG.

    SECRETS (id -> file) become ``--secret``; BUILD_ARGS are names whose values the CLI takes from the
    environment (so that no value shows on a command line).  EPOCH is SOURCE_DATE_EPOCH; REWRITE_TIMESTAMP (BuildKit
    0.13 and newer, through buildx) sets every file's time in the new layers to it.  The caller has checked the
    engine with ``ping``."""
    from envbuild.adapters import process

    argv, env = _builder()
    if rewrite_timestamp and argv[1:3] == ["buildx", "build"]:
        argv = [*argv[:3], "--output", f"type=docker,name={tag},rewrite-timestamp=true"]  # instead of --load
    argv += ["--network", "host", "--progress", "plain", "--tag", tag]
    if no_cache:
        argv.append("--no-cache")
    if epoch is not None:
        argv += ["--build-arg", f"SOURCE_DATE_EPOCH={epoch}"]
    for name in build_args:
        argv += ["--build-arg", name]
    for secret_id, path in sorted(secrets.items()):
        argv += ["--secret", f"id={secret_id},src={path}"]
    if target:
        argv += ["--target", target]
    if platform:  # another architecture than the engine's needs QEMU's binfmt handlers on the host
        argv += ["--platform", platform]
    argv.append(str(context))
    log = BuildLog()

    def keep(line: str) -> None:
        log.add(line)
        on_line(line)

    if process.stream(argv, keep, env=env) != 0:
        raise EngineError(f"the image build failed{log.failure()}")


class BuildLog:
    """BuildKit's plain progress (``#5 [2/2] RUN ...``, ``#5 0.059 output``, ``#5 ERROR: ...``), kept to say
    which step failed and how its output ended, instead of "executor failed running [...]" alone."""

    LAST = 12  # lines of the failing step's output to show

    def __init__(self) -> None:
        self.titles: dict[str, str] = {}
        self.output: dict[str, list[str]] = {}
        self.errors: list[tuple[str, str]] = []  # (step, message), in order
        self.tail: list[str] = []

    def add(self, line: str) -> None:
        self.tail = [*self.tail[-(self.LAST - 1):], line]
        step, _, rest = line.rstrip("\n").partition(" ")
        if not (step.startswith("#") and step[1:].isdigit()):
            return
        if rest.startswith("["):
            self.titles.setdefault(step, rest)
        elif rest.startswith("ERROR: "):
            self.errors.append((step, rest[len("ERROR: "):]))
        else:
            time, _, text = rest.partition(" ")
            if time.replace(".", "", 1).isdigit():
                kept = self.output.setdefault(step, [])
                kept.append(text)
                del kept[:-self.LAST]

    def failure(self) -> str:
        """``: at STEP (REASON); its output ended with:`` and the step's last lines; else the log's last lines."""
        if not self.errors:
            lines = [line.rstrip() for line in self.tail if line.strip()]
            return ": its output ended with:\n" + "\n".join(f"  {line}" for line in lines) if lines else ": no output"
        step, message = self.errors[-1]
        code = message.rpartition("exit code: ")[2] if "exit code: " in message else ""
        reason = f"exit code {code}" if code.isdigit() else message
        where = self.titles.get(step, step)
        lines = self.output.get(step, [])
        if not lines:
            return f" at {where} ({reason}), with no output"
        return f" at {where} ({reason}); its output ended with:\n" + "\n".join(f"  {line}" for line in lines)


def inspect_image(name: str) -> dict[str, Any]:
    """The image's id, size (bytes), labels and repo digests."""
    import docker.errors

    client: Any = _client()
    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        raise EngineError(f"{name}: the local Docker engine has no such image") from None
    attrs = image.attrs
    return {"id": image.id, "size": int(attrs.get("Size") or 0), "labels": (attrs.get("Config") or {}).get("Labels")
            or {}, "repo_digests": list(attrs.get("RepoDigests") or [])}


def run_in_image(image: str, command: list[str]) -> tuple[int, str, str]:
    """Run COMMAND in a container from IMAGE, as its user, with no network; (exit code, stdout, stderr)."""
    import docker.errors

    client: Any = _client()
    try:
        container = client.containers.run(image, command, detach=True, network_mode="none")
    except docker.errors.ImageNotFound:
        raise EngineError(f"{image}: the local Docker engine has no such image") from None
    except docker.errors.APIError as exc:
        raise EngineError(f"{image}: {exc.explanation or exc}") from None
    try:
        status = container.wait(timeout=600)
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    return int(status.get("StatusCode", 2)), out, err


def push_image(tag: str, on_line: Callable[[str], None]) -> str:
    """Push TAG to its registry; returns the digest the registry reports."""
    import docker.errors

    client: Any = _client()
    repository, _, version = tag.rpartition(":")
    if "/" in version:  # a registry port, not a tag
        repository, version = tag, "latest"
    digest = ""
    try:
        for event in client.images.push(repository, tag=version, stream=True, decode=True):
            if "error" in event:
                raise EngineError(f"push {tag}: {event.get('error')}")
            if event.get("status"):
                on_line(f"{event.get('id', '')} {event['status']}".strip())
            digest = (event.get("aux") or {}).get("Digest", digest)
    except docker.errors.APIError as exc:
        raise EngineError(f"push {tag}: {exc.explanation or exc}") from None
    except docker.errors.DockerException as exc:
        raise EngineError(f"push {tag}: {exc}") from None
    if not digest:
        raise EngineError(f"push {tag}: the registry reported no digest")
    return str(digest)


def push_index(tag: str, images: list[str]) -> str:
    """``docker manifest create`` TAG of IMAGES (pushed already) and ``docker manifest push``: the index's digest.
    A loopback registry speaks plain HTTP (--insecure)."""
    import os
    import shutil

    from envbuild.adapters import process
    from envbuild.adapters.buildah import loopback

    cli = os.environ.get("ENVBUILD_DOCKER") or shutil.which("docker") or "docker"
    insecure = ["--insecure"] if loopback(tag) else []
    process.run([cli, "manifest", "rm", tag], timeout=60)  # an earlier index of this tag, kept by the CLI
    made = process.run([cli, "manifest", "create", *insecure, tag, *images], timeout=300)
    if made.returncode != 0:
        raise EngineError(f"docker manifest create {tag}: {(made.stderr.strip().splitlines() or ['failed'])[-1]}")
    pushed = process.run([cli, "manifest", "push", *insecure, tag], timeout=600)
    digest = next((w for w in pushed.stdout.split() if w.startswith("sha256:")), "")
    if pushed.returncode != 0 or not digest:
        raise EngineError(f"docker manifest push {tag}: {(pushed.stderr.strip().splitlines() or ['no digest'])[-1]}")
    return digest


def save_to(name: str, path: Path) -> str:
    """``docker save NAME`` into the file PATH (a docker-archive); the image's id."""
    import shutil

    saved = save_image(name, path.parent)  # the same folder: the move is a rename
    shutil.move(str(saved), str(path))
    return str(inspect_image(name)["id"])


def remove_image(name: str) -> None:
    """Remove NAME from the local engine (no error when it has none)."""
    import contextlib

    import docker.errors

    client: Any = _client()
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(name, force=True)
