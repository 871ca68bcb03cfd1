"""``envbuild.lock``: the lock's data model, its reader (dispatching on ``version``) and its writer.

The writer is deterministic: a fixed table order, sorted packages, sorted hashes, and nothing that depends
on the host (no timestamps, absolute paths, host names or credentials).  The same ``Lock`` always gives the
same bytes, and ``dumps(loads(dumps(lock))) == dumps(lock)``.

Writing is atomic (a temporary file in the same directory, fsync, rename) and serialised between processes
with ``flock``, so a failed, killed or concurrent ``envbuild lock`` never leaves a half-written lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envbuild.compat import tomllib
from envbuild.errors import ConfigError, EnvbuildError, LockfileError, MissingLockfileVersion, UnknownLockfileVersion
from envbuild.validate import Table

LOCK_VERSION = 2  # 2: [base-image] packages (what the base image holds, for a strict check of the image)
READABLE_VERSIONS = (1, 2)
LOCK_FILE = "envbuild.lock"


@dataclass(frozen=True)
class PythonFile:
    """One distribution file of a pinned package, for the target platform."""

    name: str  # the file name: numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
    url: str  # credential-free
    hash: str  # "sha256:<hex>"


@dataclass(frozen=True)
class PythonPackage:
    name: str  # normalised (PEP 503)
    version: str
    hashes: tuple[str, ...]  # sorted "sha256:<hex>"
    files: tuple[PythonFile, ...] = ()  # sorted by name; empty when the resolver reports no URLs (pip-tools)


@dataclass(frozen=True)
class PythonLock:
    requested: str  # the spec's python = "3.11"
    resolver: str
    index_url: str  # as the spec writes it: ${VAR} placeholders kept, never credentials
    extra_index_urls: tuple[str, ...] = ()
    packages: tuple[PythonPackage, ...] = ()  # sorted by name
    version: str | None = None  # the exact interpreter, once the target's interpreter is resolved
    source: str | None = None  # "system" | "image"

    def by_name(self) -> dict[str, PythonPackage]:
        return {p.name: p for p in self.packages}

    @property
    def target_version(self) -> str:
        """The interpreter the lock is for: its exact version once resolved, else the one the spec asked for."""
        return self.version or self.requested


@dataclass(frozen=True)
class Target:
    platform: str
    distro: str | None = None  # "debian:12"
    python_platform: str | None = None  # the wheel platform the Python pins were resolved for


@dataclass(frozen=True)
class SystemPackage:
    name: str
    version: str
    architecture: str
    sha256: str


@dataclass(frozen=True)
class SystemLock:
    sources: tuple[str, ...]  # apt source lines without "deb": "URL SUITE COMPONENT..."
    packages: tuple[SystemPackage, ...] = ()  # the closure not already in the base image, sorted by name

    def by_name(self) -> dict[str, SystemPackage]:
        return {p.name: p for p in self.packages}


@dataclass(frozen=True)
class CudaLock:
    runtime: str  # cudart version, e.g. "12.4.127"
    min_driver: str  # lowest driver that runs it (minor-version compatibility)
    cudnn: str | None = None
    nccl: str | None = None
    toolkit_driver: str | None = None  # the driver shipped with that toolkit release (runs all of it)


@dataclass(frozen=True)
class BaseImage:
    reference: str  # as the spec wrote it
    digest: str  # the platform manifest's digest
    packages: tuple[tuple[str, str], ...] | None = None  # its dpkg (name, version), sorted; None in a version 1 lock


@dataclass(frozen=True)
class Lock:
    spec_hash: str
    name: str
    target: Target
    python: PythonLock
    env: tuple[tuple[str, str], ...] = ()  # sorted by name
    ignore_extra: tuple[str, ...] = ()  # [check] ignore-extra, carried so that a check needs only the lock
    cuda: CudaLock | None = None  # absent when there is no CUDA in the environment
    system: SystemLock | None = None  # absent when the target's distribution is not resolved
    base_image: BaseImage | None = None  # absent for a bare-metal target
    version: int = LOCK_VERSION


# --------------------------------------------------------------------------------------------------------
# Reading


def read_lock(path: Path) -> Lock:
    return loads(read_lock_text(path), shown=str(path))


def read_lock_text(path: Path) -> str:
    """The lock file's text, for a caller that needs the bytes as well as the model (render, build)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockfileError(str(path), "no such lock (create it with envbuild lock)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(str(path), f"cannot read: {exc}") from None


