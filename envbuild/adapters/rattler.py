"""py-rattler, in-process (the extra ``envbuild[conda]``): conda channels, the solver and the installer.

No conda, mamba or micromamba executable is needed (none installs on most build hosts).  The solve is for the
*target*: its subdir and the virtual packages of the target (``__glibc`` of its distro, ``__cuda`` of its driver),
never the host's.  Records go in and out as ``CondaPackage`` (credential-free); credentials live only in the
expanded channel URLs handed to the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envbuild.errors import EnvbuildError, ResolutionError

if TYPE_CHECKING:  # the lock's model loads with the records, not before: prefetch starts before it is imported
    from envbuild.lockfile import CondaPackage

NAME = "conda (py-rattler)"


class CondaMissing(EnvbuildError):
    def __init__(self) -> None:
        super().__init__("the spec has [conda], which needs py-rattler: pip install 'envbuild[conda]'")


def prefetch(channels: Sequence[str], specs: Sequence[str], subdirs: Sequence[str],
             cache_dir: Path | None) -> threading.Thread:
    """Start reading CHANNELS' repodata for SPECS and what they depend on (SUBDIRS and noarch) into the process's
    gateway for CACHE_DIR, in a thread, and return it.  A solve that follows finds the records there, or joins the
    reads still under way (the gateway coalesces them): reading and parsing the repodata is most of a solve, and it
    runs without the GIL, beside the lock's own work.  Errors are left to that solve, which meets them again."""
    rattler = _rattler()
    gateway = _gateway(rattler, cache_dir)

    def read() -> None:
        with contextlib.suppress(Exception):  # the solve meets the same error and reports it
            asyncio.run(gateway.query(list(channels), [*subdirs, "noarch"], list(specs), recursive=True))

    thread = threading.Thread(target=read, name="conda-prefetch", daemon=True)
    thread.start()
    return thread


def _rattler() -> Any:
    try:
        import rattler
    except ImportError:
        raise CondaMissing from None
    return rattler


@dataclass(frozen=True)
class SolveRequest:
    channels: tuple[str, ...]  # names or URLs, credentials expanded
    specs: tuple[str, ...]  # MatchSpecs
    subdir: str  # the target's: linux-64, linux-aarch64, osx-arm64
    virtual_packages: tuple[tuple[str, str, str], ...]  # (name, version, build) of the target
    preferences: tuple[CondaPackage, ...] = ()  # the previous lock's records, kept where the specs allow
    cache_dir: Path | None = None  # repodata cache


def solve(request: SolveRequest) -> list[CondaPackage]:
    """The records the solver chooses for REQUEST, sorted by name."""
    rattler = _rattler()
    from rattler.exceptions import GatewayError, SolverError  # type: ignore[import-not-found,unused-ignore]

    virtual = [rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
               for n, v, b in request.virtual_packages]
    locked = [_record(rattler, p, {}) for p in request.preferences]

    def run(gateway: Any) -> Any:
        return asyncio.run(rattler.solve(
            list(request.channels), list(request.specs), gateway=gateway, platforms=[request.subdir, "noarch"],
            virtual_packages=virtual, locked_packages=locked or None))

    try:
        try:
            records = run(_gateway(rattler, request.cache_dir))
        except GatewayError as exc:
            if "304" not in str(exc):
                raise
            # a server that answers 304 without a validator (Python's http.server, for sharded repodata) to the
            # If-Modified-Since of a cached copy: rattler refuses the answer (conda/rattler#2719), so read the
            # channels again without the cache
            records = run(_gateway(rattler, request.cache_dir, cached=False))
    except SolverError as exc:
        raise ResolutionError(NAME, _trim(str(exc))) from None
    except GatewayError as exc:
        from envbuild.lockfile import strip_credentials_in

        raise EnvbuildError(f"cannot read the conda channels ({_trim(strip_credentials_in(str(exc)))})") from None
    except ValueError as exc:  # a MatchSpec or channel rattler cannot parse
        raise ResolutionError(NAME, _trim(str(exc))) from None
    return _packages(records)


_GATEWAYS: dict[tuple[Path | None, bool], Any] = {}
_GATEWAYS_LOCK = threading.Lock()


