"""``envbuild build``: render the lock, build it, check the new image against its own lock, push or write it out.

The engine is buildah (or podman) or the Docker engine's BuildKit (``build.engines``): one that builds
reproducibly when one is installed, so the same lock gives the same image digest (SOURCE_DATE_EPOCH comes from
the lock).  ``--check-reproducible`` builds twice, the second time on a storage root of its own with no cache,
and compares (``build.compare``).

The tag defaults to ``NAME:<first 12 hex of the lock's sha256>``, so the same lock gives the same tag.  The host's
CA bundle (``SSL_CERT_FILE``, ``PIP_CERT``, ``REQUESTS_CA_BUNDLE``: the corporate-proxy case), a netrc and the
``${VAR}`` credentials of the index URLs go to the build as secrets, and proxy variables as build arguments that
the engine keeps out of the image history; none of them reaches a layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envbuild.build.clock import StageClock
from envbuild.build.compare import Comparison
from envbuild.errors import BuildError
from envbuild.lockfile import Lock

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy")
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")

@dataclass(frozen=True)
class BuildResult:
    tag: str
    image_id: str
    size: int  # bytes
    seconds: float
    stages: tuple[tuple[str, float, int, int], ...]  # stage, seconds, steps run, steps from cache
    report: dict[str, Any] | None = None  # the in-image check (schema 1), None with --no-verify
    pushed: str | None = None  # the digest the registry reported
    secrets: tuple[str, ...] = field(default=())  # the ids of the secrets given to the build
    engine: str = "docker"
    engine_says: str = ""  # which engine, why, and whether its digest is reproducible
    reproducible: bool = False  # the engine builds the same digest from the same lock
    epoch: int = 0  # SOURCE_DATE_EPOCH, from the lock
    comparison: Comparison | None = None  # --check-reproducible
    output: tuple[str, str] | None = None  # --output: (destination, digest)
    emulated: str | None = None  # one line when the platform's programs ran under emulation

    @property
    def verified(self) -> bool:
        return self.report is None or bool(self.report.get("ok"))


def default_tag(lock: Lock, lock_bytes: bytes) -> str:
    """NAME:<12 hex of the lock's sha256>, with the architecture appended for a lock of several platforms."""
    repository = re.sub(r"[^a-z0-9._-]+", "-", lock.name.lower()).strip("._-") or "envbuild"
    suffix = f"-{lock.target.platform.rsplit('/', 1)[1]}" if len(lock.platforms) > 1 else ""
    return f"{repository}:{hashlib.sha256(lock_bytes).hexdigest()[:12]}{suffix}"


def tag_for(lock: Lock, lock_bytes: bytes, tag: str | None) -> str:
    """TAG as given; a TAG without a version gets the lock's hash; no TAG gives the default."""
    if tag is None:
        return default_tag(lock, lock_bytes)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", tag) or tag.endswith((":", "/")):
        raise BuildError(f"-t {tag!r}: not a valid image reference ([REGISTRY/]NAME[:TAG], lower case)")
    if ":" not in tag.rsplit("/", 1)[-1]:
        tag += ":" + default_tag(lock, lock_bytes).rsplit(":", 1)[1]
    return tag


def _has_registry(tag: str) -> bool:
    first = tag.split("/", 1)[0]
    return "/" in tag and ("." in first or ":" in first or first == "localhost")


