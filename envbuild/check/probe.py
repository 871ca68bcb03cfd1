"""The host probe: the facts ``envbuild check`` compares with the lock, read with the standard library alone.

This file runs on its own (``python3 probe.py --json``) under any Python >= 3.9, inside any image or on any
node, so it imports nothing from envbuild or outside the standard library.  It never raises on a strange host:
what it cannot read it reports as ``None`` or in ``problems``.

- Python distributions: every ``*.dist-info`` on sys.path (first one wins, as importlib does), name and version
  from the METADATA headers (not the directory name), INSTALLER and direct_url.json.
- dpkg: ``var/lib/dpkg/status`` read as a file (no dpkg call).  OS from os-release, glibc from confstr.
- NVIDIA: NVML through ctypes (driver, CUDA driver API version, GPU names and compute capabilities), else
  ``/proc/driver/nvidia/version``.  No GPU is a normal answer, never an error.
- ``--deep``: every installed file hashed against its RECORD, in parallel threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from typing import Any

SCHEMA = 1
BIG_FILE = 1 << 20  # hashed in threads from this size up
DISTRO_INSTALLERS = ("debian", "dpkg", "rpm", "conda")  # packages whose files another manager owns


def _read(path: str, limit: int = -1) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------------
# Python distributions


def _headers(data: bytes) -> dict[str, str]:
    text = data.decode("utf-8", "replace")
    out: dict[str, str] = {}
    for line in text.split("\n"):
        if not line.strip():
            break  # the headers end at the first blank line; the description follows
        key, sep, value = line.partition(":")
        if sep and not line[:1].isspace() and key not in out:
            out[key.strip()] = value.strip()
            if "Name" in out and "Version" in out and len(out) >= 3:
                break  # all the probe needs
    return out


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(paths: list[str]) -> dict[str, Any]:
    """name -> {version, installer, direct_url, path} for the first dist-info of each name on PATHS."""
    found: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for directory in paths:
        try:
            entries = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            info = os.path.join(directory, entry)
            metadata = _read(os.path.join(info, "METADATA"), 4096)  # Name and Version come first
            if metadata is None:
                problems.append({"path": info, "problem": "no METADATA (a dangling dist-info)"})
                continue
            headers = _headers(metadata)
            name, version = headers.get("Name"), headers.get("Version")
            if (not name or not version) and len(metadata) == 4096:  # unusually long headers: read them all
                headers = _headers(_read(os.path.join(info, "METADATA"), 1 << 20) or b"")
                name, version = headers.get("Name"), headers.get("Version")
            if not name or not version:
                problems.append({"path": info, "problem": "METADATA has no Name or Version"})
                continue
            key = _normalise(name)
            if key in found:
                continue
            installer = (_read(os.path.join(info, "INSTALLER"), 200) or b"").decode("utf-8", "replace").strip()
            direct_url = None
            raw = _read(os.path.join(info, "direct_url.json"), 65536)
            if raw is not None:
                try:
                    direct_url = json.loads(raw)
                except ValueError:
                    problems.append({"path": info, "problem": "direct_url.json is not JSON"})
            found[key] = {"version": version, "installer": installer or None, "direct_url": direct_url,
                          "path": info}
    return {"packages": found, "problems": problems}


# ---------------------------------------------------------------------------------------------------------
# The system


def dpkg_status(root: str) -> dict[str, dict[str, str]] | None:
    data = _read(os.path.join(root, "var/lib/dpkg/status"))
    if data is None:
        return None
    out: dict[str, dict[str, str]] = {}
    wanted = ("Package:", "Status:", "Version:", "Architecture:")
    for stanza in data.decode("utf-8", "replace").split("\n\n"):
        fields = {}
        for line in stanza.split("\n"):
            if line.startswith(wanted):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            out[fields["Package"]] = {"version": fields.get("Version", ""),
                                      "architecture": fields.get("Architecture", "")}
    return out


def os_release(root: str) -> dict[str, str] | None:
    for rel in ("etc/os-release", "usr/lib/os-release"):
        data = _read(os.path.join(root, rel))
        if data is not None:
            out = {}
            for line in data.decode("utf-8", "replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and not key.startswith("#"):
                    out[key.strip()] = value.strip().strip("\"'")
            return {"id": out.get("ID", ""), "version_id": out.get("VERSION_ID", ""),
                    "pretty": out.get("PRETTY_NAME", "")}
    return None


def glibc() -> str | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        return None
    return value.split()[-1] if value else None


# ---------------------------------------------------------------------------------------------------------
# NVIDIA


def nvidia(nvml: Any | None = None, proc: str = "/proc/driver/nvidia/version") -> dict[str, Any] | None:
    """Driver, CUDA driver API and GPUs from NVML, else the kernel module's version file; None without a GPU.

    NVML and the file may be injected: tests replay recorded answers."""
    import ctypes

    try:
        lib = nvml if nvml is not None else ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        lib = None
    if lib is not None:
        facts = _from_nvml(lib)
        if facts is not None:
            return facts
    data = _read(proc, 4096)
    if data is not None:
        match = re.search(rb"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", data)
        if match:
            return {"driver": match.group(1).decode(), "cuda_driver": None, "gpus": None, "source": "proc"}
    return None


def _from_nvml(lib: Any) -> dict[str, Any] | None:
    import ctypes

    try:
        if lib.nvmlInit_v2() != 0:
            return None
    except (AttributeError, OSError):
        return None
    try:
        buf = ctypes.create_string_buffer(96)
        driver = buf.value.decode() if lib.nvmlSystemGetDriverVersion(buf, 96) == 0 else None
        cuda = ctypes.c_int()
        cuda_driver = None
        if lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda)) == 0:
            cuda_driver = f"{cuda.value // 1000}.{(cuda.value % 1000) // 10}"  # 12040 -> 12.4
        count = ctypes.c_uint()
        gpus = []
        if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0:
            for index in range(count.value):
                handle = ctypes.c_void_p()
                if lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                    continue
                name = ctypes.create_string_buffer(96)
                major, minor = ctypes.c_int(), ctypes.c_int()
                lib.nvmlDeviceGetName(handle, name, 96)
                capability = None
                if lib.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor)) == 0:
                    capability = f"{major.value}.{minor.value}"
                gpus.append({"name": name.value.decode("utf-8", "replace"), "compute_capability": capability})
        return {"driver": driver, "cuda_driver": cuda_driver, "gpus": gpus, "source": "nvml"}
    finally:
        with contextlib.suppress(AttributeError, OSError):
            lib.nvmlShutdown()


# ---------------------------------------------------------------------------------------------------------
# CUDA libraries as this environment would load them: the nvidia-* wheels' copies, else the system's

_CUDA_LIBS = (  # name, directory inside site-packages, file prefix, system name (ctypes.util.find_library)
    ("cudart", "nvidia/cuda_runtime/lib", "libcudart.so", "cudart"),
    ("cudnn", "nvidia/cudnn/lib", "libcudnn.so", "cudnn"),
    ("nccl", "nvidia/nccl/lib", "libnccl.so", "nccl"),
)


def _decode_version(name: str, value: int) -> str:
    if name == "cudart":  # 1000 * major + 10 * minor
        return f"{value // 1000}.{(value % 1000) // 10}"
    if name == "cudnn":  # 9.x: major * 10000 + minor * 100 + patch; 8.x and older: major * 1000 + minor * 100 + patch
        major, rest = (value // 10000, value % 10000) if value >= 90000 else (value // 1000, value % 1000)
        return f"{major}.{rest // 100}.{rest % 100}"
    # nccl 2.9+: X * 10000 + Y * 100 + Z; 2.8 and older: X * 1000 + Y * 100 + Z
    major, rest = (value // 10000, value % 10000) if value >= 20900 else (value // 1000, value % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def _call_version(name: str, path: str) -> str | None:
    import ctypes

    try:
        lib = ctypes.CDLL(path)
        if name == "cudnn":
            lib.cudnnGetVersion.restype = ctypes.c_size_t
            return _decode_version(name, int(lib.cudnnGetVersion()))
        value = ctypes.c_int()
        function = lib.cudaRuntimeGetVersion if name == "cudart" else lib.ncclGetVersion
        if function(ctypes.byref(value)) != 0:
            return None
        return _decode_version(name, value.value)
    except (OSError, AttributeError):
        return None


def cuda_libraries(paths: list[str]) -> dict[str, Any]:
    """name -> {version, path} of cudart, cuDNN and NCCL as loaded (None where none is found or loads)."""
    import ctypes.util

    out: dict[str, Any] = {}
    for name, subdir, prefix, system in _CUDA_LIBS:
        candidates = []
        for directory in paths:
            folder = os.path.join(directory, subdir)
            try:
                candidates += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.startswith(prefix))
            except OSError:
                continue
            if candidates:
                break
        if not candidates:
            found = ctypes.util.find_library(system)
            candidates = [found] if found else []
        version = None
        for path in candidates:
            version = _call_version(name, path)
            if version:
                out[name] = {"version": version, "path": path}
                break
        if not version:
            out[name] = None
    return out


# ---------------------------------------------------------------------------------------------------------
# --deep: installed files against RECORD


def _b64(digest: bytes) -> str:
    from base64 import urlsafe_b64encode

    return "sha256=" + urlsafe_b64encode(digest).rstrip(b"=").decode()


def _shebang_normalised(path: str) -> str | None:
    """The RECORD hash the file would have with its shebang as the wheel shipped it (pip #10744)."""
    data = _read(path)
    if data is None or not data.startswith(b"#!"):
        return None
    rest = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return _b64(hashlib.sha256(b"#!python\n" + rest).digest())


def verify_records(packages: dict[str, Any], workers: int = 0) -> list[dict[str, str]]:
    """Files that differ from their RECORD (``modified``) or are gone (``missing``)."""
    jobs = []
    for name, dist in packages.items():
        if dist.get("installer") in DISTRO_INSTALLERS:
            continue  # the distro patches its files (stripped .so, edited METADATA); dpkg --verify is their check
        record = _read(os.path.join(dist["path"], "RECORD"))
        if record is None:
            continue
        base = os.path.dirname(dist["path"])
        for line in record.decode("utf-8", "replace").splitlines():
            parts = line.rsplit(",", 2)
            if len(parts) != 3 or not parts[1].startswith("sha256="):
                continue  # RECORD itself, .pyc files and signatures carry no hash
            size = int(parts[2]) if parts[2].isdigit() else 0
            jobs.append((name, os.path.normpath(os.path.join(base, parts[0])), parts[1], size))

    def check(job: Any) -> dict[str, str] | None:
        name, path, expected, _ = job
        try:
            with open(path, "rb") as handle:
                data = handle.read(1 << 22)
                if len(data) == 1 << 22:  # a large file: hash the rest in blocks
                    digest = hashlib.sha256(data)
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(block)
                    found = _b64(digest.digest())
                else:
                    found = _b64(hashlib.sha256(data).digest())
        except FileNotFoundError:
            return {"package": name, "path": path, "status": "missing"}
        except OSError:
            return {"package": name, "path": path, "status": "unverifiable"}
        if found == expected or _shebang_normalised(path) == expected:
            return None
        return {"package": name, "path": path, "status": "modified"}

    def batch(part: list[Any]) -> list[dict[str, str]]:
        return [r for r in map(check, part) if r is not None]

    # hashlib releases the GIL on large buffers, so big files (CUDA libraries, model weights) are hashed in
    # threads; small ones cost more in thread hand-offs than in hashing, so the main thread does them meanwhile.
    big = [job for job in jobs if job[3] >= BIG_FILE]
    small = [job for job in jobs if job[3] < BIG_FILE]
    if not big:
        return batch(small)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 2)) as pool:
        futures = [pool.submit(check, job) for job in big]
        found = batch(small)
        return found + [r for r in (f.result() for f in futures) if r is not None]


