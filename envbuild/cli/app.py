"""``envbuild``'s click application: the group with every command joined, and ``main``, the one place where an
``EnvbuildError`` becomes a one-line message and an exit code (0 ok, 1 drift / out of date, 2 error).  Anything
else that escapes is a bug and keeps its traceback.  The commands that parse their own options (check, diff,
record) end the same way: ``envbuild.options.run``."""

from __future__ import annotations

import sys

import click

from envbuild.cli import build, export, forwarded, init, lock, render, report, sync, why  # noqa: F401 - they join
from envbuild.cli.group import cli, echo_err
from envbuild.errors import EXIT_ERROR, EXIT_OK, EnvbuildError


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI and turn envbuild's errors into exit codes, in this one place."""
    try:
        code = cli.main(args=argv, prog_name="envbuild", standalone_mode=False)
    except EnvbuildError as exc:
        sys.exit(exc.report())
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors
        exc.show()
        sys.exit(EXIT_ERROR)
    except (click.exceptions.Abort, KeyboardInterrupt):
        echo_err("envbuild: interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
