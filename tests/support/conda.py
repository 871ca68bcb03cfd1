"""A real conda channel for tests: packages built here with conda-package-handling from directories holding
info/index.json, info/paths.json and files, indexed into repodata.json by rattler's own indexer, served as static
files on 127.0.0.1 (optionally behind basic auth)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import LoopbackServer, Quiet

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str
    build: str = "h0_0"
    subdirs: tuple[str, ...] = ("linux-64", "linux-aarch64")
    depends: tuple[str, ...] = ()
    number: int = 0
    noarch: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> text; a README by default
    placeholder: tuple[str, ...] = ()  # files (of FILES) whose text holds the prefix placeholder


# The channel most tests use: a dependency chain, a __cuda build beside a CPU build, a noarch package, a package
# with a prefix placeholder, and the CUDA components envbuild derives [cuda] from.
STANDARD = (
    Pkg("liba", "1.0"),
    Pkg("liba", "1.1"),
    Pkg("libb", "2.0", "h1_0", depends=("liba >=1.0",),
        files={"etc/libb.conf": f"prefix={PLACEHOLDER}\n", "share/libb/README": "libb\n"},
        placeholder=("etc/libb.conf",)),
    Pkg("cudalib", "1.0", "cuda_0", subdirs=("linux-64",), depends=("__cuda >=12",), number=1),
    Pkg("cudalib", "1.0", "cpu_0", subdirs=("linux-64",)),
    Pkg("pure", "3.0", "pyh_0", subdirs=("noarch",), noarch="generic"),
    Pkg("cuda-cudart", "12.4.127", "h0_0", subdirs=("linux-64",)),
    Pkg("cudnn", "9.1.0.70", "cuda12_0", subdirs=("linux-64",), depends=("cuda-cudart >=12",)),
    Pkg("python", "3.11.9", "h0_cpython", subdirs=("linux-64",)),
    Pkg("pip", "24.2", "pyh_0", subdirs=("noarch",), noarch="generic"),
)


def build(root: Path, packages: Iterable[Pkg]) -> None:
    """Write every package of PACKAGES as a .conda under ROOT/<subdir>/, then index ROOT."""
    from conda_package_handling import api

    scratch = root.parent / f".{root.name}-src"
    for pkg in packages:
        for subdir in pkg.subdirs:
            src = scratch / f"{pkg.name}-{pkg.version}-{pkg.build}-{subdir}"
            shutil.rmtree(src, ignore_errors=True)
            (src / "info").mkdir(parents=True)
            files = pkg.files or {f"share/{pkg.name}/README": f"{pkg.name} {pkg.version} {subdir}\n"}
            paths = []
            for rel, text in files.items():
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                (src / rel).write_text(text)
                entry: dict[str, object] = {"_path": rel, "path_type": "hardlink", "size_in_bytes": len(text),
                                            "sha256": hashlib.sha256(text.encode()).hexdigest()}
                if rel in pkg.placeholder:
                    entry.update({"file_mode": "text", "prefix_placeholder": PLACEHOLDER})
                paths.append(entry)
            index: dict[str, object] = {"name": pkg.name, "version": pkg.version, "build": pkg.build,
                                        "build_number": pkg.number, "subdir": subdir, "depends": list(pkg.depends),
                                        "timestamp": 1700000000000, "license": "MIT"}
            if pkg.noarch:
                index["noarch"] = pkg.noarch
            (src / "info" / "index.json").write_text(json.dumps(index))
            (src / "info" / "paths.json").write_text(json.dumps({"paths": paths, "paths_version": 1}))
            (src / "info" / "files").write_text("\n".join(files) + "\n")
            if pkg.placeholder:
                (src / "info" / "has_prefix").write_text(
                    "".join(f"{PLACEHOLDER} text {rel}\n" for rel in pkg.placeholder))
            out = root / subdir
            out.mkdir(parents=True, exist_ok=True)
            relatives = sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file())
            api.create(str(src), relatives, f"{pkg.name}-{pkg.version}-{pkg.build}.conda", out_folder=str(out))
    index_channel(root)


def index_channel(root: Path) -> None:
    import asyncio
    import inspect

    from rattler.index import index_fs

    for subdir in ("noarch", "linux-64", "linux-aarch64"):
        (root / subdir).mkdir(parents=True, exist_ok=True)
    result = index_fs(root, force=True, write_shards=False)
    if inspect.isawaitable(result):
        asyncio.run(result)  # type: ignore[arg-type]


class CondaChannel(LoopbackServer):
    """Serves ROOT at ``http://127.0.0.1:PORT/channel``; ``auth=(user, password)`` requires basic auth.
    ``requests`` records what was asked for, ``sent`` what was answered with a body (not a 304)."""

    def __init__(self, root: Path, auth: tuple[str, str] | None = None) -> None:
        self.root = root
        self.auth = auth
        self.requests: list[str] = []
        self.sent: list[str] = []
        channel = self

        class Handler(Quiet):
            def do_GET(self) -> None:
                channel.requests.append(self.path)
                if self.refused(channel.auth, "conda"):
                    return
                relative = self.path.split("?", 1)[0].removeprefix("/channel/")
                path = (channel.root / relative).resolve()
                if not self.path.startswith("/channel/") or not path.is_file() or \
                        channel.root.resolve() not in path.parents:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                # as conda-forge's CDN and file servers do: a validator, and a client that keeps a copy asks again
                # with it (If-None-Match) and gets 304 while the file is unchanged
                stat = path.stat()
                etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                body = path.read_bytes()
                channel.sent.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/channel"
