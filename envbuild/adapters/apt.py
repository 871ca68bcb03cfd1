"""Debian/Ubuntu repositories over HTTP: Release files and Packages indexes, verified and cached.

Nothing in a Release file is used before its OpenPGP signature is checked against the source's keyring
(``InRelease``, else ``Release`` with ``Release.gpg``), as apt does: a missing, bad or unknown signature, or a
``Valid-Until`` in the past (except on a snapshot archive, which is frozen), is an error naming the mirror and
suite.  Only a source with no keyring (``[system] insecure-unsigned``) takes an unsigned Release.

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
from envbuild.adapters.openpgp import Keyring, verify_clearsigned, verify_detached
from envbuild.errors import EnvbuildError

CACHE_SCHEMA = "4"  # 4: Conflicts and Breaks


class AptError(EnvbuildError):
    """A mirror could not be read, or what it served does not match its Release file."""


@dataclass(frozen=True)
class Source:
    """One apt source: ``deb URL SUITE COMPONENTS...``, and what its Release must be signed by."""

    url: str
    suite: str
    components: tuple[str, ...]
    keyring: Keyring | None = None  # None: an unsigned Release is taken ([system] insecure-unsigned)
    snapshot: bool = False  # a snapshot archive: frozen, so its Valid-Until has long passed and does not apply

    @property
    def where(self) -> str:
        return f"{self.url} {self.suite}"


@dataclass(frozen=True)
class ReleaseFacts:
    """What was locked of a suite's signed Release: its date, and who signed it."""

    source: str  # "URL SUITE"
    date: str  # the Release's Date, ISO 8601 in UTC
    signer: str  # the signing certificate's fingerprint; "unsigned" for an insecure-unsigned source


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
    conflicts: str = ""
    breaks: str = ""

    def source_id(self) -> tuple[str, str]:
        """(source package, source version): what apt compares to keep the binaries of one source in step."""
        name, _, version = self.source.partition(" (")
        return (name or self.package, version.rstrip(")") or self.version)


_FIELDS = {b"Package": 0, b"Version": 1, b"Architecture": 2, b"Pre-Depends": 3, b"Depends": 4, b"Provides": 5,
           b"SHA256": 6, b"Filename": 7, b"Size": 8, b"Essential": 9, b"Multi-Arch": 10, b"Priority": 11, b"Source": 12,
           b"Conflicts": 13, b"Breaks": 14}
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {".xz": lzma.decompress, ".gz": gzip.decompress,
                                                   ".bz2": bz2.decompress, "": bytes}


@dataclass(frozen=True)
class IndexFile:
    """One Packages file as its suite's Release file lists it."""

    url: str
    sha256: str
    size: int


def index_files(source: Source, arch: str) -> list[IndexFile]:
    """The Packages files of SOURCE for ARCH, from its verified Release file."""
    return release_index(source, arch)[0]


