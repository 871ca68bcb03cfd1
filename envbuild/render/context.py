"""The values the templates see: every value from the lock validated against what may appear where it lands (with
the lock's key path in the error), then quoted there: ``dq`` for Dockerfile ENV/LABEL strings, ``sh`` for shell
words.  A value that cannot be made safe (a newline in an env value, a package name with a space) is refused."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from envbuild.errors import RenderError
from envbuild.lockfile import Lock
from envbuild.platforms import PLATFORMS
from envbuild.render.installer import UV_VERSION
from envbuild.render.names import MARKER, PREFIX, SUPPORT, UID, USER, VENV
from envbuild.render.python import BUILT_SCRIPT, python_context
from envbuild.versions import minor

# What a value may look like where it lands.  Anything else is an error naming its key path.
_DEB_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]*")
_DEB_VERSION = re.compile(r"(?:[0-9]+:)?[A-Za-z0-9.+~-]+")
_DEB_ARCH = re.compile(r"[a-z0-9-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'\\`$;&|<>(){}\[\]]+")
_SUITE = re.compile(r"[A-Za-z0-9._/-]+")
_PY_NAME = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_PY_VERSION = re.compile(r"[A-Za-z0-9.+!_-]+")
_PY_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_INDEX_URL = re.compile(r"[a-z][a-z0-9+.-]*://(?:[^\s\"'\\`$;&|<>(){}\[\]]|\$\{[A-Za-z_][A-Za-z0-9_]*\})+")  # ${VAR} ok
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"[a-z0-9][a-z0-9.-]*(?::[0-9]+)?(?:/[a-z0-9._-]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")
_VERSIONISH = re.compile(r"[0-9][0-9.]*")
_WHEEL_PLATFORM = re.compile(r"[a-z0-9_]+(?:-[a-z0-9_]+)?")  # uv's --python-platform: aarch64-manylinux_2_36
_BUILD_PYTHON = re.compile(r"python[0-9]+\.[0-9]+")
BUILD_VENV = f"{PREFIX}/build-venv"  # the build group's venv, in the stage that compiles (never in the runtime)
_PATH = re.compile(r"/[A-Za-z0-9._/-]*")  # an absolute path, nothing to quote
_LINE_BREAK = re.compile(r"[\n\r\0]")  # what would end an `export NAME=value` line of a RUN (build-env)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # controls, and what some tools take for a line break


# ---------------------------------------------------------------------------------------------------------
# The values the templates see, validated


def build_context(lock: Lock, lock_text: str, host: Lock | None = None) -> dict[str, Any]:
    """Everything a template may use, each value checked against what may appear where it lands.  HOST: the lock's
    first platform, when LOCK's Python layers are installed in a stage of its image (``render.cross``)."""
    if lock.base_image is None:
        raise RenderError("this lock has no [base-image] (a bare-metal target); set [environment] base-image in "
                          "the spec and run envbuild lock, or use envbuild sync on the host")
    base = lock.base_image
    _need(_REFERENCE, base.reference.split("@", 1)[0], "[base-image] -> reference")
    _need(_DIGEST, base.digest, "[base-image] -> digest")
    system = lock.system.packages if lock.system is not None else ()
    _check_debs(system)
    cross = _cross(lock, host) if host is not None else None
    for pkg in lock.python.packages:
        where = f"[python.packages] -> {pkg.name!r}"
        _need(_PY_NAME, pkg.name, f"{where} -> name")
        _need(_PY_VERSION, pkg.version, f"{where} -> version")
        for h in pkg.hashes:
            _need(_PY_HASH, h, f"{where} -> hashes")
    for url in (lock.python.index_url, *lock.python.extra_index_urls):
        _need(_INDEX_URL, url, "[python] -> index-url")
    env = _variables(lock.env, "[env]", _CONTROL, "a control character (newline, tab, ...) cannot be baked into an "
                     "image's environment; remove it from the spec's [env]")
    build_env = _variables(lock.python.build_env, "[python] -> build-env", _LINE_BREAK,
                           "not safe to write into a build file")
    python = lock.python.target_version
    _need(_VERSIONISH, python, "[python] -> version")
    if _CONTROL.search(lock.name):
        raise RenderError("[environment] -> name: control characters are not allowed")
    cuda = None
    if lock.cuda is not None:
        _need(_VERSIONISH, lock.cuda.runtime, "[cuda] -> runtime")
        _need(_VERSIONISH, lock.cuda.min_driver, "[cuda] -> min-driver")
        # min-driver is the driver of the major's first release (minor-version compatibility): cuda>=MAJOR.0
        cuda = {"runtime": lock.cuda.runtime, "min_driver": lock.cuda.min_driver,
                "require": f"cuda>={lock.cuda.runtime.split('.')[0]}.0"}
    lock_sha256 = hashlib.sha256(lock_text.encode()).hexdigest()
    labels = {
        "org.opencontainers.image.title": lock.name,
        "org.opencontainers.image.description": f"{lock.name}: built by envbuild from envbuild.lock",
        "org.opencontainers.image.version": lock_sha256[:12],
        "org.opencontainers.image.base.name": base.reference,
        "org.opencontainers.image.base.digest": base.digest,
        "io.envbuild.lock.sha256": f"sha256:{lock_sha256}",
        "io.envbuild.spec-hash": lock.spec_hash,
    }
    for key, value in labels.items():
        if _CONTROL.search(value):
            raise RenderError(f"label {key}: control characters are not allowed")
    conda = _conda(lock)
    build_image = None
    if lock.build_image is not None:
        image = lock.build_image
        _need(_REFERENCE, image.reference.split("@", 1)[0], "[python] -> build-image")
        _need(_DIGEST, image.digest, "[targets] -> build-image -> digest")
        _need(_BUILD_PYTHON, image.python, "[targets] -> build-image -> python")
        build_image = {"image": f"{image.reference.split('@', 1)[0]}@{image.digest}", "reference": image.reference,
                       "python": image.python}
    in_conda = lock.python.source == "conda"
    bins = ([] if in_conda else [f"{VENV}/bin"]) + ([f"{conda['prefix']}/bin"] if conda else [])
    image_env = ([] if in_conda else [("VIRTUAL_ENV", VENV)]) + ([("CONDA_PREFIX", conda["prefix"])] if conda else [])
    image_env += [("PATH", ":".join([*bins, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])),
                  ("ENVBUILD_LOCK", f"{PREFIX}/envbuild.lock")]
    if cuda is not None:  # the NVIDIA container toolkit mounts the driver, and refuses one too old to run it
        image_env += [("NVIDIA_VISIBLE_DEVICES", "all"), ("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"),
                      ("NVIDIA_REQUIRE_CUDA", cuda["require"])]
    context: dict[str, Any] = {
        "name": lock.name,
        "image_env": image_env + env,
        "base": {"reference": base.reference, "digest": base.digest,
                 "image": f"{base.reference.split('@', 1)[0]}@{base.digest}"},
        "platform": lock.target.platform,
        "python": {"version": python, "command": f"python{minor(python)}", "source": lock.python.source,
                   "packages": len(lock.python.packages), "venv": not in_conda, "interpreter": interpreter(lock),
                   "build_env": build_env, "host": cross, **python_context(lock)},
        "conda": conda,
        "build_image": build_image,
        "build_venv": BUILD_VENV,
        "build_python": build_image["python"] if build_image else f"python{minor(python)}",
        "system": [{"name": p.name, "version": p.version, "pin": f"{p.name}={p.version}"} for p in system],
        "snapshot": any("snapshot.debian.org" in line for line in apt_source_lines(lock)),
        "apt_key": APT_KEY if lock.system is not None and lock.system.key else None,
        "env": env,
        "cuda": cuda,
        "labels": labels,
        "lock_sha256": lock_sha256,
        "epoch": source_date_epoch(lock),
        "stamp": STAMP,
        "apt_cache": APT_CACHE,
        # one cache mount per architecture: the python stage of another platform's image runs its own apt beside
        # the target's (buildah --jobs), and a shared mount (sharing=locked) would make one wait for the other
        "apt_cache_id": f"envbuild-apt-{PLATFORMS[lock.target.platform].deb_arch or 'none'}",
        "uv_version": UV_VERSION,
        "bytecode": _BYTECODE,
        "built_script": hashlib.sha256(BUILT_SCRIPT.read_bytes()).hexdigest()[:16],
        "normalise": NORMALISE,
        "venv": VENV,
        "prefix": PREFIX,
        "support": SUPPORT,
        "user": USER,
        "uid": UID,
        "marker": MARKER,
    }
    _one_line_each(context)
    return context


