"""The commands that parse their own options (``check``, ``record``, ``diff``), as the click group lists them: each
forwards its arguments to the same function the console script calls before click loads (one path per command)."""

from __future__ import annotations

import click

from envbuild.cli.group import cli


@cli.command("record", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="A stable fingerprint of this environment (also envbuild.record()).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def record_command(args: tuple[str, ...]) -> int:
    """Print the fingerprint of this environment (see envbuild record --help)."""
    from envbuild.commands.record import main as record

    return record(list(args))


@cli.command("check", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="Does this environment match the lock? (exit 1 on drift)")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check_command(args: tuple[str, ...]) -> int:
    """Compare a Python environment and this host with the lock (see envbuild check --help)."""
    from envbuild.commands.check import main as check

    return check(list(args))


@cli.command("diff", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="What changed between two locks (exit 1 when they differ).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def diff_command(args: tuple[str, ...]) -> int:
    """Compare two locks (see envbuild diff --help)."""
    from envbuild.cli.diff import main as diff

    return diff(list(args))
