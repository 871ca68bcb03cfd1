"""OCI registries (the distribution API) and local image stores, read with requests and the standard library.

- References: ``debian:bookworm-slim`` (Docker Hub, ``library/``), ``nvcr.io/nvidia/cuda:12.4.1-...``,
  ``127.0.0.1:5000/x:y``, ``name@sha256:...`` (kept as it is).
- Manifest lists and OCI indexes: the manifest of the target platform is chosen; its digest is the lock's.
- Auth: ``Www-Authenticate: Bearer`` challenges (Docker Hub's anonymous token flow, any token server), and
  basic auth with the credentials of ``~/.docker/config.json`` (``auths``; ``$DOCKER_CONFIG`` is honoured).
- Plain HTTP for loopback registries, HTTPS elsewhere.
- Layers are streamed and read only until the files asked for are found (topmost layer first).
- Local images: ``oci-layout:PATH[:TAG]`` and ``docker-archive:PATH`` (what ``docker save`` writes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from envbuild.adapters.http import TIMEOUT, reason, session
from envbuild.errors import EnvbuildError

ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))
DOCKER_HUB = "registry-1.docker.io"
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")


class RegistryError(EnvbuildError):
    """An image cannot be found or read: a missing tag, no manifest for the platform, refused credentials."""


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port] as used on the wire (Docker Hub is registry-1.docker.io)
    repository: str
    tag: str | None
    digest: str | None
    text: str  # as the user wrote it

    @property
    def base_url(self) -> str:
        scheme = "http" if _LOOPBACK.match(self.registry) else "https"
        return f"{scheme}://{self.registry}/v2/{self.repository}"


def parse_reference(text: str) -> Reference:
    rest, _, digest = text.partition("@")
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise RegistryError(f"{text}: {digest!r} is not a sha256 digest")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in ("docker.io", "index.docker.io"):
        registry = DOCKER_HUB
    name, tag = path.rsplit(":", 1) if ":" in path.rsplit("/", 1)[-1] else (path, "")
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*", name):
        raise RegistryError(f"{text}: {name!r} is not a valid repository name")
    return Reference(registry=registry, repository=name, tag=tag or (None if digest else "latest"),
                     digest=digest or None, text=text)


@dataclass(frozen=True)
class Image:
    """What the resolver needs of an image for one platform."""

    digest: str  # of the platform manifest
    config: dict[str, Any]  # the image config (env, labels, os, architecture)
    layers: tuple[str, ...]  # blob digests, bottom first
    read_blob: Callable[[str], IO[bytes]]  # opens a layer blob as a stream

    def env(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.config.get("config", {}).get("Env") or [])
        return {key: value for key, _, value in pairs}

    def files(self, wanted: Sequence[str], also: Sequence[str] = ()) -> dict[str, bytes]:
        """The contents of WANTED paths (e.g. ``etc/os-release``) as the image's top layer shows them.

        Layers are read from the top down, and reading stops once every path is settled (found, or hidden by a
        whiteout).  Symlinks inside the image (``etc/os-release -> ../usr/lib/os-release``) are followed; ALSO
        names files worth keeping from any layer that is read anyway (the usual link targets), whichever order
        the layer lists them in.
        """
        found: dict[str, bytes] = {}
        pending = {p.strip("/") for p in wanted}
        links: dict[str, str] = {}
        for digest in reversed(self.layers):
            if not pending:
                break
            with self.read_blob(digest) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
                settled: set[str] = set()
                for member in tar:
                    name = os.path.normpath(member.name.lstrip("./")) if member.name not in (".", "./") else ""
                    if name in also and name not in found and member.isfile() and name not in pending:
                        handle = tar.extractfile(member)
                        found[name] = handle.read() if handle else b""
                        settled.add(name)
                        continue
                    base, _, leaf = name.rpartition("/")
                    if leaf.startswith(".wh."):
                        hidden = f"{base}/{leaf[4:]}".lstrip("/")
                        settled |= {p for p in pending if p == hidden}
                        continue
                    if name not in pending:
                        continue
                    if member.issym():
                        target = os.path.normpath(os.path.join(os.path.dirname(name), member.linkname)).lstrip("/")
                        links[name] = target
                        pending.add(target)
                    elif member.isfile():
                        handle = tar.extractfile(member)
                        found[name] = handle.read() if handle else b""
                    settled.add(name)
                pending -= settled
                pending -= set(found)
        for link, target in links.items():
            if target in found:
                found[link] = found[target]
        return {p.strip("/"): found[p.strip("/")] for p in wanted if p.strip("/") in found}


    def matching(self, wanted: Callable[[str], bool]) -> dict[str, bytes]:
        """Every regular file whose path WANTED accepts, as the top layer shows it: a whiteout, or an opaque
        whiteout (``.wh..wh..opq``) of its directory, in a layer above hides it.  Reads every layer."""
        found: dict[str, bytes] = {}
        hidden: set[str] = set()  # paths (files or directories) a layer above deleted
        opaque: set[str] = set()  # directories whose lower contents a layer above replaced
        for digest in reversed(self.layers):
            deleted: set[str] = set()
            replaced: set[str] = set()
            with self.read_blob(digest) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
                for member in tar:
                    name = os.path.normpath(member.name.lstrip("./")) if member.name not in (".", "./") else ""
                    base, _, leaf = name.rpartition("/")
                    if leaf == ".wh..wh..opq":
                        replaced.add(base)
                        continue
                    if leaf.startswith(".wh."):
                        deleted.add(f"{base}/{leaf[4:]}".lstrip("/"))
                        continue
                    if not member.isfile() or name in found or not wanted(name) or _covered(name, hidden, opaque):
                        continue
                    handle = tar.extractfile(member)
                    found[name] = handle.read() if handle else b""
            hidden |= deleted
            opaque |= replaced
        return found


def _covered(name: str, hidden: set[str], opaque: set[str]) -> bool:
    """Is NAME deleted (itself or a parent) or under a directory that an upper layer made opaque?"""
    parts = name.split("/")
    for depth in range(len(parts), 0, -1):
        path = "/".join(parts[:depth])
        if path in hidden or (depth < len(parts) and path in opaque):
            return True
    return "" in opaque


# --------------------------------------------------------------------------------------------------------
# Remote registries


class _Client:
    def __init__(self, ref: Reference) -> None:
        self.ref = ref
        self.token: str | None = None
        self.basic = _docker_config_auth(ref.registry)

    def get(self, url: str, accept: str | None = None, *, stream: bool = False, method: str = "GET") -> Any:
        import requests

        headers = {"Accept": accept} if accept else {}
        for _ in range(2):
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            elif self.basic:
                headers["Authorization"] = f"Basic {self.basic}"
            try:
                response = session().request(method, url, headers=headers, timeout=TIMEOUT, stream=stream)
            except requests.RequestException as exc:
                raise RegistryError(f"{self.ref.text}: cannot reach {self.ref.registry}: {reason(exc)}") from None
            if response.status_code != 401:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            if not challenge.lower().startswith("bearer") or self.token:
                break
            self.token = self._bearer(challenge)
        who = "with the credentials of ~/.docker/config.json" if self.basic else "anonymously"
        raise RegistryError(f"{self.ref.text}: {self.ref.registry} refused access {who} (HTTP 401); "
                            f"run `docker login {self.ref.registry}` or check the repository name")

    def _bearer(self, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise RegistryError(f"{self.ref.text}: the registry's bearer challenge names no realm")
        headers = {"Authorization": f"Basic {self.basic}"} if self.basic else {}
        response = session().get(realm, params=params, headers=headers, timeout=TIMEOUT)
        if response.status_code != 200:
            raise RegistryError(f"{self.ref.text}: the token server {realm} answered HTTP {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{self.ref.text}: the token server {realm} returned no token")
        return str(token)


def _docker_config_auth(registry: str) -> str | None:
    """base64 "user:password" for REGISTRY from ~/.docker/config.json (``auths``), if any."""
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        auths = json.loads(path.read_text()).get("auths", {})
    except (OSError, ValueError):
        return None
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == DOCKER_HUB:
        keys += ["https://index.docker.io/v1/", "docker.io", "index.docker.io"]
    for key in keys:
        entry = auths.get(key) or auths.get(key.rstrip("/"))
        if isinstance(entry, dict):
            if entry.get("auth"):
                return str(entry["auth"])
            if entry.get("username") and entry.get("password"):
                return base64.b64encode(f"{entry['username']}:{entry['password']}".encode()).decode()
    return None


def select_platform(index: dict[str, Any], os_name: str, arch: str, where: str) -> str:
    """The digest of the manifest for OS/ARCH in an OCI index or Docker manifest list."""
    offered = []
    for entry in index.get("manifests", []):
        platform = entry.get("platform") or {}
        offered.append(f"{platform.get('os')}/{platform.get('architecture')}")
        if platform.get("os") == os_name and platform.get("architecture") == arch:
            return str(entry["digest"])
    raise RegistryError(f"{where}: no manifest for {os_name}/{arch} (it offers {', '.join(sorted(set(offered)))})")


def _check_found(ref: Reference, status: int) -> None:
    if status == 404:
        raise RegistryError(f"{ref.text}: not found in {ref.registry} (" + (
            "the digest is gone: registries delete old images (NVIDIA drops EOL tags); pick a current one and "
            "re-lock" if ref.digest else "no such tag or repository") + ")")
    if status != 200:
        raise RegistryError(f"{ref.text}: {ref.registry} answered HTTP {status}")


@dataclass(frozen=True)
class RemoteManifest:
    """The manifest of a reference for one platform: its digest at once, its document when asked for."""

    ref: Reference
    digest: str
    client: _Client
    document: dict[str, Any] | None  # None: the tag named an index; fetched by remote_image when needed


def platform_manifest(ref: Reference, os_name: str, arch: str) -> RemoteManifest:
    """Resolve REF to the digest of its OS/ARCH manifest: one request, or two through an index or manifest list.

    The digest is the cache key of what the image holds, so a warm re-lock stops here."""
    client = _Client(ref)
    response = client.get(f"{ref.base_url}/manifests/{ref.digest or ref.tag or 'latest'}", ACCEPT)
    _check_found(ref, response.status_code)
    doc = json.loads(response.content)
    if "manifests" in doc:  # an OCI index or Docker manifest list
        return RemoteManifest(ref, select_platform(doc, os_name, arch, ref.text), client, None)
    digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(response.content).hexdigest()
    return RemoteManifest(ref, digest, client, doc)


def remote_image(manifest: RemoteManifest) -> Image:
    """The image a platform manifest describes: its config now, its layers as streams on demand."""
    ref, client = manifest.ref, manifest.client
    doc = manifest.document
    if doc is None:
        response = client.get(f"{ref.base_url}/manifests/{manifest.digest}", ACCEPT)
        if response.status_code != 200:
            raise RegistryError(f"{ref.text}: the manifest {manifest.digest} answered HTTP {response.status_code}")
        doc = json.loads(response.content)
    config = client.get(f"{ref.base_url}/blobs/{doc['config']['digest']}")
    if config.status_code != 200:
        raise RegistryError(f"{ref.text}: its config blob answered HTTP {config.status_code}")

    def read_blob(blob: str) -> IO[bytes]:
        answer = client.get(f"{ref.base_url}/blobs/{blob}", stream=True)
        if answer.status_code != 200:
            raise RegistryError(f"{ref.text}: layer {blob[:19]} answered HTTP {answer.status_code}")
        answer.raw.decode_content = True
        return answer.raw  # type: ignore[no-any-return]

    return Image(digest=manifest.digest, config=config.json(),
                 layers=tuple(layer["digest"] for layer in doc["layers"]), read_blob=read_blob)


# --------------------------------------------------------------------------------------------------------
# Local image stores


def oci_layout_image(path: Path, tag: str | None, os_name: str, arch: str, where: str) -> Image:
    """An image in an OCI image layout directory (``index.json`` + ``blobs/sha256/``)."""
    def blob(digest: str) -> Path:
        return path / "blobs" / digest.replace(":", "/", 1)

    try:
        index = json.loads((path / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{where}: not an OCI image layout ({exc})") from None
    manifests = index.get("manifests", [])
    if tag is not None:
        manifests = [m for m in manifests if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
        if not manifests:
            raise RegistryError(f"{where}: no image tagged {tag!r} in the layout")
    if not manifests:
        raise RegistryError(f"{where}: the layout holds no image")
    entry = manifests[0]
    doc = json.loads(blob(entry["digest"]).read_bytes())
    digest = entry["digest"]
    if "manifests" in doc:
        digest = select_platform(doc, os_name, arch, where)
        doc = json.loads(blob(digest).read_bytes())
    config = json.loads(blob(doc["config"]["digest"]).read_bytes())
    return Image(digest=digest, config=config, layers=tuple(layer["digest"] for layer in doc["layers"]),
                 read_blob=lambda d: blob(d).open("rb"))


def docker_archive_image(path: Path, where: str) -> Image:
    """An image saved by ``docker save`` (a tar with manifest.json, the config and the layer tars)."""
    try:
        archive = tarfile.open(path)  # noqa: SIM115 - stays open: the Image reads its layers from it
    except (OSError, tarfile.TarError) as exc:
        raise RegistryError(f"{where}: not a docker save archive ({exc})") from None
    try:
        manifest = json.load(_member(archive, "manifest.json"))[0]
        config_bytes = _member(archive, manifest["Config"]).read()
    except (KeyError, IndexError, ValueError) as exc:
        archive.close()
        raise RegistryError(f"{where}: not a docker save archive ({exc})") from None
    layers = tuple(manifest["Layers"])

    def read_blob(name: str) -> IO[bytes]:
        return _member(archive, name)

    # docker save has no registry manifest: the image id (sha256 of the config) identifies the image.
    return Image(digest="sha256:" + hashlib.sha256(config_bytes).hexdigest(), config=json.loads(config_bytes),
                 layers=layers, read_blob=read_blob)


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise KeyError(name)
    return handle