def secrets_for(lock: Lock, environ: Mapping[str, str], scratch: Path) -> dict[str, Path]:
    """The BuildKit secrets (id -> file) for this lock, from the environment; index-env is written into
    SCRATCH (mode 0600), which the caller deletes."""
    import shlex

    secrets: dict[str, Path] = {}
    for name in CA_VARIABLES:
        value = environ.get(name)
        if value and Path(value).is_file():
            secrets["ca"] = Path(value)
            break
    netrc = Path(environ["NETRC"]) if environ.get("NETRC") else Path.home() / ".netrc"
    if netrc.is_file():
        secrets["netrc"] = netrc
    from envbuild.spec import placeholders

    urls = (lock.python.index_url, *lock.python.extra_index_urls, *(i.url for i in lock.python.indexes))
    names = sorted({m for url in urls for m in placeholders(url)})  # named indexes' too, as lock and sync expand
    missing = [n for n in names if n not in environ]
    if missing:
        raise BuildError(f"the index URL needs ${{{missing[0]}}}: set {', '.join(missing)} in the environment "
                         "(it goes to the build as a secret, never into the image)")
    for name in names:  # the value is a secret: never said
        if not environ[name].isprintable() or " " in environ[name]:
            raise BuildError(f"${{{name}}} holds a space or a line break, which would make an index URL more than "
                             "one word of a requirements file; percent-encode it")
    if names:
        path = scratch / "index-env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"export {n}={shlex.quote(environ[n])}\n" for n in names)
        secrets["index-env"] = path
    return secrets


def build(lock_path: Path, *, tag: str | None = None, push: bool = False, verify: bool = True,
          platform: str | None = None, templates: Path | None = None, engine: str | None = None,
          no_cache: bool = False, check_reproducible: bool = False, output: str | None = None,
          on_line: Callable[[str], None] = lambda _: None) -> BuildResult:
    """Build the image of LOCK_PATH's PLATFORM (default: its only platform, else this host's)."""
    from envbuild import lockfile
    from envbuild.build import engines
    from envbuild.render import render
    from envbuild.render.context import source_date_epoch

    lock_text = lockfile.read_lock_text(lock_path)
    lock = lockfile.loads(lock_text, shown=str(lock_path), platform=platform)
    lock_bytes = lock_text.encode()
    final_tag = tag_for(lock, lock_bytes, tag)
    if push and not _has_registry(final_tag):
        raise BuildError(f"--push needs a tag that names a registry (-t registry.example.com/team/{lock.name}); "
                         f"{final_tag!r} would go to Docker Hub's library")
    destination = _output(output)
    from envbuild.build.emulation import require

    emulated = require(lock.target.platform)  # another CPU: its binfmt handler, before any work
    chosen = engines.choose(engine)  # before any work: no engine is the first thing to say
    if check_reproducible and chosen.engine.name == "docker":  # the second build needs a storage root of its own
        why = "" if chosen.reproducible else " (and this one's BuildKit, older than 0.13, cannot build reproducibly)"
        raise BuildError(f"--check-reproducible builds the second time on a storage root of its own, which the "
                         f"Docker engine has not{why}; use --engine buildah (apt-get install buildah)")
    if destination is not None and chosen.engine.name == "docker" and not destination.startswith("docker-archive:"):
        raise BuildError(f"--output {output}: the Docker engine writes docker-archive:FILE only; an OCI archive or "
                         "layout needs --engine buildah (or podman)")
    base = lock.base_image.reference if lock.base_image is not None else ""
    epoch = source_date_epoch(lock)
    started = time.monotonic()
    comparison = None
    stages = StageClock()
    with tempfile.TemporaryDirectory(prefix="envbuild-build-") as scratch:
        context = Path(scratch) / "context"
        render(lock_path, context, "dockerfile", templates, platform=lock.target.platform)
        _settle(context, epoch)
        secrets = secrets_for(lock, os.environ, Path(scratch))
        build_args = [name for name in PROXY_VARIABLES if name in os.environ]

        def run(on: Any, tag_: str, quiet: bool = False, fresh: bool = False) -> str:
            return str(on.build(context, tag_, secrets=secrets, build_args=build_args, epoch=epoch, base=base,
                                on_line=(lambda _: None) if quiet else on_line, no_cache=no_cache or fresh,
                                platform=platform, stages=None if quiet else stages))

        image_id = run(chosen.engine, final_tag, fresh=check_reproducible)
        seconds = time.monotonic() - started
        if check_reproducible:
            comparison = _second_build(chosen.engine, final_tag, run, Path(scratch), on_line)
        written = None
        if destination is not None:
            written = (destination, chosen.engine.push(final_tag, destination, Path(scratch)))
    facts = chosen.engine.inspect(final_tag)
    report = _verify(chosen.engine, final_tag) if verify else None
    pushed = None
    if push and (report is None or report.get("ok")) and (comparison is None or comparison.same):
        pushed = chosen.engine.push(final_tag, f"docker://{final_tag}", Path(tempfile.gettempdir()))
    return BuildResult(tag=final_tag, image_id=image_id or facts["id"], size=facts["size"], seconds=seconds,
                       stages=stages.summary(), report=report, pushed=pushed, secrets=tuple(sorted(secrets)),
                       engine=chosen.engine.name, engine_says=chosen.why, reproducible=chosen.reproducible,
                       epoch=epoch, comparison=comparison, output=written, emulated=emulated)