def _cross(lock: Lock, host: Lock) -> dict[str, Any]:
    """The python stage's values (``render.cross``), checked like the target's own."""
    from envbuild.render.cross import host_context

    cross = host_context(host, lock)
    _check_debs(host.system.packages if host.system is not None else ())
    _need(_REFERENCE, cross["image"].split("@", 1)[0], "[base-image] -> reference")
    _need(_DIGEST, cross["image"].split("@", 1)[1], f"[targets] {host.target.platform} -> base-image-digest")
    _need(_WHEEL_PLATFORM, cross["python_platform"], f"[targets] {lock.target.platform} -> python-platform")
    return cross


def _check_debs(packages: Any) -> None:
    for p in packages:
        where = f"[system.packages] -> {p.name!r}"
        _need(_DEB_NAME, p.name, f"{where} -> name")
        _need(_DEB_VERSION, p.version, f"{where} -> version")
        _need(_DEB_ARCH, p.architecture, f"{where} -> architecture")
        _need(_SHA256, p.sha256, f"{where} -> sha256")


def _one_line_each(value: Any, where: str = "") -> None:
    """VALUE (the templates' context), once every string in it is one line of printable characters: whatever the
    checks above let through, a template (the built-in ones, and yours) never prints a line break or a control
    character from the lock."""
    if isinstance(value, str):
        if not value.isprintable():
            from envbuild.validate import escaped, unprintable

            raise RenderError(f"{where or 'a value'} {unprintable(value)}: {escaped(value[:80])!r}; not written")
    elif isinstance(value, dict):
        for key, item in value.items():
            _one_line_each(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _one_line_each(item, f"{where}[{index}]")


def _variables(pairs: tuple[tuple[str, str], ...], where: str, refused: re.Pattern[str],
               problem: str) -> list[tuple[str, str]]:
    """Environment variables from the lock, each checked: a variable's name, and no REFUSED character in its value."""
    for name, value in pairs:
        _need(_ENV_NAME, name, f"{where} -> {name!r}")
        if refused.search(value):
            raise RenderError(f"{where} -> {name}: {problem}")
    return list(pairs)


# What a step leaves behind that differs between two builds of the same lock, removed at its end (each has a test
# in tests/test_reproducible.py): apt's and dpkg's logs, the -old copies of dpkg's and debconf's databases,
# ldconfig's aux-cache (inode numbers and ctimes), and the bytecode the step compiled (py3compile in postinst
# scripts: marshal output and source mtimes).  Timestamps are the engine's (--timestamp) and SOURCE_DATE_EPOCH's.
APT_CACHE = "/var/cache/envbuild-apt"  # apt's Dir::Cache in the build: a cache mount of its own, not over the base's
STAMP = "/tmp/.envbuild-step"  # noqa: S108 - a path inside the image, removed by the step that made it
NORMALISE = (  # one shell command each, joined with && at the end of a RUN that began with `: > STAMP`
    "rm -rf /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache",
    "rm -f /var/lib/dpkg/*-old /var/cache/debconf/*-old",
    f"find / -xdev -newer {STAMP} \\( -name '*.pyc' -o -name '*.pyo' \\) -delete",
    f"find / -xdev -depth -newer {STAMP} -type d -name __pycache__ -empty -delete",
    f"rm -f {STAMP}",
)
# The script that compiles each Python layer's bytecode (mounted, in no layer); its hash is named in those steps.
_BYTECODE = hashlib.sha256((Path(__file__).parent / "compile_bytecode.py").read_bytes()).hexdigest()[:16]
DEFAULT_EPOCH = 1577836800  # 2020-01-01T00:00:00Z: a lock with no apt Release date to take one from


def source_date_epoch(lock: Lock) -> int:
    """SOURCE_DATE_EPOCH of the image: the newest signed Release date among the lock's apt suites (the newest input
    the lock names a date for), else DEFAULT_EPOCH.  Every file of the image's layers, the image's created time,
    and what the steps write (useradd's password date) take it, so the same lock gives the same bytes."""
    from datetime import datetime

    dates = [r.date for r in lock.system.releases] if lock.system is not None else []
    stamps = []
    for date in dates:
        try:
            stamps.append(int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()))
        except ValueError:
            raise RenderError(f"[targets] -> apt-releases: {date!r} is not an ISO 8601 date") from None
    return max(stamps, default=DEFAULT_EPOCH)


