"""Reading ``envbuild.lock``: parse it once (``parse``: tomllib, and a cache), dispatch on ``version``, validate at
the edge.

Every error names the file and the key path (``envbuild.lock: [python] -> packages[3] -> version: ...``).  A
version 1 lock (one platform, ``[target]``) is read into the same model as a version 2 lock (``[[targets]]``).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envbuild.compat import tomllib
from envbuild.errors import LockfileError, MissingLockfileVersion, UnknownLockfileVersion, unreadable_lock
from envbuild.lockfile.model import (
    LOCK_VERSION,
    READABLE_VERSIONS,
    AptRelease,
    CondaLock,
    CondaPackage,
    CudaLock,
    Lock,
    LockFile,
    SystemPackage,
    TargetLock,
)
from envbuild.lockfile.parse import apart, join, parsed
from envbuild.lockfile.records import build_image, once, platforms_of, python_lock
from envbuild.paths import LOCK_FILE
from envbuild.platforms import host
from envbuild.validate import Table


def read_lock_text(path: Path) -> str:
    """The lock file's text, for a caller that needs the bytes as well as the model (render, build)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable_lock(str(path), exc) from None


def read_lockfile(path: Path) -> LockFile:
    return loads_file(read_lock_text(path), shown=str(path))


def read_lock(path: Path, platform: str | None = None) -> Lock:
    """One platform's view of the lock at PATH (see ``choose_platform``)."""
    return loads(read_lock_text(path), shown=str(path), platform=platform)


def loads(text: str, shown: str = LOCK_FILE, platform: str | None = None) -> Lock:
    whole = loads_file(text, shown)
    return whole.view(choose_platform(whole, platform, shown))


def loads_file(text: str, shown: str = LOCK_FILE) -> LockFile:
    """The whole lock in TEXT.  Without the cyclic garbage collector meanwhile: a lock of 1,000 packages is tens of
    thousands of new objects and no cycle, on which the collector would run dozens of times for nothing (5 ms of a
    diff of two such locks, bench/diff.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return from_raw(parsed(text, shown), shown)
    finally:
        if enabled:
            gc.enable()


def loads_files(sources: Sequence[tuple[str, str]]) -> list[LockFile]:
    """The whole lock of each (text, shown) of SOURCES, read at once: while this process reads one, a child parses
    the next into the parse cache (``parse.apart``).  Two large locks never read before take 53 ms, not 73, on
    two CPUs (``bench/diff.py``).  An error is the one reading them in turn would raise first."""
    children = [None, *(apart(text) for text, _ in sources[1:])]
    out = []
    try:
        for i, (text, shown) in enumerate(sources):
            join(children[i])
            children[i] = None
            out.append(loads_file(text, shown))
    finally:
        for child in children:  # an error came first: no child is left behind
            join(child)
    return out


def from_raw(raw: dict[str, Any], shown: str = LOCK_FILE) -> LockFile:
    """The lock from its parsed TOML, by its version."""
    version = raw.get("version")
    if version is None:
        raise MissingLockfileVersion(shown)
    if version == 1 and not isinstance(version, bool):
        return _parse_v1(Table(shown, "", raw))
    if version in (2, 3, 4, 5, 6) and not isinstance(version, bool):
        return _parse_v2(Table(shown, "", raw), version)
    raise UnknownLockfileVersion(shown, version, LOCK_VERSION)


def choose_platform(whole: LockFile, platform: str | None, shown: str) -> str:
    """PLATFORM when the lock has it; without one, the lock's only platform, else this host's."""
    platforms = whole.platforms
    if platform is not None:
        if platform not in platforms:
            raise LockfileError(shown, f"has no platform {platform!r} (it holds {', '.join(platforms)})")
        return platform
    if len(platforms) == 1:
        return platforms[0]
    here = host()
    if here in platforms:
        return here
    raise LockfileError(shown, f"holds several platforms ({', '.join(platforms)}) and this host is none of them; "
                               "give --platform")


def read_spec_hash(path: Path) -> str | None:
    """Only the ``spec-hash`` of a lock (for ``lock --check``); None when the file is absent."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockfileError(str(path), f"cannot read: {exc}") from None
    except RecursionError:
        raise LockfileError(str(path), "cannot read: nested deeper than a lock can be") from None
    if "version" not in raw:
        raise MissingLockfileVersion(str(path))
    if raw["version"] not in READABLE_VERSIONS or isinstance(raw["version"], bool):
        raise UnknownLockfileVersion(str(path), raw["version"], LOCK_VERSION)
    value = raw.get("spec-hash")
    if not isinstance(value, str):
        raise LockfileError(str(path), "spec-hash: missing or not a string")
    return value


