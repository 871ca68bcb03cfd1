"""The CLI contract: help that teaches, exit codes, one-line errors, a fast --check path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import envbuild


@pytest.mark.parametrize(("command", "teaches"), [
    ([], "envbuild lock --check"),
    (["lock"], "envbuild lock -P numpy"),
    (["sync"], "envbuild sync && . .venv/bin/activate"),
    (["export"], "uv pip install -r pylock.toml"),
])
def test_help_teaches_with_examples(tmp_path: Path, command: list[str], teaches: str) -> None:
    done = envbuild(*command, "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert teaches in done.stdout


def test_no_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("envbuild: error: no envbuild spec found (looked for envbuild.toml and "
                                   "[tool.envbuild] in pyproject.toml); write an envbuild.toml or pass -s SPEC")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert envbuild("lock", "--frobnicate", cwd=tmp_path).returncode == 2
    assert envbuild("export", "--format", "conda", cwd=tmp_path).returncode == 2
    both = envbuild("lock", "--check", "-P", "x", cwd=tmp_path)
    assert both.returncode == 2 and "--check does not resolve" in both.stderr


def test_check_path_does_not_import_the_resolvers_or_rich() -> None:
    code = ("import sys; from envbuild import cli; from envbuild.commands import lock; "
            "print(sorted(m for m in ('rich', 'tomlkit', 'envbuild.adapters.uv', 'jinja2', 'docker') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "envbuild", "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("envbuild, version ")


def test_every_command_leaves_without_teardown_yet_runs_the_exit_functions_and_waits_for_a_thread(
        tmp_path: Path) -> None:
    """entry.leave: the process ends with os._exit once output is flushed; a function registered to run at exit
    (a temporary directory left open, a library's clean-up) still runs, and a thread still running is waited for."""
    marker = tmp_path / "written-by-the-thread"
    code = ("import atexit, sys, threading, time\n"
            "atexit.register(lambda: print('exit function ran', file=sys.stderr))\n"
            f"if sys.argv[1] == 'thread':\n"
            f"    threading.Thread(target=lambda: (time.sleep(0.3), open({str(marker)!r}, 'w').close())).start()\n"
            "from envbuild.entry import main\n"
            "sys.argv = ['envbuild', *sys.argv[2:]]\n"
            "main()\n")
    for form in (["--version"], ["diff", str(tmp_path / "absent.lock"), str(tmp_path / "absent.lock")]):
        done = subprocess.run([sys.executable, "-c", code, "plain", *form], capture_output=True, text=True,
                              check=False, cwd=tmp_path)
        assert "exit function ran" in done.stderr
        assert done.returncode == (0 if form == ["--version"] else 2), done.stderr
    assert done.stderr.splitlines()[0].startswith("envbuild: error: "), done.stderr
    assert subprocess.run([sys.executable, "-c", code, "plain", "--version"], capture_output=True, text=True,
                          check=False).stdout.startswith("envbuild, version ")
    done = subprocess.run([sys.executable, "-c", code, "thread", "--version"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and marker.exists(), done.stderr


def test_a_command_collects_cycles_less_often_and_a_caller_gets_its_collector_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """entry: the click commands run the cyclic collector every 200,000 new objects rather than every 700 (a re-lock
    of 905 conda records spent 20 ms in 123 collections over the modules it imports), still enabled; a program that
    calls the entry point and goes on gets its own thresholds back, also when the command failed."""
    import gc

    from envbuild.commands import lock as command
    from envbuild.entry import main

    seen = []

    def watched(*_args: object) -> command.CheckResult:
        seen.append((gc.isenabled(), gc.get_threshold()[0]))
        return command.CheckResult(tmp_path / "envbuild.lock", True, "up to date")

    monkeypatch.setattr(command, "check", watched)
    before = gc.get_threshold()
    assert before[0] < 200_000
    with pytest.raises(SystemExit) as leaving:
        main(["lock", "--check"])
    assert leaving.value.code == 0 and seen == [(True, 200_000)]
    assert gc.get_threshold() == before and gc.isenabled()

    def failing(*_args: object) -> command.CheckResult:
        raise RuntimeError("a bug")

    monkeypatch.setattr(command, "check", failing)
    with pytest.raises(RuntimeError):
        main(["lock", "--check"])
    assert gc.get_threshold() == before and gc.isenabled(), "given back whatever ended the command"
