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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from envbuild.adapters.http import TIMEOUT, reason, session
from envbuild.adapters.layers import Image, RegistryError, Verified, check_digest, sha256_of

ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))
DOCKER_HUB = "registry-1.docker.io"
_LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")


def loopback_host(registry: str) -> bool:
    """Is REGISTRY (``host[:port]``) on this machine's loopback interface?  Spoken to over plain HTTP, as Docker
    allows: by the resolver here, and by the engines that pull from and push to it."""
    return bool(_LOOPBACK.match(registry))


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port] as used on the wire (Docker Hub is registry-1.docker.io)
    repository: str
    tag: str | None
    digest: str | None
    text: str  # as the user wrote it

    @property
    def base_url(self) -> str:
        scheme = "http" if loopback_host(self.registry) else "https"
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
    digest = sha256_of(response.content)
    if ref.digest:  # asked by digest: the content must be it
        check_digest(ref.digest, digest, f"{ref.text}: the manifest")
    elif response.headers.get("Docker-Content-Digest"):  # by tag: the registry's own word must hold
        check_digest(response.headers["Docker-Content-Digest"], digest, f"{ref.text}: the manifest")
    doc = json.loads(response.content)
    if "manifests" in doc:  # an OCI index or Docker manifest list
        return RemoteManifest(ref, select_platform(doc, os_name, arch, ref.text), client, None)
    return RemoteManifest(ref, digest, client, doc)


def remote_image(manifest: RemoteManifest) -> Image:
    """The image a platform manifest describes: its config now, its layers as streams on demand."""
    ref, client = manifest.ref, manifest.client
    doc = manifest.document
    if doc is None:
        response = client.get(f"{ref.base_url}/manifests/{manifest.digest}", ACCEPT)
        if response.status_code != 200:
            raise RegistryError(f"{ref.text}: the manifest {manifest.digest} answered HTTP {response.status_code}")
        check_digest(manifest.digest, sha256_of(response.content), f"{ref.text}: the manifest {manifest.digest[:19]}")
        doc = json.loads(response.content)
    config = client.get(f"{ref.base_url}/blobs/{doc['config']['digest']}")
    if config.status_code != 200:
        raise RegistryError(f"{ref.text}: its config blob answered HTTP {config.status_code}")
    check_digest(doc["config"]["digest"], sha256_of(config.content), f"{ref.text}: the config blob")

    def read_blob(blob: str) -> IO[bytes]:
        answer = client.get(f"{ref.base_url}/blobs/{blob}", stream=True)
        if answer.status_code != 200:
            raise RegistryError(f"{ref.text}: layer {blob[:19]} answered HTTP {answer.status_code}")
        answer.raw.decode_content = True
        return Verified(answer.raw, blob, f"{ref.text}: layer {blob[:19]}")  # type: ignore[return-value]

    return Image(digest=manifest.digest, config=config.json(),
                 layers=tuple(layer["digest"] for layer in doc["layers"]), read_blob=read_blob)


# --------------------------------------------------------------------------------------------------------
# Local image stores


def oci_layout_image(path: Path, tag: str | None, os_name: str, arch: str, where: str) -> Image:
    """An image in an OCI image layout directory (``index.json`` + ``blobs/sha256/``)."""
    def blob(digest: str) -> Path:
        """The file of DIGEST: only a sha256 digest names one (``sha256:../..`` names no file in the layout), and only
        a regular file is one (a FIFO would hang the read)."""
        import stat

        if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise RegistryError(f"{where}: {str(digest)[:80]!r} is not a sha256 digest of a blob")
        file = path / "blobs" / "sha256" / digest[len("sha256:"):]
        try:
            mode = file.lstat().st_mode
        except OSError as exc:
            raise RegistryError(f"{where}: blob {digest[:19]} cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise RegistryError(f"{where}: blob {digest[:19]} is not a regular file")
        return file

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
    def read(digest: str) -> bytes:  # a blob read whole: it must be what its name says
        file = blob(digest)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise RegistryError(f"{where}: blob {digest[:19]} cannot be read ({exc.strerror})") from None
        check_digest(digest, sha256_of(data), f"{where}: blob {digest[:19]}")
        return data

    digest = manifests[0]["digest"]
    doc = json.loads(read(digest))
    if "manifests" in doc:
        digest = select_platform(doc, os_name, arch, where)
        doc = json.loads(read(digest))
    config = json.loads(read(doc["config"]["digest"]))
    return Image(digest=digest, config=config, layers=tuple(layer["digest"] for layer in doc["layers"]),
                 read_blob=lambda d: Verified(blob(d).open("rb"), d, f"{where}: layer {d[:19]}"))


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
    config = json.loads(config_bytes)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        archive.close()
        raise RegistryError(f"{where}: its config names {len(diff_ids)} layers and its manifest {len(layers)}")
    expected = dict(zip(layers, diff_ids, strict=True))

    def read_blob(name: str) -> IO[bytes]:  # a layer tar, checked against its diff_id (the tar's sha256)
        return Verified(_member(archive, name), expected[name], f"{where}: layer {name[:40]}")  # type: ignore[return-value]

    # docker save has no registry manifest: the image id (sha256 of the config) identifies the image.
    return Image(digest="sha256:" + hashlib.sha256(config_bytes).hexdigest(), config=config,
                 layers=layers, read_blob=read_blob)


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise KeyError(name)
    return handle
