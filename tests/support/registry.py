"""A real OCI registry for tests (Debian's docker-registry on 127.0.0.1), images written by the tests and pushed
over the distribution API with requests, and an auth proxy that demands Bearer or Basic credentials."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import requests

from tests.support.server import LoopbackServer, Quiet

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DEBIAN_12 = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


def dpkg_status(packages: dict[str, str]) -> bytes:
    return "".join(f"Package: {n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n\n"
                   for n, v in sorted(packages.items())).encode()


def layer(files: dict[str, bytes], symlinks: dict[str, str] | None = None, whiteouts: tuple[str, ...] = ()) -> bytes:
    """A gzipped tar layer holding FILES, SYMLINKS (path -> target) and whiteouts of paths."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in (symlinks or {}).items():
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
        for path in whiteouts:
            parent, _, leaf = path.rpartition("/")
            tar.addfile(tarfile.TarInfo(f"{parent}/.wh.{leaf}".lstrip("/")), io.BytesIO(b""))
    return gzip.compress(raw.getvalue(), mtime=0)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """docker-registry serving from a temporary directory on 127.0.0.1:PORT."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Registry:
        binary = shutil.which("docker-registry")
        assert binary is not None
        config = self.root / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
                          f"{self.root / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("docker-registry did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    # ---- pushing over the distribution API
    def blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        start = requests.post(f"http://{self.host}/v2/{repo}/blobs/uploads/", timeout=10)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        location = location if location.startswith("http") else f"http://{self.host}{location}"
        sep = "&" if "?" in location else "?"
        done = requests.put(f"{location}{sep}digest={digest}", data=data,
                            headers={"Content-Type": "application/octet-stream"}, timeout=30)
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repo: str, ref: str, doc: dict[str, object], media_type: str) -> str:
        body = json.dumps(doc).encode()
        put = requests.put(f"http://{self.host}/v2/{repo}/manifests/{ref}", data=body,
                           headers={"Content-Type": media_type}, timeout=10)
        assert put.status_code == 201, put.text
        return digest_of(body)

    def image(self, repo: str, tag: str | None, layers: list[bytes], env: dict[str, str] | None = None,
              arch: str = "amd64") -> tuple[str, int]:
        """Push an image; returns (manifest digest, manifest size)."""
        diff_ids = [digest_of(gzip.decompress(data)) for data in layers]
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids},
                             "config": {"Env": [f"{k}={v}" for k, v in (env or {}).items()]}}).encode()
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(repo, config),
                          "size": len(config)},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": self.blob(repo, d),
                           "size": len(d)} for d in layers]}
        body = json.dumps(doc).encode()
        digest = self.manifest(repo, tag or digest_of(body), doc, OCI_MANIFEST)
        return digest, len(body)

    def index(self, repo: str, tag: str, entries: list[tuple[str, int, str]]) -> str:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX,
               "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": s,
                              "platform": {"os": "linux", "architecture": a}} for d, s, a in entries]}
        return self.manifest(repo, tag, doc, OCI_INDEX)


class AuthProxy(LoopbackServer):
    """Forwards to a registry, demanding credentials: ``bearer`` (a /token endpoint that wants basic
    USER:PASSWORD, as Docker Hub's does for private repositories), ``bearer-anonymous`` (a token for anyone,
    as Docker Hub gives for public images), ``basic``, or ``none``. ``fail_once`` answers the
    first request for each path with a 503. ``log`` records (method, path, status).  ``tamper`` names what the
    proxy alters on the way (a registry that lies): "manifest", "index", "config", "layer" (a byte) or "swap" (each
    layer answered with SWAP, whose files say something else); headers are kept."""

    def __init__(self, upstream: str, mode: str, user: str = "bob", password: str = "hunter2", *,
                 fail_once: bool = False, tamper: str | None = None, swap: bytes = b"") -> None:
        self.upstream, self.mode, self.fail_once, self.tamper = upstream, mode, fail_once, tamper
        self.swap = swap  # tamper "swap": every layer blob answered with this other layer
        self.basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.token = "tok-" + hashlib.sha256(password.encode()).hexdigest()[:12]
        self.failed: set[str] = set()
        self.log: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(Quiet):
            def do_HEAD(self) -> None:
                self.handle_any("HEAD")

            def do_GET(self) -> None:
                self.handle_any("GET")

            def reply(self, method: str, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                proxy.log.append((method, self.path, status))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

            def handle_any(self, method: str) -> None:
                if self.path.startswith("/token"):
                    if proxy.mode != "bearer-anonymous" and self.headers.get("Authorization") != proxy.basic:
                        self.reply(method, 401, {})
                        return
                    self.reply(method, 200, {"Content-Type": "application/json"},
                               json.dumps({"token": proxy.token}).encode())
                    return
                if proxy.fail_once and self.path not in proxy.failed:
                    proxy.failed.add(self.path)
                    self.reply(method, 503, {})
                    return
                bearer = proxy.mode.startswith("bearer")
                expected = f"Bearer {proxy.token}" if bearer else proxy.basic
                if proxy.mode != "none" and self.headers.get("Authorization") != expected:
                    challenge = (f'Bearer realm="http://{self.headers["Host"]}/token",service="test",'
                                 'scope="repository:x:pull"' if bearer else 'Basic realm="test"')
                    self.reply(method, 401, {"WWW-Authenticate": challenge})
                    return
                upstream = requests.request(method, f"http://{proxy.upstream}{self.path}", timeout=30,
                                            headers={"Accept": self.headers.get("Accept", "*/*")})
                keep = {k: v for k, v in upstream.headers.items()
                        if k in ("Content-Type", "Docker-Content-Digest")}
                self.reply(method, upstream.status_code, keep, proxy.altered(self.path, upstream.content))

        self.serve(Handler)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def altered(self, path: str, body: bytes) -> bytes:
        """BODY, changed when it is what TAMPER names (same length for JSON, one flipped byte for a layer)."""
        if self.tamper is None or not body:
            return body
        kind = "blob" if "/blobs/" in path else "manifest"
        if kind == "manifest" and self.tamper in ("manifest", "index"):
            is_index = b'"manifests"' in body
            if is_index == (self.tamper == "index"):
                return body.replace(b'"schemaVersion": 2', b'"schemaVersion":  2', 1)
        if kind == "blob" and self.tamper == "config" and body.lstrip().startswith(b"{"):
            return body.replace(b'"os": "linux"', b'"os":  "linux"', 1)
        if kind == "blob" and self.tamper == "swap" and body[:2] == b"\x1f\x8b":
            return self.swap
        if kind == "blob" and self.tamper == "layer" and body[:2] == b"\x1f\x8b":
            return body[:4] + bytes([body[4] ^ 1]) + body[5:]  # the gzip header's MTIME: still a valid layer
        return body