# ---------------------------------------------------------------------------------------------------------


def _site_dirs(root: str) -> list[str]:
    """The site-packages of a mounted root (an image's filesystem): system, /usr/local and venvs under /opt."""
    import glob

    patterns = ("usr/lib/python3*/site-packages", "usr/lib/python3/dist-packages",
                "usr/local/lib/python3*/site-packages", "opt/*/lib/python3*/site-packages",
                "opt/*/*/lib/python3*/site-packages")
    return sorted(p for pattern in patterns for p in glob.glob(os.path.join(root, pattern)))


def probe(root: str = "/", *, env_names: list[str] | None = None, deep: bool = False,
          paths: list[str] | None = None, dpkg: bool = True, cuda: bool = False) -> dict[str, Any]:
    """Every fact, as JSON-able data."""
    live = os.path.realpath(root) == "/"
    if paths is None:
        paths = sys.path if live else _site_dirs(root)
    dists = distributions(paths)
    facts: dict[str, Any] = {
        "schema": SCHEMA,
        "hostname": os.uname().nodename if live else None,
        "interpreter": {"version": ".".join(str(n) for n in sys.version_info[:3]),
                        "implementation": sys.implementation.name, "executable": sys.executable} if live else None,
        "python": dists,
        "dpkg": dpkg_status(root) if dpkg else None,
        "os": os_release(root),
        "glibc": glibc() if live else None,
        "nvidia": nvidia() if live else None,
        "env": {name: os.environ.get(name) for name in (env_names or [])} if live else None,
        "cuda": cuda_libraries(paths) if cuda and live else None,
    }
    if deep:
        facts["files"] = verify_records(dists["packages"])
    return facts


