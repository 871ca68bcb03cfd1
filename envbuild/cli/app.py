"""``envbuild``'s click application: the group with every command joined, and ``main``, the console script.  An
``EnvbuildError`` becomes a one-line message and an exit code (0 ok, 1 drift / out of date, 2 error) in one place,
``envbuild.options.answer``, which the commands that parse their own options (check, diff, record) end with too.
Anything else that escapes is a bug and keeps its traceback."""

from __future__ import annotations

import sys

import click

from envbuild.cli import build, export, forwarded, init, lock, render, report, sync, why  # noqa: F401 - they join
from envbuild.cli.group import cli
from envbuild.errors import EXIT_ERROR, EXIT_OK
from envbuild.options import answer


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI; envbuild's errors and interrupts end as every command's do (``answer``)."""
    sys.exit(answer(lambda: _click(argv), "envbuild", "envbuild"))


def _click(argv: list[str] | None) -> int:
    """The exit code of click's run of ARGV: its own for --help, --version and usage errors."""
    try:
        code = cli.main(args=argv, prog_name="envbuild", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.ClickException as exc:  # usage errors
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Abort:  # click's word for an interrupt (Ctrl-C at a prompt)
        raise KeyboardInterrupt from None
    return code if isinstance(code, int) else EXIT_OK
