"""buildah, and podman (whose ``build`` is buildah's): daemonless builds that can be reproducible.

``buildah build --timestamp EPOCH`` writes every file of every new layer, and the image's created time and history,
with EPOCH, so the same Dockerfile and context give the same image digest on any machine (Debian's ``buildah``
package; no daemon).  ``--layers`` keeps one layer per instruction, so the layer plan survives; ``--root`` and
``--runroot`` name a storage root of its own (a second machine, for ``--check-reproducible``).  A registry on the
loopback interface is spoken to over plain HTTP, as Docker does for 127.0.0.0/8.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild.errors import EnvbuildError

ENGINES = ("buildah", "podman")


class BuildahError(EnvbuildError):
    """buildah (or podman) is missing, or could not do what was asked."""


_STEP = re.compile(r"^(?:\[(\d+)/(\d+)\] )?STEP (\d+)/(\d+): (.*)$")
_FROM = re.compile(r"^FROM \S+(?: AS (\S+))?", re.IGNORECASE)
_ELAPSED = re.compile(r"^\S+\(system\) \S+\(user\) (\S+)\(elapsed\)")  # --log-rusage, after each step
_DURATION = re.compile(r"([0-9.]+)(h|ms|m|s|µs|us|ns)")  # Go's time.Duration as text: 1m2.5s, 47ms
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
_AT_STEP = re.compile(r'building at STEP "([^"]*)"')
_USES = re.compile(r"(?:^FROM |--from=|[ ,]from=)([A-Za-z0-9_.-]+)", re.IGNORECASE)  # the stages a step uses
JOBS = max(1, min(os.cpu_count() or 1, 4))  # stages at once: the python stage on the host beside an emulated one


def seconds_of(text: str) -> float | None:
    """Go's duration text ("1.738s", "2m3.5s", "47ms") in seconds; None when it is not one."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    try:
        return sum(float(n) * _UNIT[u] for n, u in parts)
    except ValueError:
        return None


def find(name: str) -> str | None:
    """The path of buildah or podman, else None."""
    return shutil.which(name)


def loopback(reference: str) -> bool:
    """Whether REFERENCE's registry (the part before its first ``/``) is on this machine's loopback interface."""
    from envbuild.adapters.registry import loopback_host

    return "/" in reference and loopback_host(reference.split("/", 1)[0])