def interpreter(lock: Lock) -> str:
    """The image's Python: the venv's, or the conda environment's when the lock's Python comes from conda."""
    if lock.python.source == "conda" and lock.conda is not None:
        return f"{lock.conda.prefix}/bin/python"
    return f"{VENV}/bin/python"


def _conda(lock: Lock) -> dict[str, Any] | None:
    if lock.conda is None or not lock.conda.packages:
        return None
    from envbuild.render.conda import STAGED
    from envbuild.spec.conda import SYSTEM_FOLDERS

    _need(_PATH, lock.conda.prefix, "[conda] -> prefix")
    if lock.conda.prefix.rstrip("/") in SYSTEM_FOLDERS:
        raise RenderError(f"[conda] -> prefix: {lock.conda.prefix} would replace a system folder; name a folder "
                          "of its own (the default is /opt/conda)")
    names = {p.name for p in lock.conda.packages}
    if lock.python.source == "conda" and lock.python.packages and "pip" not in names:
        raise RenderError("[python] packages are installed into the conda environment with its pip, and it has none; "
                          'add "pip" to [conda] packages and run envbuild lock')
    return {"prefix": lock.conda.prefix.rstrip("/"), "packages": len(lock.conda.packages), "staged": STAGED}


APT_KEY = "/etc/apt/keyrings/envbuild-mirror.asc"  # where images keep the key of [system] signed-by


