"""``envbuild check``: probe the live host (or another interpreter, or a mounted root) and compare with the lock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild import lockfile
from envbuild.check.compare import Outcome, compare
from envbuild.errors import EnvbuildError
from envbuild.lockfile import Lock

PROBE = Path(__file__).resolve().parent.parent / "check" / "probe.py"


@dataclass(frozen=True)
class CheckResult:
    lock: Lock
    facts: dict[str, Any]
    outcome: Outcome


def check(lock_path: Path, *, python: Path | None = None, root: Path | None = None, deep: bool = False,
          strict: bool = False) -> CheckResult:
    lock = lockfile.read_lock(lock_path)
    names = [name for name, _ in lock.env]
    if python is not None and root is not None:
        raise EnvbuildError("--python and --root check different things; give one of them")
    if python is not None:
        facts = _probe_interpreter(python, names, deep)
    else:
        from envbuild.check import probe

        facts = probe.probe(root=str(root) if root else "/", env_names=names, deep=deep)
    return CheckResult(lock=lock, facts=facts, outcome=compare(lock, facts, strict=strict))


def _probe_interpreter(python: Path, names: list[str], deep: bool) -> dict[str, Any]:
    """Run the stdlib probe under another interpreter: it sees that interpreter's sys.path."""
    from envbuild.adapters import process

    argv = [str(python), "-I", str(PROBE), *(f"--env={n}" for n in names), *(["--deep"] if deep else [])]
    done = process.run(argv, tool_hint="give --python the path of a Python interpreter", timeout=600)
    if done.returncode != 0:
        raise EnvbuildError(f"the probe failed under {python}: {done.stderr.strip().splitlines()[-1:]}")
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise EnvbuildError(f"the probe under {python} printed no report") from None
    return result