@dataclass(frozen=True)
class Buildah:
    """One engine (buildah or podman) on one storage root (its default one, unless ROOT is given)."""

    name: str  # "buildah" | "podman"
    executable: str
    root: Path | None = None  # --root and --runroot: ROOT/storage and ROOT/run

    @classmethod
    def named(cls, name: str, root: Path | None = None) -> Buildah:
        path = find(name)
        if path is None:
            package = {"buildah": "buildah", "podman": "podman"}[name]
            raise BuildahError(f"--engine {name}: {name} is not installed (apt-get install {package}, or dnf install "
                               f"{package}); or leave --engine out to use what is installed")
        return cls(name, path, root)

    def _argv(self, *args: str) -> list[str]:
        argv = [self.executable]
        if self.root is not None:
            argv += ["--root", str(self.root / "storage"), "--runroot", str(self.root / "run")]
        return [*argv, *args]

    def _run(self, *args: str, timeout: float = 600) -> Any:
        from envbuild.adapters import process

        return process.run(self._argv(*args), timeout=timeout)

    def build(self, context: Path, tag: str, *, secrets: dict[str, Path], build_args: list[str], epoch: int,
              base: str, on_line: Callable[[str], None], no_cache: bool = False, platform: str | None = None,
              stages: Any = None) -> str:
        """Build CONTEXT/Dockerfile on the host network with every timestamp at EPOCH; tag it TAG; the image id.
        BUILD_ARGS are names whose values the engine takes from the environment; SECRETS (id -> file) are
        ``--secret``.  BASE (the FROM image) decides whether the pull speaks plain HTTP (a loopback registry)."""
        from envbuild.adapters import process

        # Independent stages run at once (--jobs: an image for another platform builds its Python stage on this
        # host beside its emulated system stage); --log-rusage says how long each step took, for the summary.
        # No buildah-version label (another buildah release would give another digest).  The history stays: buildah
        # finds its layer cache by it (--omit-history rebuilds every step).  Its comments name the base as this
        # storage holds it: a base pulled under another name (a mirror, a tag) gives another digest, which
        # --check-reproducible names.
        argv = self._argv("build", "--layers", "--timestamp", str(epoch), "--identity-label=false",
                          "--network", "host", "--tag", tag, "--build-arg", f"SOURCE_DATE_EPOCH={epoch}",
                          "--format", "oci", "--jobs", str(JOBS), "--log-rusage")
        iid = context.parent / f"{context.name}.iid"
        argv += ["--iidfile", str(iid)]
        if no_cache:
            argv.append("--no-cache")
        if loopback(base):
            argv.append("--tls-verify=false")
        for name in build_args:
            argv += ["--build-arg", name]
        for secret_id, path in sorted(secrets.items()):
            argv += ["--secret", f"id={secret_id},src={path}"]
        if platform:
            argv += ["--platform", platform]
        argv.append(str(context))
        log = BuildahLog(stages)

        def line(text: str) -> None:
            log.add(text)
            on_line(text)

        if process.stream(argv, line, env=dict(os.environ)) != 0:
            raise BuildahError(f"the image build failed{log.failure()}")
        try:
            return iid.read_text().strip()
        except OSError:
            raise BuildahError(f"{self.name} build reported no image id") from None

    def inspect(self, tag: str) -> dict[str, Any]:
        """The image's id and size (the sum of its layers, uncompressed)."""
        import json

        done = self._run("inspect", "--type", "image", tag, timeout=120)
        if done.returncode != 0:
            raise BuildahError(f"{tag}: {self.name} has no such image ({_last(done.stderr)})")
        facts = json.loads(done.stdout)
        manifest = json.loads(facts.get("Manifest") or "{}")
        size = sum(int(layer.get("size") or 0) for layer in manifest.get("layers", []))
        return {"id": "sha256:" + str(facts.get("FromImageID") or facts.get("FromImageDigest", "")).removeprefix(
            "sha256:"), "size": size}

    def run_in_image(self, tag: str, command: list[str]) -> tuple[int, str, str]:
        """Run COMMAND in a working container of TAG, as the image's user, with no network."""
        made = self._run("from", "--pull-never", "--quiet", tag, timeout=300)
        if made.returncode != 0:
            raise BuildahError(f"{tag}: cannot start a container of it ({_last(made.stderr)})")
        container = made.stdout.strip().splitlines()[-1]
        try:
            done = self._run("run", "--network", "none", container, "--", *command, timeout=600)
            return done.returncode, done.stdout, done.stderr
        finally:
            self._run("rm", container, timeout=120)

    def push(self, tag: str, destination: str, scratch: Path) -> str:
        """Push TAG to DESTINATION (``docker://REF``, ``oci-archive:FILE[:TAG]``, ``oci:DIR[:TAG]``); the manifest
        digest.  A registry gets only the blobs it lacks."""
        return self._pushed(["push"], tag, destination, scratch, f"push {tag}")

    def _pushed(self, command: list[str], tag: str, destination: str, scratch: Path, what: str) -> str:
        """COMMAND (``push``, ``manifest push --all``) of TAG to DESTINATION, plain HTTP to a loopback registry; the
        digest it wrote.  WHAT: how an error names the push."""
        digest_file = scratch / f"digest-{time.monotonic_ns()}"
        args = [*command, "--digestfile", str(digest_file)]
        if destination.startswith("docker://") and loopback(destination.removeprefix("docker://")):
            args.append("--tls-verify=false")
        done = self._run(*args, tag, destination, timeout=3600)
        if done.returncode != 0:
            raise BuildahError(f"{what} to {destination}: {_last(done.stderr)}")
        try:
            return digest_file.read_text().strip()
        except OSError:
            raise BuildahError(f"{what}: {self.name} reported no digest") from None

    def push_index(self, tag: str, images: list[tuple[str, str]], destination: str | None,
                   scratch: Path) -> str | None:
        """An image index (a manifest list) named TAG of IMAGES ((tag, image id) each: added by id, as a short name
        resolves to docker.io), each entry with its image's os and architecture, kept in this storage; pushed with
        every image to DESTINATION (``docker://REF``) when given: its digest."""
        self._run("manifest", "rm", tag, timeout=120)  # the index of an earlier build of this tag, if any
        made = self._run("manifest", "create", tag, timeout=120)
        if made.returncode != 0:
            raise BuildahError(f"{tag}: cannot make an image index ({_last(made.stderr)})")
        for image, image_id in images:
            added = self._run("manifest", "add", tag, image_id.removeprefix("sha256:"), timeout=300)
            if added.returncode != 0:
                raise BuildahError(f"{tag}: cannot add {image} to its index ({_last(added.stderr)})")
        if destination is None:
            return None
        return self._pushed(["manifest", "push", "--all"], tag, destination, scratch, f"push the index {tag}")

    def remove(self, tag: str) -> None:
        self._run("rmi", "--force", tag, timeout=300)

    def remove_all(self) -> None:
        """Remove every container and image of this storage root (a scratch root, before it is deleted)."""
        self._run("rm", "--all", timeout=300)
        self._run("rmi", "--all", "--force", timeout=600)