def apt_source_lines(lock: Lock) -> list[str]:
    """deb lines for the lock's sources: a snapshot archive is frozen, so its Release is never 'too old'; a mirror
    that [system] signed-by's key signs names that key (copied into the image); an insecure-unsigned lock's sources
    are trusted as they are, as the lock records."""
    if lock.system is None:
        return []
    ours = set()
    if lock.system.key:
        from envbuild.adapters.openpgp import fingerprints_of

        ours = set(fingerprints_of(lock.system.key.encode()))
    signers = {r.source: r.signer for r in lock.system.releases}
    lines = []
    for i, source in enumerate(lock.system.sources):
        parts = source.split()
        if len(parts) < 3:
            raise RenderError(f"[system] -> sources[{i}]: {source!r} is not 'URL SUITE COMPONENT...'")
        url, suite, components = parts[0], parts[1], parts[2:]
        _need(_URL, url, f"[system] -> sources[{i}] -> URL")
        for word in (suite, *components):
            _need(_SUITE, word, f"[system] -> sources[{i}]")
        options = ["check-valid-until=no"] if "snapshot.debian.org" in url else []
        signer = signers.get(f"{url} {suite}")
        if signer == "unsigned":
            options.append("trusted=yes")
        elif signer in ours:
            options.append(f"signed-by={APT_KEY}")
        lines.append(f"deb {'[' + ' '.join(options) + '] ' if options else ''}{url} {suite} {' '.join(components)}")
    return lines


def deb_file_name(name: str, version: str, architecture: str) -> str:
    """The name apt gives the downloaded .deb in /var/cache/apt/archives (the epoch's ':' becomes '%3a')."""
    return f"{name}_{version.replace(':', '%3a')}_{architecture}.deb"


def _need(pattern: re.Pattern[str], value: str, where: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RenderError(f"{where}: {value!r} is not safe to write into a build file")


# ---------------------------------------------------------------------------------------------------------
# Quoting, for the templates


def dockerfile_string(value: str) -> str:
    """A double-quoted Dockerfile word (ENV, LABEL): backslash, quote and $ are escaped; no newline reaches here."""
    if _CONTROL.search(value):
        raise RenderError(f"{value!r}: control characters cannot be written into a Dockerfile")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def shell_word(value: str) -> str:
    import shlex

    if _CONTROL.search(value):
        raise RenderError(f"{value!r}: control characters cannot be written into a shell line")
    return shlex.quote(value)
