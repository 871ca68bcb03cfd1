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


def check(lock_path: Path, *, python: Path | None = None, root: Path | None = None, image: str | None = None,
          deep: bool = False, strict: bool = False) -> CheckResult:
    if sum(x is not None for x in (python, root, image)) > 1:
        raise EnvbuildError("--python, --root and --image check different things; give one of them")
    names, dpkg, cuda = _probe_needs(lock_path)
    args = [*(f"--env={n}" for n in names), *(["--deep"] if deep else []), *([] if dpkg else ["--no-dpkg"]),
            *(["--cuda"] if cuda else [])]  # what the probe collects, wherever it runs
    if python is not None:  # start the probe first: the lock model and the comparison load while it runs
        running = _start_probe(python, args)
    from envbuild import lockfile
    from envbuild.check.compare import compare

    if image is not None:
        from envbuild.adapters.engine import run_probe

        lock = lockfile.read_lock(lock_path)
        try:
            facts = json.loads(run_probe(image, PROBE, args))
        except ValueError:
            raise EnvbuildError(f"{image}: the probe printed no report") from None
    elif python is not None:
        try:
            lock = lockfile.read_lock(lock_path)
        except EnvbuildError:
            running.cancel()
            raise
        facts = _collect(python, running)
    else:
        from envbuild.check import probe

        lock = lockfile.read_lock(lock_path)
        facts = probe.probe(root=str(root) if root else "/", env_names=names, deep=deep, dpkg=dpkg, cuda=cuda)
    return CheckResult(lock=lock, facts=facts, outcome=compare(lock, facts, strict=strict))


def _probe_needs(lock_path: Path) -> tuple[list[str], bool, bool]:
    """What the probe must collect (the [env] names, whether dpkg and CUDA libraries matter), from a quick read
    of the lock.

    The full, validated read follows; an unreadable lock fails there with the usual message."""
    from envbuild.compat import tomllib

    try:
        raw = tomllib.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return [], True, True
    env = raw.get("env")
    return (sorted(env) if isinstance(env, dict) else []), raw.get("system") is not None, raw.get("cuda") is not None


def _start_probe(python: Path, args: list[str]) -> Any:
    """Start the stdlib probe under another interpreter: it sees that interpreter's sys.path."""
    from envbuild.adapters import process

    return process.start([str(python), "-I", str(PROBE), *args],
                         tool_hint="give --python the path of a Python interpreter", timeout=600)


def _collect(python: Path, running: Any) -> dict[str, Any]:
    done = running.wait()
    if done.returncode != 0:
        raise EnvbuildError(f"the probe failed under {python}: {done.stderr.strip().splitlines()[-1:]}")
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise EnvbuildError(f"the probe under {python} printed no report") from None
    return result
