"""An OCI image's layers, read as the container would see them: whiteouts and opaque whiteouts (``.wh..wh..opq``)
of upper layers hide what lower ones hold.  Every blob read whole is checked against its digest.

Shared by the registry and the local image stores (``envbuild.adapters.registry``), which hand out ``Image``s.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from envbuild.errors import EnvbuildError


class RegistryError(EnvbuildError):
    """An image cannot be found or read: a missing tag, no manifest for the platform, refused credentials."""


@dataclass(frozen=True)
class Image:
    """What the resolver needs of an image for one platform."""

    digest: str  # of the platform manifest
    config: dict[str, Any]  # the image config (env, labels, os, architecture)
    layers: tuple[str, ...]  # blob digests, bottom first
    read_blob: Callable[[str], IO[bytes] | io.RawIOBase]  # opens a layer blob as a stream

    def env(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.config.get("config", {}).get("Env") or [])
        return {key: value for key, _, value in pairs}

    def files(self, wanted: Sequence[str], also: Sequence[str] = (), present: Sequence[str] = ()) -> dict[str, bytes]:
        """The contents of WANTED paths (e.g. ``etc/os-release``) as the image's top layer shows them.

        Layers are read from the top down, and reading stops once every path is settled (found, or hidden by a
        whiteout); each layer read is read whole and checked against its digest before anything of it is
        believed.  Symlinks inside the image (``etc/os-release -> ../usr/lib/os-release``) are followed; ALSO
        names files worth keeping from any layer that is read anyway (the usual link targets), whichever order
        the layer lists them in.  PRESENT: paths among WANTED whose presence counts, not their content (b"").
        """
        found: dict[str, bytes] = {}
        pending = {p.strip("/") for p in wanted}
        only_there = {p.strip("/") for p in present}
        links: dict[str, str] = {}
        for digest in reversed(self.layers):
            if not pending:
                break
            with self.read_blob(digest) as stream:
                with tarfile.open(fileobj=stream, mode="r|*") as tar:
                    settled, opaque = self._settle(tar, pending, found, links, also=also, present=only_there)
                _finish(stream)
            settled |= {p for p in pending if p not in found and any(p.startswith(f"{d}/") for d in opaque)}
            pending -= settled
            pending -= set(found)
        for link, target in links.items():
            if target in found:
                found[link] = found[target]
        return {p.strip("/"): found[p.strip("/")] for p in wanted if p.strip("/") in found}

    @staticmethod
    def _settle(tar: tarfile.TarFile, pending: set[str], found: dict[str, bytes], links: dict[str, str], *,
                also: Sequence[str], present: set[str]) -> tuple[set[str], set[str]]:
        """Read one layer for ``files``: what it settles (found, linked or deleted), and the directories it makes
        opaque."""
        settled: set[str] = set()
        opaque: set[str] = set()
        for member in tar:
            name = layer_path(member.name)
            if name in also and name not in found and member.isfile() and name not in pending:
                found[name] = _content(tar, member)
                settled.add(name)
                continue
            base, _, leaf = name.rpartition("/")
            if leaf == ".wh..wh..opq":  # this layer replaces BASE: what lower layers have there is gone
                opaque.add(base)
                continue
            if leaf.startswith(".wh."):  # this layer deletes HIDDEN (a file, or a folder and all below it)
                hidden = f"{base}/{leaf[4:]}".lstrip("/")
                settled |= {p for p in pending if p == hidden or p.startswith(f"{hidden}/")}
                continue
            if name not in pending:
                continue
            if member.issym():
                target = layer_path(os.path.join(os.path.dirname(name), member.linkname)
                                    if not member.linkname.startswith("/") else member.linkname)
                links[name] = target
                pending.add(target)
                if name in present:
                    present.add(target)
            elif member.isfile():
                found[name] = b"" if name in present else _content(tar, member)
            settled.add(name)
        return settled, opaque

    def matching(self, wanted: Callable[[str], bool]) -> dict[str, bytes]:
        """Every regular file whose path WANTED accepts, as the top layer shows it: a whiteout, or an opaque
        whiteout (``.wh..wh..opq``) of its directory, in a layer above hides it.  Reads every layer."""
        found: dict[str, bytes] = {}
        hidden: set[str] = set()  # paths (files or directories) a layer above deleted
        opaque: set[str] = set()  # directories whose lower contents a layer above replaced
        for digest in reversed(self.layers):
            with self.read_blob(digest) as stream:
                with tarfile.open(fileobj=stream, mode="r|*") as tar:
                    members = _collect(tar, wanted, found, hidden, opaque)
                _finish(stream)
            hidden |= members[0]
            opaque |= members[1]
        return found


def _collect(tar: tarfile.TarFile, wanted: Callable[[str], bool], found: dict[str, bytes], hidden: set[str],
             opaque: set[str]) -> tuple[set[str], set[str]]:
    """Read one layer's wanted files into FOUND (unless an upper layer hid them); returns what this layer deletes
    and the directories it makes opaque, for the layers below."""
    deleted: set[str] = set()
    replaced: set[str] = set()
    for member in tar:
        name = layer_path(member.name)
        base, _, leaf = name.rpartition("/")
        if leaf == ".wh..wh..opq":
            replaced.add(base)
            continue
        if leaf.startswith(".wh."):
            deleted.add(f"{base}/{leaf[4:]}".lstrip("/"))
            continue
        if not member.isfile() or name in found or not wanted(name) or _covered(name, hidden, opaque):
            continue
        found[name] = _content(tar, member)
    return deleted, replaced


MAX_FILE = 64 << 20  # bytes of one file read from an image (a dpkg status of a large image is a few MB)


def layer_path(name: str) -> str:
    """A layer member's name as the path the container sees, without a leading / or ./: ``..`` stops at the root,
    as Docker places such a name, and a name's own leading dot stays (``.wh.opt`` is the whiteout of /opt)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _content(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A file of a layer, read whole; one over MAX_FILE is refused before it is read (a small gzip layer can hold
    a file of gigabytes)."""
    if member.size > MAX_FILE:
        raise RegistryError(f"/{layer_path(member.name)} in the image is {member.size} bytes, more than envbuild reads "
                            f"({MAX_FILE >> 20} MiB)")
    handle = tar.extractfile(member)
    return handle.read(MAX_FILE + 1)[:MAX_FILE] if handle else b""


def _finish(stream: Any) -> None:
    """Read the rest of a layer's blob and check it against its digest (``Verified``): nothing of a layer is
    believed before the whole of it is what its digest says."""
    finish = getattr(stream, "finish", None)
    if finish is not None:
        finish()


class Verified(io.RawIOBase):
    """A blob's stream that hashes what is read; ``finish`` reads the rest and checks the whole against DIGEST.
    Every reader of layers calls it once it has what it wanted from the blob (``_finish``)."""

    def __init__(self, raw: IO[bytes], digest: str, where: str) -> None:
        super().__init__()
        self.raw, self.digest, self.where = raw, digest, where
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.hash.update(data)
        buffer[:len(data)] = data
        return len(data)

    def finish(self) -> None:
        while data := self.raw.read(1 << 20):
            self.hash.update(data)
        check_digest(self.digest, "sha256:" + self.hash.hexdigest(), self.where)

    def close(self) -> None:
        self.raw.close()
        super().close()


def check_digest(wanted: str, got: str, where: str) -> None:
    """A blob or manifest must be what the digest it was asked by says: else the registry (or something on the way)
    served other content, and nothing of it is used."""
    if not wanted.startswith("sha256:"):
        raise RegistryError(f"{where}: digest {wanted!r} is not sha256 (envbuild checks sha256 digests only)")
    if got != wanted:
        raise RegistryError(f"{where}: the content does not match its digest (asked for {wanted[:19]}..., got "
                            f"{got[:19]}...): the registry served something else")


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _covered(name: str, hidden: set[str], opaque: set[str]) -> bool:
    """Is NAME deleted (itself or a parent) or under a directory that an upper layer made opaque?"""
    parts = name.split("/")
    for depth in range(len(parts), 0, -1):
        path = "/".join(parts[:depth])
        if path in hidden or (depth < len(parts) and path in opaque):
            return True
    return "" in opaque
