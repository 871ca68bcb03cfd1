"""``envbuild check``: probe the live host (or another interpreter, or a mounted root) and compare with the lock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envbuild.errors import EnvbuildError

if TYPE_CHECKING:
    from envbuild.check.compare import Outcome
    from envbuild.lockfile import Lock

PROBE = Path(__file__).resolve().parent.parent / "check" / "probe.py"


@dataclass(frozen=True)
class CheckResult:
    lock: Lock
    facts: dict[str, Any]
    outcome: Outcome


def default_lock(lock: Path | None) -> Path:
    """-l LOCK as given, else envbuild.lock beside the spec, else ./envbuild.lock."""
    if lock is not None:
        return lock
    from envbuild.errors import SpecNotFound
    from envbuild.spec import find_spec

    try:
        return find_spec().parent / "envbuild.lock"
    except SpecNotFound:
        return Path("envbuild.lock")


def run(lock_path: Path | None = None, *, as_json: bool = False, junit: Path | None = None, deep: bool = False,
        strict: bool = False, python: Path | None = None, root: Path | None = None, image: str | None = None,
        started: Any = None) -> int:
    """``envbuild check`` itself: check, write the JUnit file, print the report; returns the exit code.

    Shared by the click command and by the fast entry point (``envbuild.entry``), which skips click."""
    import sys

    from envbuild.check import report

    path = default_lock(lock_path)
    result = check(path, python=python, root=root, image=image, deep=deep, strict=strict, started=started)
    data = report.as_json(str(path), result.lock, result.facts, result.outcome)
    if junit is not None:
        from envbuild import lockfile

        lockfile.write_atomic(junit, report.junit(data, result.outcome))
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        report.human(data)
    return 0 if result.outcome.ok else 1


def check(lock_path: Path, *, python: Path | None = None, root: Path | None = None, image: str | None = None,
          deep: bool = False, strict: bool = False, started: Any = None) -> CheckResult:
    """STARTED: the probe under PYTHON, when the caller started it already (``launch.start_probe``)."""
    if sum(x is not None for x in (python, root, image)) > 1:
        if started is not None:
            started[1].kill()
        raise EnvbuildError("--python, --root and --image check different things; give one of them")
    if python is not None:  # start the probe first: the lock model and the comparison load while it runs
        running = _start_probe(python, lock_path, deep, started)
    raw = _quick_read(lock_path)
    names, dpkg, cuda = _probe_needs(raw)
    args = [*(f"--env={n}" for n in names), *(["--deep"] if deep else []), *([] if dpkg else ["--no-dpkg"]),
            *(["--cuda"] if cuda else [])]  # what the probe collects, wherever it runs
    from envbuild import lockfile
    from envbuild.check.compare import compare

    try:  # parsed once: a lock that failed the quick read gets its precise message from read_lock
        lock = lockfile.read_lock(lock_path) if raw is None else lockfile.from_raw(raw, str(lock_path))
    except EnvbuildError:
        if python is not None:
            running.cancel()
        raise
    if image is not None:
        from envbuild.adapters.engine import run_probe

        try:
            facts = json.loads(run_probe(image, PROBE, args))
        except ValueError:
            raise EnvbuildError(f"{image}: the probe printed no report") from None
    elif python is not None:
        facts = _collect(python, running)
        wanted = {"env": names, "dpkg": dpkg, "cuda": cuda}
        if raw is not None and facts.get("collected") != wanted:  # the probe's quick read of the lock missed
            from envbuild.adapters import process

            again = process.start([str(python), "-I", str(PROBE), *args], timeout=600)
            facts = _collect(python, again)
    else:
        from envbuild.check import probe

        facts = probe.probe(root=str(root) if root else "/", env_names=names, deep=deep, dpkg=dpkg, cuda=cuda)
    return CheckResult(lock=lock, facts=facts, outcome=compare(lock, facts, strict=strict))


def _quick_read(lock_path: Path) -> dict[str, Any] | None:
    """The lock's TOML, parsed with nothing but tomllib (before the lock model loads); None if unreadable."""
    from envbuild.compat import tomllib

    try:
        return tomllib.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _probe_needs(raw: dict[str, Any] | None) -> tuple[list[str], bool, bool]:
    """What the probe must collect: the [env] names, and whether dpkg and the CUDA libraries matter."""
    if raw is None:
        return [], True, True
    env = raw.get("env")
    return (sorted(env) if isinstance(env, dict) else []), raw.get("system") is not None, raw.get("cuda") is not None


def _start_probe(python: Path, lock_path: Path, deep: bool, started: Any) -> Any:
    """The stdlib probe under another interpreter: it sees that interpreter's sys.path."""
    from envbuild.adapters import launch, process

    argv, proc = started if started is not None else launch.start_probe(str(python), str(lock_path), deep=deep)
    return process.Running(argv, proc, timeout=600)


def _collect(python: Path, running: Any) -> dict[str, Any]:
    done = running.wait()
    if done.returncode != 0:
        raise EnvbuildError(f"the probe failed under {python}: {done.stderr.strip().splitlines()[-1:]}")
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise EnvbuildError(f"the probe under {python} printed no report") from None
    return result
