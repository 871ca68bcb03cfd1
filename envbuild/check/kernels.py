"""Which GPUs the installed torch has kernels for ("CUDA error: no kernel image is available for execution on the
device" is what a user sees when it has none for theirs).

The answer is read from the CUDA binary itself: the ``.nv_fatbin`` section of ``torch/lib/libtorch_cuda.so`` holds
fat binary containers one after another, and every entry of a container says what it is (SASS for one GPU
architecture, or PTX that the driver can compile for that architecture and newer ones), its architecture, and
whether it is architecture-specific (``sm_90a``: that GPU only) or family-specific (``sm_100f``: that family).  Only
headers are read, with ``struct``: a few thousand small reads in a library of hundreds of MB.

Layout (NVIDIA's ``fatbinary_section.h`` names the section; the fields below were checked against nvcc 13.0 output
for sm_75 ... sm_120, with and without ``a``/``f``, and against torch 2.14.1+cu130's libtorch_cuda.so):

- container: u32 magic 0xBA55ED50, u16 version, u16 header size, u64 size of the entries that follow;
- entry: u16 kind (1 PTX, 2 SASS), u16, u32 header size, u64 payload size, ..., u32 architecture at offset 28
  (``90`` is sm_90), u64 flags at offset 40 (``0x100000`` arch-specific, ``0x200000`` family-specific).

Where the binary cannot be read, the architectures come from ``envbuild/data/torch_cuda.toml`` (what PyTorch's wheel
build script sets per CUDA variant, cited there), and the result says so.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_SASS = 1, 2
ARCH_SPECIFIC, FAMILY_SPECIFIC = 0x100000, 0x200000
LIBRARY = "torch/lib/libtorch_cuda.so"


def read_fatbin(path: str) -> dict[str, list[str]] | None:
    """``{"sass": [...], "ptx": [...]}`` of the ELF file at PATH (architectures such as ``8.6``, ``9.0a``,
    ``10.0f``); None when it is not a readable 64-bit little-endian ELF file with a ``.nv_fatbin`` section."""
    try:
        with open(path, "rb") as handle:
            section = _fatbin_section(handle)
            if section is None:
                return None
            return _entries(handle, *section)
    except (OSError, struct.error):
        return None


def _fatbin_section(handle: Any) -> tuple[int, int] | None:
    """(offset, size) of the ``.nv_fatbin`` section."""
    head = handle.read(64)
    if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:  # ELFCLASS64, little-endian
        return None
    section_offset, = struct.unpack_from("<Q", head, 0x28)
    entry_size, count, names_index = struct.unpack_from("<HHH", head, 0x3A)
    handle.seek(section_offset)
    table = handle.read(entry_size * count)
    sections = [struct.unpack_from("<IIQQQQ", table, i * entry_size) for i in range(count)]
    handle.seek(sections[names_index][4])
    names = handle.read(sections[names_index][5])
    for name, _, _, _, offset, size in sections:
        if names[name:name + 11] == b".nv_fatbin\0":
            return offset, size
    return None


def _entries(handle: Any, offset: int, size: int) -> dict[str, list[str]]:
    sass: set[str] = set()
    ptx: set[str] = set()
    position, end = offset, offset + size
    while position + 16 <= end:
        handle.seek(position)
        magic, _, header_size, body = struct.unpack("<IHHQ", handle.read(16))
        if magic != FATBIN_MAGIC:
            position += 8  # containers are 8-byte aligned; padding between them
            continue
        entry, stop = position + header_size, position + header_size + body
        while entry + 48 <= stop:
            handle.seek(entry)
            raw = handle.read(48)
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", raw)
            arch, = struct.unpack_from("<I", raw, 28)
            flags, = struct.unpack_from("<Q", raw, 40)
            if entry_header == 0:
                break
            name = f"{arch // 10}.{arch % 10}" + ("a" if flags & ARCH_SPECIFIC else "f" if flags & FAMILY_SPECIFIC
                                                  else "")
            if kind == KIND_SASS:
                sass.add(name)
            elif kind == KIND_PTX:
                ptx.add(name)
            entry += entry_header + payload
        position = stop
    return {"sass": sorted(sass, key=_key), "ptx": sorted(ptx, key=_key)}


def _key(arch: str) -> tuple[int, int, str]:
    major, _, rest = arch.partition(".")
    return int(major), int(rest.rstrip("af") or 0), rest.lstrip("0123456789")


def runs_on(kernels: dict[str, Any], capability: str) -> str | None:
    """How a GPU of compute CAPABILITY ("8.6") runs these kernels: "sass" (built for it, or for an earlier GPU of
    the same major version), "ptx" (compiled by the driver at first use), or None (no kernel image)."""
    major, minor = (int(x) for x in capability.split(".")[:2])
    for arch in kernels.get("sass") or ():
        a_major, a_minor, variant = _key(arch)
        if (a_major, a_minor) == (major, minor) or (variant != "a" and a_major == major and a_minor <= minor):
            return "sass"
    for arch in kernels.get("ptx") or ():
        a_major, a_minor, variant = _key(arch)
        if variant == "a":
            ok = (a_major, a_minor) == (major, minor)
        elif variant == "f":
            ok = a_major == major and a_minor <= minor
        else:
            ok = (a_major, a_minor) <= (major, minor)
        if ok:
            return "ptx"
    return None


def of_torch(dist: dict[str, Any]) -> dict[str, Any] | None:
    """The kernels of the torch whose dist-info is DIST (from the probe): read from libtorch_cuda.so, else from
    the data file for its CUDA variant.  None for a build without CUDA."""
    site = os.path.dirname(dist["path"])
    package = f"torch {dist['version']}"
    library = os.path.join(site, LIBRARY)
    if os.path.exists(library):
        found = read_fatbin(library)
        if found is not None:
            return {"package": package, "source": LIBRARY, **found}
    cuda = _torch_cuda(os.path.join(site, "torch", "version.py"))
    if cuda is None:
        return {"package": package, "source": "torch/version.py (a build without CUDA)", "sass": [], "ptx": []}
    row = _data_row(cuda)
    if row is None:
        return {"package": package, "source": None, "sass": [], "ptx": [], "cuda": cuda}
    return {"package": package, **row}


def _torch_cuda(version_py: str) -> str | None:
    """The CUDA version torch was built for, from torch/version.py (``cuda = '12.4'``), without importing torch."""
    try:
        with open(version_py, encoding="utf-8") as handle:
            lines = handle.read(8192).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.split(":")[0].strip() == "cuda":
            value = value.strip().strip("'\"")
            return value if value and value != "None" else None
    return None


def _data_row(cuda: str) -> dict[str, Any] | None:
    import platform

    from envbuild.data import load

    machine = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    for row in load("torch_cuda")["variant"]:
        if row["cuda"] == ".".join(cuda.split(".")[:2]) and row["machine"] == machine:
            archs = [a.strip() for a in row["arch-list"].split(";") if a.strip()]
            return {"source": f"data: TORCH_CUDA_ARCH_LIST {row['arch-list']} for CUDA {row['cuda']} ({row['source']})",
                    "sass": sorted({a.removesuffix("+PTX") for a in archs}, key=_key),
                    "ptx": [a.removesuffix("+PTX") for a in archs if a.endswith("+PTX")]}
    return None