def lock_needs(path: str) -> tuple[list[str], bool, bool]:
    """From a lock: the [env] names, and whether dpkg and the CUDA libraries matter (all of them when the lock
    cannot be read: envbuild reports that lock's problem itself).

    A line scan of the file as envbuild writes it (about 1 ms, where parsing a big lock takes tens): envbuild
    compares what the probe says it collected with the parsed lock and runs it again in the rare case they
    differ (a lock edited by hand into another TOML layout)."""
    data = _read(path)
    if data is None:
        return [], True, True
    text = data.decode("utf-8", "replace")
    names, section, tables = [], None, set()
    for line in text.split("\n"):
        header = re.match(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$", line)
        if header:
            section = header.group(1)
            tables.add(section.split(".")[0])
        elif section == "env":
            key = re.match(r'^\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*=', line)
            if key:
                names.append(key.group(1))
    return sorted(names), "system" in tables, "cuda" in tables


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Print the facts envbuild check compares with a lock, as JSON.")
    parser.add_argument("--root", default="/")
    parser.add_argument("--env", action="append", default=[], help="an environment variable to report")
    parser.add_argument("--deep", action="store_true", help="hash every installed file against its RECORD")
    parser.add_argument("--no-dpkg", action="store_true", help="skip the dpkg status (the lock has no apt part)")
    parser.add_argument("--cuda", action="store_true", help="load cudart, cuDNN and NCCL and ask their versions")
    parser.add_argument("--lock", help="take the [env] names, dpkg and CUDA from this lock (instead of the flags)")
    args = parser.parse_args(argv)
    names, dpkg, cuda = lock_needs(args.lock) if args.lock else (args.env, not args.no_dpkg, args.cuda)
    facts = probe(args.root, env_names=names, deep=args.deep, dpkg=dpkg, cuda=cuda)
    facts["collected"] = {"env": sorted(names), "dpkg": dpkg, "cuda": cuda}  # what the caller asked for
    json.dump(facts, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