# --------------------------------------------------------------------------------------------------------
# Version 2: [[targets]], records with platforms


def _parse_v2(top: Table, version: int = 2) -> LockFile:
    """Versions 2 and 3 (which adds [targets] apt-releases)."""
    top.get("version")
    spec_hash, name = top.required("spec-hash"), top.required("name")
    targets = []
    for t in top.tables("targets"):
        cuda = _cuda(t.table("cuda")) if t.raw.get("cuda") is not None else None
        targets.append(TargetLock(
            platform=_platform(t), distro=t.word("distro"),
            python_platform=t.word("python-platform"), python_version=t.word("python"),
            python_source=t.word("python-source"), base_digest=_digest(t, "base-image-digest"),
            base_packages=_name_versions(t, "base-image-packages") if "base-image-packages" in t.raw else None,
            apt_sources=t.strings("apt-sources") if "apt-sources" in t.raw else None, cuda=cuda,
            apt_releases=_releases(t) if version >= 3 else (),
            build_image=build_image(t, _digest) if version >= 6 else None))
        t.get("cuda")
        t.done()
    if not targets:
        raise top.error(["targets"], "lists no platform")
    platforms = [t.platform for t in targets]
    if len(set(platforms)) != len(platforms):
        raise top.error(["targets"], f"names a platform twice ({', '.join(platforms)})")
    base_reference = None
    if top.raw.get("base-image") is not None:
        b = top.table("base-image")
        base_reference = b.required_word("reference")
        b.done()
    else:
        top.get("base-image")
    python = python_lock(top.table("python"), platforms)
    system = None
    apt_key = None
    if top.raw.get("system") is not None:
        s = top.table("system")
        system = tuple(_system_package(p, platforms) for p in s.tables("packages"))
        once(system, lambda p: f"{p.name}:{p.architecture}", platforms, s, "packages")
        if version >= 3:
            apt_key = s.lines("signed-by")  # the armored key: a file in the image, never a line of one
        s.done()
    else:
        top.get("system")
    conda = _conda(top.table("conda"), platforms) if top.raw.get("conda") is not None else None
    top.get("conda")
    env, ignore = _env_and_check(top)
    image_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if version >= 5:
        from envbuild.layerplan import parse_layers

        image_layers = parse_layers(top.table("image"))
    top.done()
    return LockFile(spec_hash=spec_hash, name=name, targets=tuple(sorted(targets, key=lambda t: t.platform)),
                    python=python, env=env, ignore_extra=ignore, system=system, base_reference=base_reference,
                    version=version, conda=conda, apt_key=apt_key, image_layers=image_layers)


def _releases(t: Table) -> tuple[AptRelease, ...]:
    out = []
    for r in t.tables("apt-releases") if "apt-releases" in t.raw else ():
        out.append(AptRelease(source=r.required("source"), date=r.string("date") or "", signer=r.required("signer")))
        r.done()
    return tuple(out)


def _conda(c: Table, platforms: list[str]) -> CondaLock:
    packages = []
    for p in c.tables("packages"):
        size = p.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise p.error(["size"], f"must be a size in bytes, not {size!r}")
        packages.append(CondaPackage(
            name=p.required_word("name"), version=p.required_word("version"),
            build=p.required_word("build"), build_number=p.integer("build-number"),
            subdir=p.required_word("subdir"), channel=p.required_word("channel"),
            url=p.required_word("url"), sha256=_hex(p, "sha256", 64), md5=_hex(p, "md5", 32), size=size,
            depends=p.strings("depends"), constrains=p.strings("constrains"), noarch=p.string("noarch"),
            license=p.string("license"), platforms=platforms_of(p, platforms), requested=p.boolean("requested")))
        p.done()
    prefix = c.required("prefix")
    if not prefix.startswith("/"):
        raise c.error(["prefix"], f"{prefix!r} is not an absolute path")
    once(packages, lambda p: f"{p.name} ({p.subdir})", platforms, c, "packages")
    conda = CondaLock(channels=c.words("channels"), prefix=prefix, packages=tuple(packages),
                      cuda=c.string("cuda"))
    c.done()
    return conda