def release_index(source: Source, arch: str) -> tuple[list[IndexFile], ReleaseFacts]:
    """The Packages files of SOURCE for ARCH and the facts of its Release, once its signature is checked."""
    release, facts = _release(source)
    files = []
    for component in source.components:
        stem = f"{component}/binary-{arch}/Packages"
        for suffix in (".xz", ".gz", ".bz2", ""):
            if stem + suffix in release:
                sha, size = release[stem + suffix]
                files.append(IndexFile(f"{source.url.rstrip('/')}/dists/{source.suite}/{stem}{suffix}", sha, size))
                break
        else:
            raise AptError(f"{source.where}: the Release file lists no {stem}[.xz|.gz]")
    return files, facts


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    import requests

    try:
        response = session().get(url, headers=headers or {}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise AptError(f"cannot reach {url}: {reason(exc)}") from None
    return response.status_code, response.content, dict(response.headers)


def _cached_get(url: str) -> bytes | None:
    """URL's body, fetched conditionally against the cache (a 304 is cheap); None when the mirror has no such file."""
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    folder = cache_dir("apt", "release")
    body_path, meta_path = folder / f"{key}.body", folder / f"{key}.json"
    headers = {}
    if body_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last-modified"):
            headers["If-Modified-Since"] = meta["last-modified"]
    status, body, response_headers = _get(url, headers)
    if status == 304:
        return body_path.read_bytes()
    if status == 200:
        write_cache(body_path, body)
        write_cache(meta_path, json.dumps({"etag": response_headers.get("ETag"),
                                           "last-modified": response_headers.get("Last-Modified")}).encode())
        return body
    if status == 404:
        return None
    raise AptError(f"{url}: HTTP {status}")


def _release(source: Source) -> tuple[dict[str, tuple[str, int]], ReleaseFacts]:
    """The SHA256 table of the suite's signed Release (path -> (sha256, size)), and its facts."""
    where = source.where
    text, signer = _signed_release(source)
    table, date_field, valid_until = _parsed_release(text)
    date = _when(date_field, where, "Date")
    if valid_until and not source.snapshot:
        import datetime

        until = _when(valid_until, where, "Valid-Until")
        if until < datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"):
            raise AptError(f"{where}: the Release file expired on {until} (Valid-Until): the mirror is stale, or "
                           "replays an old archive state")
    if not table:
        raise AptError(f"{where}: the Release file has no SHA256 list (envbuild verifies every index against it)")
    return table, ReleaseFacts(source=where, date=date, signer=signer)


def _parsed_release(text: bytes) -> tuple[dict[str, tuple[str, int]], str | None, str | None]:
    """The SHA256 table, Date and Valid-Until of a Release TEXT whose signature was checked, parsed by python-debian
    once per text: the parse is kept under the text's sha256 (python-debian takes 50 ms to import, which a re-lock
    against unchanged mirrors then never pays; the signature is still checked on every lock)."""
    memo = cache_dir("apt", "releases") / f"{hashlib.sha256(text).hexdigest()}.v{CACHE_SCHEMA}.json"
    try:
        kept = json.loads(memo.read_bytes())
        return {name: (sha, int(size)) for name, (sha, size) in kept["sha256"].items()}, kept["date"], kept["until"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none yet, or not one this code wrote
        pass
    from debian.deb822 import Release

    release = Release(text.decode("utf-8", "replace"))
    table = {entry["name"]: (entry["sha256"], int(entry["size"])) for entry in release.get("SHA256", [])}
    date, until = release.get("Date"), release.get("Valid-Until")
    write_cache(memo, json.dumps({"sha256": table, "date": date, "until": until}).encode())
    return table, date, until


def _signed_release(source: Source) -> tuple[bytes, str]:
    """The text of the suite's Release, once its signature by the source's keyring is checked, and the signer's
    fingerprint: InRelease, else Release with Release.gpg ("unsigned" only for a source without a keyring)."""
    base = f"{source.url.rstrip('/')}/dists/{source.suite}"
    signed = _cached_get(f"{base}/InRelease")
    if signed is not None:
        if source.keyring is not None:
            return verify_clearsigned(signed, source.keyring, f"{source.where} (InRelease)")
        if signed.lstrip().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----"):
            return _strip_cleartext(signed), "unsigned"
        return signed, "unsigned"
    plain = _cached_get(f"{base}/Release")
    if plain is None:
        raise AptError(f"{base}/InRelease: not found, nor Release (is {source.suite!r} a suite of {source.url}?)")
    if source.keyring is None:
        return plain, "unsigned"
    signature = _cached_get(f"{base}/Release.gpg")
    if signature is None:
        raise AptError(f"{source.where}: the Release file is not signed (no InRelease, no Release.gpg); give the "
                       "mirror's key as [system] signed-by")
    return plain, verify_detached(plain, signature, source.keyring, f"{source.where} (Release.gpg)")


def _when(value: str | None, where: str, field: str) -> str:
    """An RFC 2822 date of a Release file as ISO 8601 in UTC ("" when the field is absent)."""
    if not value:
        return ""
    import datetime
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise AptError(f"{where}: the Release file's {field} {value!r} is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_cleartext(signed: bytes) -> bytes:
    """The text of a cleartext-signed message, unverified (only for an insecure-unsigned source)."""
    body = signed.split(b"\n\n", 1)[1] if b"\n\n" in signed else signed
    body = body.split(b"\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    return b"\n".join(line[2:] if line.startswith(b"- ") else line for line in body.split(b"\n")) + b"\n"


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
                        essential=v[9] == "yes", multi_arch=v[10], priority=v[11], source=v[12], conflicts=v[13],
                        breaks=v[14])
