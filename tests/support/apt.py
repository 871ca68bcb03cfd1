"""A real apt mirror for tests: Packages indexes (real bookworm stanzas, plus any a test adds), a Release file
with their sha256, signed as InRelease (and Release.gpg) by a key the tests make, served as static files with
ETag / If-None-Match on 127.0.0.1.  Specs trust that key with [system] signed-by (``spec_lines``)."""

from __future__ import annotations

import hashlib
import lzma
from functools import cache
from pathlib import Path

import pysequoia

from tests.support.server import LoopbackServer, Quiet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "apt"
CODENAMES = ("bookworm", "noble")
ARCHES = ("amd64", "arm64")
COMPONENTS = ("main", "universe")


def stanza(package: str, version: str, *, depends: str = "", provides: str = "", pre_depends: str = "",
           arch: str = "amd64", source: str = "", conflicts: str = "", breaks: str = "") -> bytes:
    """A synthetic Packages stanza (for the cases the real subset lacks: an unsatisfiable chain, ...)."""
    fields = [f"Package: {package}"] + [f"Source: {source}"] * bool(source)
    fields += [f"Version: {version}", f"Architecture: {arch}"]
    fields += [f"Pre-Depends: {pre_depends}"] * bool(pre_depends) + [f"Depends: {depends}"] * bool(depends)
    fields += [f"Provides: {provides}"] * bool(provides)
    fields += [f"Conflicts: {conflicts}"] * bool(conflicts) + [f"Breaks: {breaks}"] * bool(breaks)
    digest = hashlib.sha256(f"{package} {version}".encode()).hexdigest()
    fields += [f"Filename: pool/main/t/{package}/{package}_{version}_{arch}.deb", "Size: 1000", f"SHA256: {digest}"]
    return ("\n".join(fields) + "\n").encode()


@cache
def archive_key(name: str = "archive") -> pysequoia.Tsk:
    """A signing key made for the tests (one per NAME and session): the loopback mirror's archive key."""
    return pysequoia.Tsk.generate(f"envbuild tests {name} <{name}@example.invalid>")


def sign(release: bytes, key: pysequoia.Tsk, mode: str = "clear") -> bytes:
    which = {"clear": pysequoia.SignatureMode.CLEAR, "detached": pysequoia.SignatureMode.DETACHED}[mode]
    return pysequoia.sign(key.signer(), release, mode=which)


class AptMirror(LoopbackServer):
    """``{url}/debian`` holds <codename> and <codename>-updates, ``{url}/debian-security`` <codename>-security."""

    def __init__(self, root: Path, extra_main: list[bytes] | None = None,
                 extra_security: list[bytes] | None = None, *, key: pysequoia.Tsk | None = None,
                 date: str = "Sat, 01 Nov 2025 10:00:00 UTC", valid_until: str | None = None) -> None:
        self.root = root
        self.key = key or archive_key()
        self.date, self.valid_until = date, valid_until
        self.key_file = root / "archive-key.asc"
        root.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(str(self.key.extract_certificate()))
        self.requests: list[tuple[str, int]] = []
        self.publish(extra_main, extra_security)
        mirror = self

        class Handler(Quiet):
            def do_GET(self) -> None:
                path = (mirror.root / self.path.lstrip("/").split("?")[0]).resolve()
                if not path.is_file() or mirror.root.resolve() not in path.parents:
                    mirror.requests.append((self.path, 404))
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    mirror.requests.append((self.path, 304))
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                mirror.requests.append((self.path, 200))
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)

    def publish(self, extra_main: list[bytes] | None = None, extra_security: list[bytes] | None = None) -> None:
        """(Re)write every suite: the real stanzas plus EXTRA ones, with a new Release file (a mirror update)."""
        main = (FIXTURES / "bookworm-main.Packages").read_bytes().rstrip(b"\n").split(b"\n\n")
        security = (FIXTURES / "bookworm-security-main.Packages").read_bytes().rstrip(b"\n").split(b"\n\n")
        for codename in CODENAMES:
            self._suite("debian", codename, main + (extra_main or []))
            self._suite("debian", f"{codename}-updates", [])
            self._suite("debian-security", f"{codename}-security", security + (extra_security or []))

    def _suite(self, archive: str, suite: str, stanzas: list[bytes]) -> None:
        base = self.root / archive / "dists" / suite
        lines = []
        for component in COMPONENTS:
            for arch in ARCHES:
                chosen = stanzas if component == "main" else []
                text = b"\n".join(s.rstrip(b"\n").replace(b"\nArchitecture: amd64", f"\nArchitecture: {arch}".encode())
                                  + b"\n" for s in chosen)
                rel = f"{component}/binary-{arch}/Packages.xz"
                data = lzma.compress(text)
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                (base / rel).write_bytes(data)
                lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data):>9} {rel}")
        release = (f"Origin: envbuild-tests\nSuite: {suite}\nCodename: {suite}\nDate: {self.date}\n"
                   + (f"Valid-Until: {self.valid_until}\n" if self.valid_until else "")
                   + f"Architectures: {' '.join(ARCHES)}\nComponents: {' '.join(COMPONENTS)}\n"
                   "SHA256:\n" + "\n".join(lines) + "\n").encode()
        (base / "Release").write_bytes(release)
        (base / "InRelease").write_bytes(sign(release, self.key))
        (base / "Release.gpg").write_bytes(sign(release, self.key, "detached"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spec_lines(self) -> str:
        return (f'mirror = "{self.url}/debian"\nsecurity-mirror = "{self.url}/debian-security"\n'
                f'signed-by = "{self.key_file}"\n')