def _settle(context: Path, epoch: int) -> None:
    """Every file and folder of the context at time EPOCH: the context is written anew for each build, and
    buildah's layer cache (and a COPY's files, where the engine keeps their times) would see new times as a change."""
    for path in sorted(context.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(context, (epoch, epoch))


_OUTPUTS = ("oci-archive:", "oci:", "docker-archive:")


def _output(output: str | None) -> str | None:
    """--output oci-archive:FILE | oci:DIR | docker-archive:FILE, checked before the build (an absolute path)."""
    if output is None:
        return None
    kind = next((k for k in _OUTPUTS if output.startswith(k)), None)
    where = output[len(kind):] if kind else ""
    if kind is None or not where:
        raise BuildError(f"--output {output!r}: use oci-archive:FILE (for Apptainer, enroot, skopeo), oci:DIR or "
                         "docker-archive:FILE")
    path = Path(where).expanduser().resolve()
    if not path.parent.is_dir():
        raise BuildError(f"--output {output}: {path.parent} is not a directory")
    return f"{kind}{path}"


def _second_build(engine: Any, tag: str, run: Callable[..., str], scratch: Path,
                  on_line: Callable[[str], None]) -> Comparison:
    """Build again on a storage root of its own (another machine, as far as the engine's caches go), write both
    images as OCI layouts and compare them."""
    import shutil
    from dataclasses import replace

    from envbuild.build.compare import compare

    on_line("envbuild: --check-reproducible: the second build, on a storage root of its own, with no cache")
    # Under /var/tmp, beside buildah's own caches: with a storage root under /tmp, buildah 1.28 leaves out of a
    # layer the mount points of cache mounts that the default root keeps (seen on Debian 12), which is not what
    # another machine's default root would build.
    var_tmp = Path("/var/tmp")  # noqa: S108 - mkdtemp makes a new private folder in it
    root = Path(tempfile.mkdtemp(prefix="envbuild-second-root-", dir=var_tmp if var_tmp.is_dir() else None))
    other = replace(engine, root=root)
    try:
        run(other, tag, quiet=True, fresh=True)
        engine.push(tag, f"oci:{scratch / 'first'}", scratch)
        other.push(tag, f"oci:{scratch / 'second'}", scratch)
        return compare(scratch / "first", scratch / "second", (scratch / "context" / "Dockerfile").read_text())
    finally:
        other.remove_all()
        shutil.rmtree(root, ignore_errors=True)


def _verify(engine: Any, tag: str) -> dict[str, Any]:
    """Run the image's own envbuild-check against the lock it carries."""
    code, out, err = engine.run_in_image(tag, ["envbuild-check", "--json"])
    if code not in (0, 1):
        detail = (err.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"{tag}: the check inside the image could not run: {detail}")
    try:
        report: dict[str, Any] = json.loads(out)
    except ValueError:
        raise BuildError(f"{tag}: the check inside the image printed no report") from None
    return report
