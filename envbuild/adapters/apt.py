"""Debian/Ubuntu repositories over HTTP: Release files and Packages indexes, verified and cached.

Each Packages index is downloaded once, checked against the sha256 and size its Release file lists, and
cached (parsed) under the cache directory, keyed by that sha256: a re-lock downloads only the Release files,
with If-None-Match / If-Modified-Since.  Release files are parsed with python-debian.  The large Packages
files (50 MB for bookworm main) are scanned for the few fields the resolver needs by a byte-level splitter:
python-debian's deb822 takes about 8x longer on them; its relation parser and version order are used on
the records that the closure actually visits.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from envbuild.adapters.http import TIMEOUT, cache_dir, reason, session, write_cache
from envbuild.errors import EnvbuildError

CACHE_SCHEMA = "3"


class AptError(EnvbuildError):
    """A mirror could not be read, or what it served does not match its Release file."""


@dataclass(frozen=True)
class Source:
    """One apt source: ``deb URL SUITE COMPONENTS...``."""

    url: str
    suite: str
    components: tuple[str, ...]


@dataclass(frozen=True)
class DebRecord:
    package: str
    version: str
    architecture: str
    pre_depends: str
    depends: str
    provides: str
    sha256: str
    filename: str
    size: int
    essential: bool
    multi_arch: str
    priority: str
    source: str = ""  # "NAME" or "NAME (VERSION)"; empty when the source package is named like the binary

    def source_id(self) -> tuple[str, str]:
        """(source package, source version): what apt compares to keep the binaries of one source in step."""
        name, _, version = self.source.partition(" (")
        return (name or self.package, version.rstrip(")") or self.version)


_FIELDS = {b"Package": 0, b"Version": 1, b"Architecture": 2, b"Pre-Depends": 3, b"Depends": 4, b"Provides": 5,
           b"SHA256": 6, b"Filename": 7, b"Size": 8, b"Essential": 9, b"Multi-Arch": 10, b"Priority": 11, b"Source": 12}
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {".xz": lzma.decompress, ".gz": gzip.decompress,
                                                   ".bz2": bz2.decompress, "": bytes}


@dataclass(frozen=True)
class IndexFile:
    """One Packages file as its suite's Release file lists it."""

    url: str
    sha256: str
    size: int


def index_files(source: Source, arch: str) -> list[IndexFile]:
    """The Packages files of SOURCE for ARCH, from its Release file (fetched conditionally: a 304 is cheap)."""
    release = _release(source)
    files = []
    for component in source.components:
        stem = f"{component}/binary-{arch}/Packages"
        for suffix in (".xz", ".gz", ".bz2", ""):
            if stem + suffix in release:
                sha, size = release[stem + suffix]
                files.append(IndexFile(f"{source.url.rstrip('/')}/dists/{source.suite}/{stem}{suffix}", sha, size))
                break
        else:
            raise AptError(f"{source.url} {source.suite}: the Release file lists no {stem}[.xz|.gz]")
    return files


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    import requests

    try:
        response = session().get(url, headers=headers or {}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise AptError(f"cannot reach {url}: {reason(exc)}") from None
    return response.status_code, response.content, dict(response.headers)


def _release(source: Source) -> dict[str, tuple[str, int]]:
    """The SHA256 table of the suite's Release file: path -> (sha256, size).  Conditional GET against the cache."""
    from debian.deb822 import Release

    url = f"{source.url.rstrip('/')}/dists/{source.suite}/Release"
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    folder = cache_dir("apt", "release")
    body_path, meta_path = folder / f"{key}.Release", folder / f"{key}.json"
    headers = {}
    if body_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last-modified"):
            headers["If-Modified-Since"] = meta["last-modified"]
    status, body, response_headers = _get(url, headers)
    if status == 304:
        body = body_path.read_bytes()
    elif status == 200:
        write_cache(body_path, body)
        write_cache(meta_path, json.dumps({"etag": response_headers.get("ETag"),
                                      "last-modified": response_headers.get("Last-Modified")}).encode())
    elif status == 404:
        raise AptError(f"{url}: not found (is {source.suite!r} a suite of {source.url}?)")
    else:
        raise AptError(f"{url}: HTTP {status}")
    release = Release(body.decode("utf-8", "replace"))
    table = {}
    for entry in release.get("SHA256", []):
        table[entry["name"]] = (entry["sha256"], int(entry["size"]))
    if not table:
        raise AptError(f"{url}: no SHA256 list (envbuild verifies every index against it)")
    return table


def load_index_file(index: IndexFile) -> list[DebRecord]:
    """The records of one Packages file: from the cache when its sha256 was seen, else downloaded and verified."""
    parsed = cache_dir("apt", "parsed") / f"{index.sha256}.v{CACHE_SCHEMA}.json"
    if parsed.exists():
        return [DebRecord(*row) for row in json.loads(parsed.read_bytes())]
    status, body, _ = _get(index.url)
    if status != 200:
        raise AptError(f"{index.url}: HTTP {status}")
    got = hashlib.sha256(body).hexdigest()
    if got != index.sha256 or len(body) != index.size:
        raise AptError(f"{index.url}: checksum mismatch (the Release file says sha256 {index.sha256[:16]}… and "
                       f"{index.size} bytes, the mirror served {got[:16]}… and {len(body)} bytes); the mirror may "
                       "be mid-update, retry later")
    suffix = next((s for s in (".xz", ".gz", ".bz2") if index.url.endswith(s)), "")
    try:
        text = _DECOMPRESS[suffix](body)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise AptError(f"{index.url}: cannot decompress: {exc}") from None
    records = list(scan(text))
    write_cache(parsed, json.dumps([list(r.__dict__.values()) for r in records], separators=(",", ":")).encode())
    return records


def scan(text: bytes) -> Iterator[DebRecord]:
    """The fields the resolver needs, from each stanza of a Packages file."""
    for stanza in text.split(b"\n\n"):
        values: list[bytes] = [b""] * len(_FIELDS)
        last = -1
        for line in stanza.split(b"\n"):
            if not line:
                continue
            if line[0] in b" \t":
                if last >= 0:
                    values[last] += b" " + line.strip()
                continue
            name, _, value = line.partition(b":")
            last = _FIELDS.get(name, -1)
            if last >= 0:
                values[last] = value.strip()
        if not values[0]:
            continue
        v = [x.decode("utf-8", "replace") for x in values]
        yield DebRecord(package=v[0], version=v[1], architecture=v[2], pre_depends=v[3], depends=v[4],
                        provides=v[5], sha256=v[6], filename=v[7], size=int(v[8] or 0),
                        essential=v[9] == "yes", multi_arch=v[10], priority=v[11], source=v[12])
