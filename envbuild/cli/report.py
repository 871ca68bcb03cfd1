"""``envbuild report``: many nodes' check reports in one view (``envbuild.commands.report``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli
from envbuild.errors import EXIT_DRIFT, EXIT_OK


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
