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
@click.option("--json", "as_json", is_flag=True, help="Print the aggregate as JSON.")
def report_command(files: tuple[Path, ...], as_json: bool) -> int:
    """Aggregate many `envbuild check --json` reports (one per node) into one view.

    Shows which hosts drift and groups the findings: each one with the hosts that have it.
    Exit 0 when every host is clean, 1 when some drift, 2 when a report cannot be read.

    \b
    Example:
      srun envbuild check --json --lock envbuild.lock > reports/$(hostname).json; envbuild report reports/*.json
    """
    import json as json_module

    from envbuild.commands.report import aggregate

    view = aggregate(list(files))
    if as_json:
        click.echo(json_module.dumps(view.as_json(), indent=2))
    else:
        drifting = [h for h, ok, _ in view.hosts if not ok]
        click.echo(f"{len(view.hosts)} hosts, {len(drifting)} drifting" + (f": {', '.join(drifting)}" if drifting
                                                                           else ""))
        for finding, hosts in view.groups:
            click.echo(f"  [{finding.get('severity')}] {finding.get('kind')} {finding.get('name')}: "
                       f"{finding.get('status')} (expected {finding.get('expected')}, found {finding.get('found')}) "
                       f"on {len(hosts)}: {', '.join(hosts)}")
    return EXIT_OK if view.ok else EXIT_DRIFT
