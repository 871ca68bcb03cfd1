"""A real PyPI-style index for tests: tiny wheels built here, served as PEP 503 pages on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import html
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.support.server import LoopbackServer, Quiet


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str
    version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(directory: Path, name: str, version: str, requires: Iterable[str] = (), tag: str = "py3-none-any", *,
               module_text: str | None = None) -> Wheel:
    """Write a minimal, valid wheel (METADATA, WHEEL, RECORD, one module) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}/__init__.py": (module_text or f"__version__ = {version!r}\n").encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: envbuild-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{info}/RECORD,,\n"
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            info_ = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info_, data)
        zf.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), record)
    return Wheel(path=path, name=canonicalize_name(name), version=version)


class LocalIndex(LoopbackServer):
    """Serves every ``*.whl`` and ``*.tar.gz`` (sdist) under ROOT as a PEP 503 simple index at ``http://127.0.0.1:PORT/simple/``.

    ``auth=("user", "pass")`` requires HTTP basic auth; ``hang`` makes every request wait (a stuck index);
    ``requests`` records the paths asked for.
    """

    def __init__(self, root: Path, auth: tuple[str, str] | None = None) -> None:
        self.root = root
        self.auth = auth
        self.hang = threading.Event()
        self.delay = 0.0  # seconds each answer waits (a slow index: what runs meanwhile can be watched)
        self.requests: list[str] = []
        index = self

        class Handler(Quiet):
            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                index.requests.append(self.path)
                if index.hang.is_set():
                    time.sleep(60)
                    return
                time.sleep(index.delay)
                if self.refused(index.auth, "test"):
                    return
                status, body, ctype = index.respond(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=0, must-revalidate")
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def url_with(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}/simple"

    def wheels(self) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for path in sorted([*self.root.glob("*.whl"), *self.root.glob("*.tar.gz")]):
            out.setdefault(canonicalize_name(path.name.split("-")[0]), []).append(path)
        return out

    def respond(self, path: str) -> tuple[int, bytes, str]:
        parts = [p for p in path.split("?", maxsplit=1)[0].split("/") if p]
        if parts == ["simple"]:
            links = "".join(f'<a href="/simple/{n}/">{n}</a>\n' for n in self.wheels())
            return 200, f"<html><body>{links}</body></html>".encode(), "text/html"
        if len(parts) == 2 and parts[0] == "simple":
            files = self.wheels().get(canonicalize_name(parts[1]))
            if not files:
                return 404, b"not found", "text/plain"
            links = "".join(
                f'<a href="/files/{html.escape(f.name)}#sha256={hashlib.sha256(f.read_bytes()).hexdigest()}">'
                f"{html.escape(f.name)}</a>\n" for f in files)
            return 200, f"<html><body>{links}</body></html>".encode(), "text/html"
        if len(parts) == 2 and parts[0] == "files" and (self.root / parts[1]).is_file():
            return 200, (self.root / parts[1]).read_bytes(), "application/octet-stream"
        return 404, b"not found", "text/plain"

    def publish(self, *wheels: Wheel) -> None:
        for wheel in wheels:
            target = self.root / wheel.path.name
            if wheel.path != target:
                target.write_bytes(wheel.path.read_bytes())

    def __exit__(self, *exc: object) -> None:
        self.hang.clear()
        super().__exit__(*exc)


# The packages most tests lock: a small graph with platform wheels and a glibc-level split.
STANDARD = [
    ("alpha", "1.0", ["beta>=1.0"], "py3-none-any"),
    ("alpha", "1.1", ["beta>=1.0"], "py3-none-any"),
    ("beta", "1.0", [], "py3-none-any"),
    ("beta", "1.1", [], "py3-none-any"),
    ("gamma", "1.0", [], "py3-none-manylinux_2_17_x86_64"),
    ("gamma", "1.0", [], "py3-none-manylinux_2_17_aarch64"),
    ("gamma", "1.0", [], "py3-none-macosx_11_0_arm64"),
    ("delta", "1.0", [], "py3-none-manylinux_2_17_x86_64"),
    ("delta", "2.0", [], "py3-none-manylinux_2_39_x86_64"),  # needs glibc 2.39: not for bookworm (2.36)
    ("needs-newer-beta", "1.0", ["beta>=9"], "py3-none-any"),
]


def build_standard(directory: Path) -> list[Wheel]:
    return [make_wheel(directory, name, version, requires, tag) for name, version, requires, tag in STANDARD]


# The PEP 517 hooks every test backend shares (its _metadata() and DIST come first)
HOOKS = '''def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, DIST + ".dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(_metadata())
    return DIST + ".dist-info"
'''

_BACKEND = '''"""A PEP 517 backend made by envbuild's tests: {about}."""
import base64, hashlib, os, zipfile

{imports}

NAME, VERSION = {name!r}, {version!r}
DIST = NAME.replace("-", "_") + "-" + VERSION


def _metadata():
    return "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n" + {requires!r}


{hooks}

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import time
    time.sleep({build_seconds})  # what compiling takes (a CUDA extension: minutes)
    module = {module}
    files = {{NAME.replace("-", "_") + "/__init__.py": module.encode(),
             DIST + ".dist-info/METADATA": _metadata().encode(),
             DIST + ".dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: envbuild-tests\\nRoot-Is-Purelib: true\\n"
                                         b"Tag: py3-none-any\\n"}}

    def digest(data):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join("%s,%s,%d\\n" % (p, digest(d), len(d)) for p, d in files.items()) + DIST + ".dist-info/RECORD,,\\n"
    name = DIST + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(DIST + ".dist-info/RECORD", record)
    return name
'''


def backend_source(name: str, version: str, *, needs: str | None = None, build_seconds: float = 0,
                   runtime: bool = True) -> str:
    """The in-tree build backend of a test package.  NEEDS: a package its build imports (as flash-attn's imports
    torch), which its wheel records with $MAX_JOBS, and which it requires at run time too unless not RUNTIME;
    without it the module says FROM_SOURCE = True."""
    if needs is None:
        return _BACKEND.format(about="it builds with nothing installed", imports="", name=name, version=version,
                               requires="", module=repr("FROM_SOURCE = True\n"), build_seconds=build_seconds,
                               hooks=HOOKS)
    module = f'"BUILT_AGAINST = %r\\nMAX_JOBS = %r\\n" % ({needs}.__version__, os.environ.get("MAX_JOBS"))'
    return _BACKEND.format(about=f"its build imports {needs}, as flash-attn's setup.py imports torch",
                           imports=f"import {needs}", name=name, version=version,
                           requires=f"Requires-Dist: {needs}\n" if runtime else "", module=module,
                           build_seconds=build_seconds, hooks=HOOKS)


def make_sdist(directory: Path, name: str, version: str, needs: str, *, build_seconds: float = 0,
               runtime: bool = True) -> Path:
    """An sdist whose build imports NEEDS (a locked package, as flash-attn imports torch), with dynamic metadata so
    that a resolver must build it to learn its dependencies.  Its wheel records NEEDS' version and $MAX_JOBS; building
    it takes BUILD_SECONDS (a stand-in for compiling)."""
    directory.mkdir(parents=True, exist_ok=True)
    top = f"{name.replace('-', '_')}-{version}"
    files = {
        "pyproject.toml": (f'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                           f'[project]\nname = "{name}"\nversion = "{version}"\ndynamic = ["dependencies"]\n'),
        "backend.py": backend_source(name, version, needs=needs, build_seconds=build_seconds, runtime=runtime),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    return write_sdist(directory / f"{top}.tar.gz", top, files)


def write_sdist(path: Path, top: str, files: dict[str, str]) -> Path:
    """An sdist at PATH holding FILES under TOP/, the same bytes every time (fixed times and order)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path
