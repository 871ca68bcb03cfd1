"""The probe: the facts a check compares with the lock, read with the standard library alone.

It runs inside envbuild for the host, another interpreter's environment (``--python``) and a mounted root, and
on its own in a container for ``--image`` (``python3 -I -c "from envbuild.check.probe import main; ..."`` with
envbuild's package mounted read-only), under any Python >= 3.9.  So it imports nothing but the standard library,
this package and the base modules below it (``options`` to parse, ``data`` for the CUDA tables), and nothing heavy
on the path of a plain check (no ``re``, ``json`` or ``subprocess``: asking another interpreter is ``query``'s).
It never raises on a strange host: what it cannot read it reports as ``None`` or in ``problems``.

- Python distributions: every ``*.dist-info`` on the interpreter's path (first one wins, as importlib does),
  with the directories that ``.pth`` files add to a site directory; name and version from the METADATA headers
  (not the directory name), INSTALLER and direct_url.json.
- dpkg: ``var/lib/dpkg/status`` read as a file (no dpkg call).  OS from os-release, glibc from confstr.
- NVIDIA: NVML through ctypes (driver, CUDA driver API version, GPU names and compute capabilities), else
  ``/proc/driver/nvidia/version``.  No GPU is a normal answer, never an error.  With GPUs, the kernels the
  installed torch carries (``kernels.py``).
- ``--deep``: every installed file hashed against its RECORD, in parallel threads.
"""

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

SCHEMA = 1
BIG_FILE = 1 << 20  # hashed in threads from this size up
DISTRO_INSTALLERS = ("debian", "dpkg", "rpm", "conda")  # packages whose files another manager owns


def _read(path: str, limit: int = -1) -> "bytes | None":
    """The first LIMIT bytes of PATH (all of it when LIMIT is -1), or None.  ``os.read`` rather than ``open``:
    the probe reads a few small files per installed distribution, and the file object costs more than the read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if limit >= 0:
            return os.read(fd, limit)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


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


def normalise(name: str) -> str:
    """PEP 503's normalised name: runs of ``-``, ``_`` and ``.`` become one ``-``, lower case (without ``re``)."""
    name = name.lower().replace("_", "-").replace(".", "-")
    while "--" in name:
        name = name.replace("--", "-")
    return name


def distributions(paths: list[str]) -> "dict[str, Any]":
    """``packages``: name -> {version, direct_url, path} of the first distribution of each name on PATHS (the
    interpreter's whole path, as it builds it: what importlib.metadata sees), from ``*.dist-info`` and
    ``*.egg-info`` in any case; ``duplicates``: the later ones of a name, which Python does not import;
    ``problems``: what cannot be read."""
    found: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    duplicates: list[dict[str, str]] = []
    seen = set()
    for directory in paths:
        if directory in seen:
            continue
        seen.add(directory)
        try:
            entries = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for entry in entries:
            tail = entry[-10:].lower()  # importlib.metadata matches these suffixes in any case
            kind = ".dist-info" if tail == ".dist-info" else ".egg-info" if tail.endswith(".egg-info") else None
            if kind is None:
                continue
            info = f"{directory}/{entry}" if directory else entry
            # a dist-info's METADATA; an egg-info folder's PKG-INFO, or the egg-info file itself (setup.py install)
            source = f"{info}/METADATA" if kind == ".dist-info" else (
                f"{info}/PKG-INFO" if os.path.isdir(info) else info)
            metadata = _read(source, 4096)  # Name and Version come first
            if metadata is None:
                problems.append({"path": info, "problem": f"no {os.path.basename(source)} (a dangling {kind[1:]})"})
                continue
            headers = _headers(metadata)
            name, version = headers.get("Name"), headers.get("Version")
            if (not name or not version) and len(metadata) == 4096:  # unusually long headers: read them all
                headers = _headers(_read(source, 1 << 20) or b"")
                name, version = headers.get("Name"), headers.get("Version")
            if not name or not version:
                problems.append({"path": info, "problem": f"{os.path.basename(source)} has no Name or Version"})
                continue
            key = normalise(name)
            if key in found:  # Python imports the first; the second is said (a stale or half-removed install)
                duplicates.append({"name": key, "version": version, "path": info,
                                   "first": found[key]["path"], "first_version": found[key]["version"]})
                continue
            direct_url = None
            raw = _read(f"{info}/direct_url.json", 65536)
            if raw is not None:  # PEP 610: an editable, local or VCS install
                import json

                try:
                    direct_url = json.loads(raw)
                except (ValueError, RecursionError):
                    problems.append({"path": info, "problem": "direct_url.json is not JSON"})
            found[key] = {"version": version, "direct_url": direct_url, "path": info}
    return {"packages": found, "problems": problems, "duplicates": duplicates}


