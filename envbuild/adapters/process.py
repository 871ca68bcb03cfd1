"""Run an outside program: list arguments, a scrubbed environment, captured output, no shell."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envbuild.errors import EnvbuildError, ToolMissing

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float | None = None, tool_hint: str = "") -> Completed:
    """Run ARGV and capture its output.  A missing program is a ``ToolMissing``; a timeout an ``EnvbuildError``."""
    try:
        proc = subprocess.run(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ToolMissing(argv[0], tool_hint or "install it or put it on PATH") from None
    except subprocess.TimeoutExpired:
        raise EnvbuildError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s") from None
    return Completed(tuple(argv), proc.returncode, _ANSI.sub("", proc.stdout), _ANSI.sub("", proc.stderr))


def scrubbed_env(drop_prefixes: Sequence[str], keep: Sequence[str] = (), extra: Mapping[str, str] | None = None,
                 ) -> dict[str, str]:
    """The current environment without variables that would change a resolution behind the spec's back.

    Variables starting with one of DROP_PREFIXES are removed unless their name matches a pattern in KEEP
    (regular expressions, matched in full): credentials, TLS and cache settings stay.
    """
    keep_res = [re.compile(p) for p in keep]
    out = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(tuple(drop_prefixes)) or any(r.fullmatch(key) for r in keep_res)
    }
    out.update(extra or {})
    return out


class Running:
    """A program started by ``start``: the caller works on while it runs, then ``wait`` collects it."""

    def __init__(self, argv: Sequence[str], proc: subprocess.Popen[str], timeout: float | None) -> None:
        self.argv, self.proc, self.timeout = tuple(argv), proc, timeout

    def cancel(self) -> None:
        """Stop it, when its answer is no longer wanted."""
        self.proc.kill()
        self.proc.communicate()

    def wait(self) -> Completed:
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise EnvbuildError(f"{Path(self.argv[0]).name} did not finish within {self.timeout:.0f} s") from None
        return Completed(self.argv, self.proc.returncode, _ANSI.sub("", out), _ANSI.sub("", err))


def start(argv: Sequence[str], *, timeout: float | None = None, tool_hint: str = "") -> Running:
    """Start ARGV without waiting for it (its output is captured)."""
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise ToolMissing(argv[0], tool_hint or "install it or put it on PATH") from None
    return Running(argv, proc, timeout)


def stream(argv: Sequence[str], on_line: Callable[[str], None], *, env: Mapping[str, str] | None = None,
           cwd: Path | None = None, tool_hint: str = "") -> int:
    """Run ARGV with stdout and stderr merged, handing each line to ON_LINE as it comes; returns the exit code."""
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", env=dict(env) if env is not None else None, cwd=cwd)
    except FileNotFoundError:
        raise ToolMissing(argv[0], tool_hint or "install it or put it on PATH") from None
    try:
        for line in proc.stdout or ():
            on_line(_ANSI.sub("", line.rstrip("\n")))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.wait()