_LOWER_HEX = frozenset("0123456789abcdef")


def _hex(table: Table, key: str, length: int) -> str:
    value = table.required(key)
    if len(value) != length or not _LOWER_HEX.issuperset(value):
        raise table.error([key], f"must be {length} lowercase hex digits")
    return value


def _system_package(p: Table, platforms: list[str]) -> SystemPackage:
    package = SystemPackage(name=p.required_word("name"), version=p.required_word("version"),
                            architecture=p.required_word("architecture"), sha256=_hex(p, "sha256", 64),
                            platforms=platforms_of(p, platforms), requested=p.boolean("requested"),
                            via=p.words("via"))
    p.done()
    return package


def _cuda(c: Table) -> CudaLock:
    cuda = CudaLock(runtime=c.required("runtime"), min_driver=c.required("min-driver"), cudnn=c.string("cudnn"),
                    nccl=c.string("nccl"), toolkit_driver=c.string("toolkit-driver"))
    c.done()
    return cuda


def _name_versions(table: Table, key: str) -> tuple[tuple[str, str], ...]:
    """``["adduser=3.134", ...]`` as sorted (name, version) pairs."""
    out = []
    for i, item in enumerate(table.strings(key)):
        name, sep, version = item.partition("=")
        if not sep or not name or not version:
            raise table.error([key, i], f"{item!r} is not NAME=VERSION")
        out.append((name, version))
    return tuple(sorted(out))


def _env_and_check(top: Table) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    env = top.table("env").variables()  # names of variables, values of one printable line
    chk = top.table("check")
    ignore = chk.words("ignore-extra")
    chk.done()
    return env, ignore


def _digest(t: Table, key: str) -> str | None:
    """A sha256 digest (``sha256:`` and 64 lowercase hex digits), or None when absent."""
    value = t.word(key)
    if value is not None and (not value.startswith("sha256:") or len(value) != 71
                              or not _LOWER_HEX.issuperset(value[7:])):
        raise t.error([key], f"{value!r} is not a sha256 digest (sha256: and 64 lowercase hex digits)")
    return value


def _platform(t: Table) -> str:
    """A target's platform: one envbuild knows (a lock from elsewhere, or edited, may name any)."""
    from envbuild.platforms import PLATFORMS

    value = t.required("platform")
    if value not in PLATFORMS:
        raise t.error(["platform"], f"{value!r} is not a platform envbuild knows ({', '.join(PLATFORMS)})")
    return value


# --------------------------------------------------------------------------------------------------------
# Version 1: one platform, [target]


def _parse_v1(top: Table) -> LockFile:
    top.get("version")
    spec_hash, name = top.required("spec-hash"), top.required("name")
    t = top.table("target")
    platform = _platform(t)
    distro, python_platform = t.string("distro"), t.string("python-platform")
    t.done()
    base_reference = base_digest = None
    if top.raw.get("base-image") is not None:
        b = top.table("base-image")
        base_reference, base_digest = b.required("reference"), b.required("digest")
        b.done()
    else:
        top.get("base-image")
    py = top.table("python")
    version, source = py.string("version"), py.string("source")
    python = python_lock(py, [platform])
    sources, system = None, None
    if top.raw.get("system") is not None:
        s = top.table("system")
        sources = s.strings("sources")
        system = tuple(_system_package(p, [platform]) for p in s.tables("packages"))
        once(system, lambda p: f"{p.name}:{p.architecture}", [platform], s, "packages")
        s.done()
    else:
        top.get("system")
    cuda = _cuda(top.table("cuda")) if top.raw.get("cuda") is not None else None
    top.get("cuda")
    env, ignore = _env_and_check(top)
    top.done()
    target = TargetLock(platform=platform, distro=distro, python_platform=python_platform, python_version=version,
                        python_source=source, base_digest=base_digest, apt_sources=sources, cuda=cuda)
    return LockFile(spec_hash=spec_hash, name=name, targets=(target,), python=python, env=env, ignore_extra=ignore,
                    system=system, base_reference=base_reference, version=1)
