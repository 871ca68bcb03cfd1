"""Reviewing locks and reports: ``envbuild why`` and ``envbuild report`` (the click layer), and ``envbuild diff``,
which parses its own options (``envbuild.review.cli``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli import _default_lock, _lock_option, _platform_option, cli
from envbuild.errors import EXIT_DRIFT, EXIT_OK


@cli.command("diff", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="What changed between two locks (exit 1 when they differ).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def diff_command(args: tuple[str, ...]) -> int:
    """Compare two locks (see envbuild diff --help)."""
    from envbuild.review.cli import main as diff

    return diff(list(args))


@cli.command("why")
@click.argument("name")
@_lock_option
@_platform_option
@click.option("--json", "as_json", is_flag=True, help="Print the chains as JSON (schema 1), for tools.")
def why_command(name: str, lock_path: Path | None, platform: str | None, as_json: bool) -> int:
    """Why NAME is in the lock: the chains from the spec to it, shortest first (Python, apt and conda packages).

    Each chain starts at something the spec asks for; a chain of one step means the spec asks for NAME itself.

    \b
    Examples:
      envbuild why triton          torch==2.5.1 -> triton==3.1.0
      envbuild why libldap-2.5-0   git -> libcurl3-gnutls -> libldap-2.5-0
      envbuild why numpy --json
    """
    import json

    from envbuild import lockfile
    from envbuild.review.why import why

    path = _default_lock(lock_path)
    whole = lockfile.read_lockfile(path)
    view = whole.view(lockfile.choose_platform(whole, platform, str(path)))
    chains = why(view, name)
    if as_json:
        click.echo(json.dumps({"schema": 1, "name": name, "platform": view.target.platform,
                               "chains": [{"part": c.part, "steps": list(c.steps)} for c in chains]}, indent=2))
        return EXIT_OK
    for chain in chains:
        note = "   (the spec asks for it)" if len(chain.steps) == 1 else ""
        click.echo(f"{chain.part:<7} {chain}{note}")
    return EXIT_OK


@cli.command("report")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the aggregate as JSON (every host named).")
@click.option("--format", "fmt", type=click.Choice(["human", "markdown"]), default="human", show_default=True,
              help="human: for a terminal or a log.  markdown: a table for a CI summary or a pull request.")
def report_command(files: tuple[Path, ...], as_json: bool, fmt: str) -> int:
    """Aggregate many `envbuild check --json` reports (one per node) into one view.

    Shows which hosts drift and groups the findings: each one with the hosts that have it, written
    the way Slurm writes host lists (node[0000-0127,0140]) and cut after a dozen ranges; --json
    names every host.  Exit 0 when every host is clean, 1 when some drift, 2 when a report cannot
    be read.

    \b
    Examples:
      srun envbuild check --json > reports/$(hostname).json; envbuild report reports/*.json
      envbuild report --format markdown reports/*.json >> "$GITHUB_STEP_SUMMARY"
    """
    import json as json_module

    from envbuild.commands.report import aggregate, human, markdown

    view = aggregate(list(files))
    if as_json:
        click.echo(json_module.dumps(view.as_json(), indent=2))
    elif fmt == "markdown":
        click.echo(markdown(view), nl=False)
    else:
        click.echo(human(view))
    return EXIT_OK if view.ok else EXIT_DRIFT
