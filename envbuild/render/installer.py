"""The installer images use: uv, pinned by version and by sha256 (its wheels', and the executable's in them).

``render`` puts the uv executable for the image's platform into the build context (``.envbuild/uv``): the one
envbuild runs with where it is that very file (the same release, the same platform: pyproject pins uv), else the
wheel from PyPI (fetched once, through the host's proxy and CA, checked, kept in envbuild's cache).  The install
steps mount it; it reaches no layer of the image.  One envbuild release pins one uv, so the same lock installs with
the same uv on every machine; a newer uv is a change here and in pyproject.toml, with PyPI's hashes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from envbuild.errors import RenderError

UV_VERSION = "0.13.10"
UV_WHEELS = {  # platform -> (the wheel, its sha256 as PyPI lists it, the sha256 of the uv executable in it)
    "linux/amd64": ("uv-0.13.10-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                    "7cc9c41b43d583e34c781fd3446405b06e9c5fa2db468ce2a534d353db6429e5",
                    "bfe31619b549d39d9031cb2cadc5a95d1258efcad746628a3a6212da4ae5dfbf"),
    "linux/arm64": ("uv-0.13.10-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
                    "e89dd26ea831dde70639ba0a798fa04a4c7c0226fd2b241da86218bfa370e495",
                    "9d6f95eef03cdbae753ef3d4ec7a400bff46071a6cc8406448c5eeb2ad69a3b4"),
}
UV_INDEX = "https://pypi.org/simple/uv/"


def uv_binary(platform: str) -> bytes:
    """The uv executable for PLATFORM's images (from the cache, else from PyPI), its wheel checked by sha256."""
    from envbuild.adapters import http

    if platform not in UV_WHEELS:
        raise RenderError(f"no uv for {platform} images (envbuild builds images for {', '.join(UV_WHEELS)})")
    name, sha256, executable = UV_WHEELS[platform]
    for path in (_running_uv(), http.cache_dir("uv") / f"uv-{executable[:16]}"):
        if path is not None and path.is_file() and hashlib.sha256(data := path.read_bytes()).hexdigest() == executable:
            return data
    cached = http.cache_dir("uv") / name
    if cached.is_file() and hashlib.sha256(data := cached.read_bytes()).hexdigest() == sha256:
        return _executable(data, name, executable)
    try:
        listing = http.session().get(UV_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                                     timeout=http.TIMEOUT)
        listing.raise_for_status()
        url = next(f["url"] for f in listing.json()["files"] if f["filename"] == name)
        answer = http.session().get(url, timeout=http.TIMEOUT)
        answer.raise_for_status()
    except StopIteration:
        raise RenderError(f"{UV_INDEX} lists no {name}") from None
    except Exception as exc:
        raise RenderError(f"the image's installer, uv {UV_VERSION}, could not be fetched from PyPI "
                          f"({http.reason(exc)}); put {name} into {cached.parent}") from None
    data = answer.content
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RenderError(f"{name} from PyPI does not have the sha256 envbuild pins ({sha256}); not used")
    http.write_cache(cached, data)
    binary = _executable(data, name, executable)
    http.write_cache(http.cache_dir("uv") / f"uv-{executable[:16]}", binary)
    return binary


def _running_uv() -> Path | None:
    """The uv executable of the uv package envbuild runs with, if it is installed."""
    try:
        import uv

        return Path(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def _executable(wheel: bytes, name: str, sha256: str) -> bytes:
    member = f"uv-{UV_VERSION}.data/scripts/uv"
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
            data = archive.read(member)
    except (zipfile.BadZipFile, KeyError):
        raise RenderError(f"{name} holds no {member}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RenderError(f"{member} in {name} does not have the sha256 envbuild pins ({sha256}); not used")
    return data