class BuildahLog:
    """buildah's output (``[2/4] STEP 3/5: RUN ...``, ``--> Using cache ...``), kept to time each stage and to say
    which step failed and how its output ended.  STAGES gets ``start(stage)``, ``step(stage, cached)``, ``stop()``."""

    LAST = 12

    def __init__(self, stages: Any = None) -> None:
        self.stages = stages
        self.names: dict[str, str] = {}  # "2" -> the stage's name
        self.stage_of: dict[str, str] = {}  # a step's text -> its stage (stages run at once: the error names it)
        self.current = ""
        self.step = ""
        self.output: list[str] = []
        self.error = ""

    def add(self, line: str) -> None:
        line = line.rstrip("\n")
        if m := _STEP.match(line):
            index, text = m.group(1) or "1", m.group(5)
            if (f := _FROM.match(text)) and m.group(3) == "1":
                self.names[index] = f.group(1) or f"stage {index}"
            stage = self.names.get(index, f"stage {index}")
            self.step, self.output = text, []
            self.stage_of[text] = stage
            if self.stages is not None:
                for used in _USES.findall(text):  # a stage this step uses is done: its last step has ended
                    if used in self.names.values() and used != stage:
                        self.stages.done(used)
                self.stages.step(stage, from_base=m.group(3) == "1")
            self.current = stage
        elif line.startswith("--> Using cache") and self.stages is not None:
            self.stages.cached(self.current)
        elif m := _ELAPSED.match(line):  # how long a step took: for the clock, not a line of the step's output
            seconds = seconds_of(m.group(1))
            if seconds is not None and self.stages is not None:
                self.stages.elapsed(seconds)
        elif line.startswith("Error: "):
            self.error = line[len("Error: "):]
        else:
            self.output = [*self.output[-(self.LAST - 1):], line]

    def failure(self) -> str:
        code = re.search(r"exit status (\d+)", self.error)
        reason = f"exit code {code.group(1)}" if code else (self.error or "no reason given")
        failed = _AT_STEP.search(self.error)  # with stages at once, the last step begun may not be the one
        step = failed.group(1) if failed and failed.group(1) in self.stage_of else self.step
        where = f" at [{self.stage_of.get(step, self.current)}] {step}" if step else ""
        lines = [line for line in self.output if line.strip()]
        if not lines:
            return f"{where} ({reason}), with no output"
        return f"{where} ({reason}); its output ended with:\n" + "\n".join(f"  {line}" for line in lines)


def _last(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