def installer(dist_info: str) -> "str | None":
    """Who installed a distribution (its INSTALLER file: pip, uv, debian, conda, ...)."""
    return (_read(f"{dist_info}/INSTALLER", 200) or b"").decode("utf-8", "replace").strip() or None


# ---------------------------------------------------------------------------------------------------------
# The system


def dpkg_status(root: str) -> "dict[str, str] | None":
    """name -> version of each installed package (None: no dpkg database).  Plain strings, not a record per
    package: the host check keeps this in its cache and reads it back before every job (730 packages: 0.1 ms as
    strings, 0.25 ms as small dicts)."""
    stanzas = read_stanzas(os.path.join(root, "var/lib/dpkg/status"), ("Package", "Status", "Version"))
    if stanzas is None:
        return None
    return {s["Package"]: s.get("Version", "") for s in stanzas
            if s.get("Package") and s.get("Status", "").endswith(" installed")}


def read_stanzas(path: str, fields: tuple[str, ...]) -> "list[dict[str, str]] | None":
    """The FIELDS of each stanza of a deb822 file (dpkg's status, apt's extended_states), read as a file: only
    single-line fields, which these are.  None when PATH cannot be read."""
    data = _read(path)
    if data is None:
        return None
    wanted = tuple(f"{f}:" for f in fields)
    out = []
    for stanza in data.decode("utf-8", "replace").split("\n\n"):
        found = {}
        for line in stanza.split("\n"):
            if line.startswith(wanted):
                key, _, value = line.partition(":")
                found[key] = value.strip()
        if found:
            out.append(found)
    return out


def os_release(root: str) -> "dict[str, str] | None":
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


def glibc() -> "str | None":
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        return None
    return value.split()[-1] if value else None


# ---------------------------------------------------------------------------------------------------------
# --deep: installed files against RECORD


def _b64(digest: bytes) -> str:
    from base64 import urlsafe_b64encode

    return "sha256=" + urlsafe_b64encode(digest).rstrip(b"=").decode()


def _shebang_normalised(path: str) -> "str | None":
    """The RECORD hash the file would have with its shebang as the wheel shipped it (pip #10744)."""
    data = _read(path)
    if data is None or not data.startswith(b"#!"):
        return None
    import hashlib

    rest = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return _b64(hashlib.sha256(b"#!python\n" + rest).digest())


def verify_records(packages: "dict[str, Any]", workers: int = 0) -> list[dict[str, str]]:
    """Files that differ from their RECORD (``modified``) or are gone (``missing``)."""
    import hashlib

    jobs = []
    for name, dist in packages.items():
        if installer(dist["path"]) in DISTRO_INSTALLERS:
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

    def check(job: "Any") -> "dict[str, str] | None":
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

    def batch(part: "list[Any]") -> list[dict[str, str]]:
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


def this_interpreter() -> "dict[str, Any]":
    """The running interpreter, as ``query.describe`` reports another one."""
    return {"version": ".".join(str(n) for n in sys.version_info[:3]), "implementation": sys.implementation.name,
            "executable": sys.executable, "prefix": sys.prefix}