def loads(text: str, shown: str = LOCK_FILE) -> Lock:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(shown, f"not valid TOML ({exc}); regenerate it with envbuild lock") from None
    return from_raw(raw, shown)


def from_raw(raw: dict[str, Any], shown: str = LOCK_FILE) -> Lock:
    """The lock from its parsed TOML (for a caller that has parsed it already), by its version."""
    version = raw.get("version")
    if version is None:
        raise MissingLockfileVersion(shown)
    if version in READABLE_VERSIONS and not isinstance(version, bool):
        return _parse(raw, shown, version)
    raise UnknownLockfileVersion(shown, version, LOCK_VERSION)


def read_spec_hash(path: Path) -> str | None:
    """Only the ``spec-hash`` of a lock (for ``lock --check``); None when the file is absent."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockfileError(str(path), f"cannot read: {exc}") from None
    if "version" not in raw:
        raise MissingLockfileVersion(str(path))
    if raw["version"] not in READABLE_VERSIONS or isinstance(raw["version"], bool):
        raise UnknownLockfileVersion(str(path), raw["version"], LOCK_VERSION)
    value = raw.get("spec-hash")
    if not isinstance(value, str):
        raise LockfileError(str(path), "spec-hash: missing or not a string")
    return value


def _parse(raw: dict[str, Any], shown: str, version: int) -> Lock:
    """Versions 1 and 2: version 2 adds ``[base-image] packages``."""
    top = Table(shown, "", raw)
    top.get("version")
    spec_hash = top.required("spec-hash")
    name = top.required("name")
    t = top.table("target")
    target = Target(platform=t.required("platform"), distro=t.string("distro"),
                    python_platform=t.string("python-platform"))
    t.done()
    base_image = None
    if top.raw.get("base-image") is not None:
        b = top.table("base-image")
        base_image = BaseImage(reference=b.required("reference"), digest=b.required("digest"),
                               packages=_name_versions(b, "packages") if version >= 2 else None)
        b.done()
    else:
        top.get("base-image")
    py = top.table("python")
    packages = []
    for p in py.tables("packages"):
        files = []
        for f in p.tables("files"):
            files.append(PythonFile(name=f.required("name"), url=f.required("url"), hash=f.required("hash")))
            f.done()
        packages.append(PythonPackage(name=p.required("name"), version=p.required("version"),
                                      hashes=p.strings("hashes"), files=tuple(files)))
        p.done()
    python = PythonLock(requested=py.required("requested"), resolver=py.required("resolver"),
                        index_url=py.required("index-url"), extra_index_urls=py.strings("extra-index-urls"),
                        packages=tuple(packages), version=py.string("version"), source=py.string("source"))
    py.done()
    system = None
    if top.raw.get("system") is not None:
        s = top.table("system")
        sys_packages = []
        for p in s.tables("packages"):
            sys_packages.append(SystemPackage(name=p.required("name"), version=p.required("version"),
                                              architecture=p.required("architecture"), sha256=p.required("sha256")))
            p.done()
        system = SystemLock(sources=s.strings("sources"), packages=tuple(sys_packages))
        s.done()
    else:
        top.get("system")
    cuda = None
    if top.raw.get("cuda") is not None:
        c = top.table("cuda")
        cuda = CudaLock(runtime=c.required("runtime"), min_driver=c.required("min-driver"), cudnn=c.string("cudnn"),
                        nccl=c.string("nccl"), toolkit_driver=c.string("toolkit-driver"))
        c.done()
    else:
        top.get("cuda")
    env_raw = top.get("env") or {}
    if not isinstance(env_raw, dict) or not all(isinstance(v, str) for v in env_raw.values()):
        raise ConfigError(shown, "[env]", "must be a table of strings")
    chk = top.table("check")
    ignore = chk.strings("ignore-extra")
    chk.done()
    top.done()
    return Lock(spec_hash=spec_hash, name=name, target=target, python=python,
                env=tuple(sorted(env_raw.items())), ignore_extra=ignore, cuda=cuda, system=system,
                base_image=base_image, version=version)


def _name_versions(table: Table, key: str) -> tuple[tuple[str, str], ...]:
    """``["adduser=3.134", ...]`` as sorted (name, version) pairs."""
    out = []
    for i, item in enumerate(table.strings(key)):
        name, sep, version = item.partition("=")
        if not sep or not name or not version:
            raise table.error([key, i], f"{item!r} is not NAME=VERSION")
        out.append((name, version))
    return tuple(sorted(out))


# --------------------------------------------------------------------------------------------------------
# Writing


def header(regenerate: str) -> str:
    return (
        "# This file is generated by envbuild. Do not edit it by hand.\n"
        f"# Regenerate it with: {regenerate}\n"
    )


def dumps(lock: Lock, regenerate: str = "envbuild lock") -> str:
    """The lock as TOML text: deterministic, with the "generated, regenerate with" header."""
    import tomlkit

    doc = tomlkit.document()
    doc.add("version", lock.version)
    doc.add("spec-hash", lock.spec_hash)
    doc.add("name", lock.name)
    target = tomlkit.table()
    target.add("platform", lock.target.platform)
    _add_optional(target, "distro", lock.target.distro)
    _add_optional(target, "python-platform", lock.target.python_platform)
    doc.add("target", target)
    if lock.base_image is not None:
        image = tomlkit.table()
        image.add("reference", lock.base_image.reference)
        image.add("digest", lock.base_image.digest)
        if lock.version >= 2 and lock.base_image.packages is not None:
            image.add("packages", _string_array([f"{n}={v}" for n, v in sorted(lock.base_image.packages)],
                                                multiline=True))
        doc.add("base-image", image)
    doc.add("python", _python_table(lock.python))
    if lock.system is not None:
        doc.add("system", _system_table(lock.system))
    if lock.cuda is not None:
        doc.add("cuda", _cuda_table(lock.cuda))
    env = tomlkit.table()
    for key, value in sorted(lock.env):
        env.add(key, value)
    doc.add("env", env)
    check = tomlkit.table()
    check.add("ignore-extra", _string_array(sorted(lock.ignore_extra)))
    doc.add("check", check)
    return header(regenerate) + tomlkit.dumps(doc)


def _python_table(python: PythonLock) -> Any:
    import tomlkit

    py = tomlkit.table()
    _add_optional(py, "version", python.version)
    _add_optional(py, "source", python.source)
    py.add("requested", python.requested)
    py.add("resolver", python.resolver)
    py.add("index-url", python.index_url)
    py.add("extra-index-urls", _string_array(python.extra_index_urls))
    packages = tomlkit.aot()
    for pkg in sorted(python.packages, key=lambda p: p.name):
        item = tomlkit.table()
        item.add("name", pkg.name)
        item.add("version", pkg.version)
        item.add("hashes", _string_array(sorted(pkg.hashes), multiline=True))
        if pkg.files:
            files = tomlkit.array()
            for f in sorted(pkg.files, key=lambda f: f.name):
                inline = tomlkit.inline_table()
                inline.update({"name": f.name, "url": f.url, "hash": f.hash})
                files.append(inline)
            files.multiline(True)
            item.add("files", files)
        packages.append(item)
    py.add("packages", packages)
    return py


def _system_table(lock: SystemLock) -> Any:
    import tomlkit

    system = tomlkit.table()
    system.add("sources", _string_array(lock.sources, multiline=True))
    packages = tomlkit.aot()
    for sp in sorted(lock.packages, key=lambda p: p.name):
        entry = tomlkit.table()
        entry.add("name", sp.name)
        entry.add("version", sp.version)
        entry.add("architecture", sp.architecture)
        entry.add("sha256", sp.sha256)
        packages.append(entry)
    system.add("packages", packages)
    return system


def _cuda_table(lock: CudaLock) -> Any:
    import tomlkit

    cuda = tomlkit.table()
    cuda.add("runtime", lock.runtime)
    _add_optional(cuda, "cudnn", lock.cudnn)
    _add_optional(cuda, "nccl", lock.nccl)
    cuda.add("min-driver", lock.min_driver)
    _add_optional(cuda, "toolkit-driver", lock.toolkit_driver)
    return cuda


def _add_optional(table: Any, key: str, value: str | None) -> None:
    if value is not None:
        table.add(key, value)


def _string_array(values: Any, *, multiline: bool = False) -> Any:
    import tomlkit

    array = tomlkit.array()
    array.extend(list(values))
    array.multiline(multiline and len(array) > 0)
    return array


def strip_credentials(url: str) -> str:
    """Drop any user:password@ from a URL (resolvers may echo an authenticated URL back)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on the lock's directory, so two ``envbuild lock`` runs do not interleave.

    The second run waits; both then write whole files.  Where the filesystem has no flock, it goes on
    without one (the rename is still atomic).
    """
    import fcntl

    directory = lock_path.parent
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        _remove_stale_temporaries(lock_path)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _remove_stale_temporaries(lock_path: Path) -> None:
    """Temporary files left by a killed run (only called while holding the directory lock)."""
    for stale in lock_path.parent.glob(f".{lock_path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def write_atomic(path: Path, text: str) -> bool:
    """Replace PATH with TEXT atomically.  Returns False (and leaves the file alone) when it already holds TEXT.

    Any failure (no such directory, no permission, a full disk) leaves the old file as it was and is raised
    as an ``EnvbuildError`` naming the path.
    """
    try:
        return _write_atomic(path, text)
    except OSError as exc:
        raise EnvbuildError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _write_atomic(path: Path, text: str) -> bool:
    import tempfile

    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


@dataclass(frozen=True)
class LockDiff:
    added: tuple[tuple[str, str], ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    changed: tuple[tuple[str, str, str], ...] = ()  # name, old, new
    rehashed: tuple[str, ...] = field(default=())  # same version, other files/hashes (a re-upload!)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.rehashed)


def diff_python(old: PythonLock | None, new: PythonLock) -> LockDiff:
    before = old.by_name() if old else {}
    after = new.by_name()
    return _diff({n: (p.version, p.hashes) for n, p in before.items()},
                 {n: (p.version, p.hashes) for n, p in after.items()})


def diff_system(old: SystemLock | None, new: SystemLock | None) -> LockDiff:
    before = old.by_name() if old else {}
    after = new.by_name() if new else {}
    return _diff({n: (p.version, (p.sha256,)) for n, p in before.items()},
                 {n: (p.version, (p.sha256,)) for n, p in after.items()})


def _diff(before: dict[str, tuple[str, tuple[str, ...]]], after: dict[str, tuple[str, tuple[str, ...]]]) -> LockDiff:
    """Pins (name -> (version, hashes)) before and after."""
    added = tuple((n, after[n][0]) for n in sorted(set(after) - set(before)))
    removed = tuple((n, before[n][0]) for n in sorted(set(before) - set(after)))
    both = sorted(set(before) & set(after))
    changed = tuple((n, before[n][0], after[n][0]) for n in both if before[n][0] != after[n][0])
    rehashed = tuple(n for n in both if before[n][0] == after[n][0] and before[n][1] != after[n][1])
    return LockDiff(added=added, removed=removed, changed=changed, rehashed=rehashed)
