"""``envbuild build``: render the lock, build it with BuildKit, check the new image against its own lock, push.

The tag defaults to ``NAME:<first 12 hex of the lock's sha256>``, so the same lock gives the same tag.  The host's
CA bundle (``SSL_CERT_FILE``, ``PIP_CERT``, ``REQUESTS_CA_BUNDLE``: the corporate-proxy case), a netrc and the
``${VAR}`` credentials of the index URLs go to the build as BuildKit secrets, and proxy variables as build
arguments that Docker keeps out of the image history; none of them reaches a layer.
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

from envbuild.errors import BuildError
from envbuild.lockfile import Lock

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
                   "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy")
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
_STEP = re.compile(r"^#(\d+) \[([A-Za-z0-9_.-]+) \d+/\d+\]")
_DONE = re.compile(r"^#(\d+) DONE ([0-9.]+)s")
_CACHED = re.compile(r"^#(\d+) CACHED")


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
                         "(it goes to the build as a BuildKit secret, never into the image)")
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
          platform: str | None = None, templates: Path | None = None,
          on_line: Callable[[str], None] = lambda _: None) -> BuildResult:
    """Build the image of LOCK_PATH's PLATFORM (default: its only platform, else this host's)."""
    from envbuild import lockfile
    from envbuild.adapters import engine
    from envbuild.render import render

    lock_text = lockfile.read_lock_text(lock_path)
    lock = lockfile.loads(lock_text, shown=str(lock_path), platform=platform)
    lock_bytes = lock_text.encode()
    final_tag = tag_for(lock, lock_bytes, tag)
    if push and not _has_registry(final_tag):
        raise BuildError(f"--push needs a tag that names a registry (-t registry.example.com/team/{lock.name}); "
                         f"{final_tag!r} would go to Docker Hub's library")
    engine.ping()  # before any work: no engine is the first thing to say
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="envbuild-build-") as scratch:
        context = Path(scratch) / "context"
        render(lock_path, context, "dockerfile", templates, platform=lock.target.platform)
        secrets = secrets_for(lock, os.environ, Path(scratch))
        stages = _StageClock()

        def line(text: str) -> None:
            stages.feed(text)
            on_line(text)

        build_args = [name for name in PROXY_VARIABLES if name in os.environ]
        engine.build_image(context, final_tag, secrets=secrets, build_args=build_args, on_line=line,
                           platform=platform)
    seconds = time.monotonic() - started
    facts = engine.inspect_image(final_tag)
    report = _verify(final_tag) if verify else None
    pushed = None
    if push and (report is None or report.get("ok")):
        pushed = engine.push_image(final_tag, on_line)
    return BuildResult(tag=final_tag, image_id=facts["id"], size=facts["size"], seconds=seconds,
                       stages=stages.summary(), report=report, pushed=pushed, secrets=tuple(sorted(secrets)))


def _verify(tag: str) -> dict[str, Any]:
    """Run the image's own envbuild-check against the lock it carries."""
    from envbuild.adapters import engine

    code, out, err = engine.run_in_image(tag, ["envbuild-check", "--json"])
    if code not in (0, 1):
        detail = (err.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"{tag}: the check inside the image could not run: {detail}")
    try:
        report: dict[str, Any] = json.loads(out)
    except ValueError:
        raise BuildError(f"{tag}: the check inside the image printed no report") from None
    return report


class _StageClock:
    """Time per build stage, from BuildKit's plain progress (``#7 [builder 2/3] RUN ...``, ``#7 DONE 3.2s``)."""

    def __init__(self) -> None:
        self.stage_of: dict[str, str] = {}
        self.base_steps: set[str] = set()  # FROM: resolved on every build, neither run nor cached
        self.totals: dict[str, list[float]] = {}

    def feed(self, line: str) -> None:
        if m := _STEP.match(line):
            self.stage_of[m.group(1)] = m.group(2)
            self.totals.setdefault(m.group(2), [0.0, 0, 0])
            if line[m.end():].lstrip().startswith("FROM "):
                self.base_steps.add(m.group(1))
        elif (m := _DONE.match(line)) and m.group(1) in self.stage_of:
            self.totals[self.stage_of[m.group(1)]][0] += float(m.group(2))
            self.totals[self.stage_of[m.group(1)]][1] += m.group(1) not in self.base_steps
        elif (m := _CACHED.match(line)) and m.group(1) in self.stage_of:
            self.totals[self.stage_of[m.group(1)]][2] += 1

    def summary(self) -> tuple[tuple[str, float, int, int], ...]:
        return tuple((stage, round(t[0], 2), int(t[1]), int(t[2])) for stage, t in self.totals.items())