def _gateway(rattler: Any, cache_dir: Path | None, *, cached: bool = True) -> Any:
    """The process's one gateway for CACHE_DIR, as py-rattler means a gateway to be used: it is thread-safe,
    coalesces concurrent requests for a channel, and keeps the repodata it read in memory, so the platforms of one
    lock (solved at once, in threads) read the shared noarch subdir once.  It lives to the end of the process,
    which also keeps the release of its memory (20 ms for 20,000 records) off the lock's critical path.
    CACHED false: one that fetches every file again (and still writes the cache)."""
    with _GATEWAYS_LOCK:
        if (cache_dir, cached) not in _GATEWAYS:
            config = None if cached else rattler.SourceConfig(cache_action="no-cache")
            _GATEWAYS[cache_dir, cached] = rattler.Gateway(cache_dir=str(cache_dir) if cache_dir else None,
                                                          default_config=config)
        return _GATEWAYS[cache_dir, cached]


def install(packages: Sequence[CondaPackage], prefix: Path, *, subdir: str, credentials: Mapping[str, str],
            as_prefix: str | None = None, cache_dir: Path | None = None) -> None:
    """Make PREFIX hold exactly PACKAGES (install, update and remove), verifying each archive's sha256.

    AS_PREFIX: the path the environment will live at (an image's /opt/conda), patched into its files while they
    are written under PREFIX.  CREDENTIALS: channel base URL (credential-free) -> the same URL with credentials.
    Link scripts never run (they are arbitrary code)."""
    rattler = _rattler()
    records = [_record(rattler, p, credentials) for p in packages]
    installed = [rattler.PrefixRecord.from_path(str(path)) for path in sorted((prefix / "conda-meta").glob("*.json"))]
    try:
        asyncio.run(rattler.install(
            records, str(prefix), cache_dir=str(cache_dir) if cache_dir else None, installed_packages=installed,
            platform=rattler.Platform(subdir), execute_link_scripts=False, show_progress=False,
            alternative_target_prefix=as_prefix))
    except Exception as exc:  # rattler raises its own kinds for downloads, hashes and links; all are the same news
        from envbuild.lockfile import strip_credentials_in

        raise EnvbuildError(f"could not install the conda packages into {prefix}: "
                            f"{_trim(strip_credentials_in(str(exc)))}") from None


def _record(rattler: Any, p: CondaPackage, credentials: Mapping[str, str]) -> Any:
    package = rattler.PackageRecord(
        name=p.name, version=p.version, build=rattler.BuildString(p.build), build_number=p.build_number,
        subdir=p.subdir, noarch=p.noarch, depends=list(p.depends), constrains=list(p.constrains),
        sha256=bytes.fromhex(p.sha256), md5=bytes.fromhex(p.md5), size=p.size, license=p.license)
    url = p.url
    for bare, full in credentials.items():
        if url.startswith(bare):
            url = full + url[len(bare):]
            break
    return rattler.RepoDataRecord(package, p.file_name, url, credentials.get(p.channel, p.channel))


def _packages(records: Sequence[Any]) -> list[CondaPackage]:
    """RECORDS (rattler's) as the lock's credential-free records, sorted by name."""
    from envbuild.lockfile import CondaPackage, strip_credentials

    out = []
    for record in records:
        noarch = record.noarch
        out.append(CondaPackage(
            name=record.name.normalized, version=str(record.version), build=str(record.build),
            build_number=int(record.build_number), subdir=str(record.subdir),
            channel=strip_credentials(str(record.channel)), url=strip_credentials(str(record.url)),
            sha256=record.sha256.hex() if record.sha256 else "", md5=record.md5.hex() if record.md5 else "",
            size=record.size, depends=tuple(record.depends), constrains=tuple(record.constrains),
            noarch="python" if noarch.python else "generic" if noarch.generic else None,
            license=record.license or None))
    return sorted(out, key=lambda p: p.name)


def _trim(message: str) -> str:
    """rattler's message on one line: its lines joined, the 'Cannot solve the request because of:' preamble
    kept short."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = " ".join(lines)
    return text.replace("Cannot solve the request because of: ", "").rstrip(".") + "."
