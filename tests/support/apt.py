"""A real apt mirror for tests: Packages indexes (real bookworm stanzas, plus any a test adds), a Release file
with their sha256, served as static files with ETag / If-None-Match on 127.0.0.1."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

from tests.support.server import LoopbackServer, Quiet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "apt"
CODENAMES = ("bookworm", "noble")
ARCHES = ("amd64", "arm64")
COMPONENTS = ("main", "universe")


def stanza(package: str, version: str, *, depends: str = "", provides: str = "", pre_depends: str = "",
           arch: str = "amd64", source: str = "") -> bytes:
    """A synthetic Packages stanza (for the cases the real subset lacks: an unsatisfiable chain, ...)."""
    fields = [f"Package: {package}"] + [f"Source: {source}"] * bool(source)
    fields += [f"Version: {version}", f"Architecture: {arch}"]
    fields += [f"Pre-Depends: {pre_depends}"] * bool(pre_depends) + [f"Depends: {depends}"] * bool(depends)
    fields += [f"Provides: {provides}"] * bool(provides)
    digest = hashlib.sha256(f"{package} {version}".encode()).hexdigest()
    fields += [f"Filename: pool/main/t/{package}/{package}_{version}_{arch}.deb", "Size: 1000", f"SHA256: {digest}"]
    return ("\n".join(fields) + "\n").encode()


class AptMirror(LoopbackServer):
    """``{url}/debian`` holds <codename> and <codename>-updates, ``{url}/debian-security`` <codename>-security."""

    def __init__(self, root: Path, extra_main: list[bytes] | None = None,
                 extra_security: list[bytes] | None = None) -> None:
        self.root = root
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
        (base / "Release").write_text(f"Origin: envbuild-tests\nSuite: {suite}\nCodename: {suite}\n"
                                      f"Architectures: {' '.join(ARCHES)}\nComponents: {' '.join(COMPONENTS)}\n"
                                      "SHA256:\n" + "\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spec_lines(self) -> str:
        return f'mirror = "{self.url}/debian"\nsecurity-mirror = "{self.url}/debian-security"\n'