def probe(*, paths: list[str], interpreter: "dict[str, Any] | None" = None,
          root: str = "/", host: bool = True, env_names: "list[str] | None" = None, deep: bool = False,
          dpkg: bool = True, cuda: bool = False, conda_prefix: "str | None" = None,
          read_dpkg: "Any" = None) -> "dict[str, Any]":
    """Every fact, as JSON-able data.

    PATHS is the interpreter's path; INTERPRETER describes it (None for a mounted
    root).  HOST: the facts of this machine apply (hostname, glibc, environment, GPUs); false for a mounted
    root.  DPKG and CUDA say whether the lock has an apt part and a CUDA stack (each costs a read or a load).
    CONDA_PREFIX: the conda environment to read (under ROOT), when the lock has one.  READ_DPKG replaces
    ``dpkg_status`` (envbuild's host check caches it)."""
    dists = distributions(paths)
    gpu = libraries = None
    if host and cuda:  # NVML and the CUDA libraries: only for a lock with CUDA
        from . import nvidia

        gpu, libraries = nvidia.devices(), nvidia.cuda_libraries(paths, dists["packages"])
    facts: dict[str, Any] = {
        "schema": SCHEMA,
        "hostname": os.uname().nodename if host else None,
        "interpreter": interpreter,
        "python": dists,
        "dpkg": (read_dpkg or dpkg_status)(root) if dpkg else None,
        "os": os_release(root),
        "glibc": glibc() if host else None,
        "nvidia": gpu,
        "env": {name: os.environ.get(name) for name in (env_names or [])} if host else None,
        "cuda": libraries,
        "kernels": None,
    }
    if gpu and gpu.get("gpus") and "torch" in dists["packages"]:
        from . import kernels

        facts["kernels"] = kernels.of_torch(dists["packages"]["torch"])
    if conda_prefix is not None:
        from . import conda

        prefix = os.path.join(root, conda_prefix.lstrip("/")) if root != "/" else conda_prefix
        facts["conda"] = conda.records(prefix)
        if deep and facts["conda"] is not None:
            facts["conda_files"] = conda.verify(prefix, facts["conda"]["records"])
    if deep:
        facts["files"] = verify_records(dists["packages"])
    return facts


def site_dirs_under(root: str) -> list[str]:
    """The site-packages of a mounted root (an image's filesystem): system, /usr/local and venvs under /opt."""
    import glob

    patterns = ("usr/lib/python3*/site-packages", "usr/lib/python3/dist-packages",
                "usr/local/lib/python3*/site-packages", "opt/*/lib/python3*/site-packages",
                "opt/*/*/lib/python3*/site-packages")
    return sorted(p for pattern in patterns for p in glob.glob(os.path.join(root, pattern)))


PROBE_OPTIONS = (  # what ``envbuild check --image`` asks of the probe it runs in a container
    (("--env",), "env", "NAMES", "the environment variables to report, separated by commas"),
    (("--deep",), "deep", None, "hash every installed file against its RECORD"),
    (("--no-dpkg",), "no_dpkg", None, "skip the dpkg status (the lock has no apt part)"),
    (("--cuda",), "cuda", None, "the lock has CUDA: read the GPUs and CUDA libraries"),
    (("--conda-prefix",), "conda_prefix", "DIR", "the conda environment to read"),
)


def main(argv: "list[str] | None" = None) -> int:
    """Print the facts of the running interpreter as JSON (``envbuild check --image`` runs this in a container,
    with envbuild's package mounted).  Its options are parsed as every other fast command's (``envbuild.options``)."""
    import json

    from envbuild.options import UsageError, parse_options

    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, PROBE_OPTIONS)
    except UsageError as exc:
        sys.stderr.write(f"envbuild probe: error: {exc}\n")
        return 2
    names = [n for n in str(options.get("env") or "").split(",") if n]
    facts = probe(paths=sys.path, interpreter=this_interpreter(), env_names=names, deep=bool(options.get("deep")),
                  dpkg=not options.get("no_dpkg"), cuda=bool(options.get("cuda")),
                  conda_prefix=options.get("conda_prefix"))
    json.dump(facts, sys.stdout)
    sys.stdout.write("\n")
    return 0
