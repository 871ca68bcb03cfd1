"""Reviewing locks and reports: ``envbuild diff`` and ``envbuild report`` (the click layer)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli import _default_lock, _lock_option, _platform_option, cli
from envbuild.errors import EXIT_DRIFT, EXIT_OK

_lock_option_for_diff = click.option(
    "-l", "--lock", "lock_path", type=click.Path(path_type=Path), default=None,
    help="The lock in the working tree (and its path in the revisions). [default: ./envbuild.lock]")


@cli.command("diff")
@click.argument("old", required=False)
@click.argument("new", required=False)
@_lock_option_for_diff
@click.option("--format", "fmt", type=click.Choice(["human", "markdown"]), default="human", show_default=True,
              help="human: for a terminal. markdown: for a pull-request comment (tables per part).")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON (schema 1), for tools.")
def diff_command(old: str | None, new: str | None, lock_path: Path | None, fmt: str, as_json: bool) -> int:
    """What changed between two locks: added, removed, upgraded and downgraded packages per part (base image,
    interpreter, apt, Python, conda, CUDA, env), with major jumps, CUDA and base-image changes and rebuilt packages
    (same version, other files) set apart.  Exit 0 when the environments are equal, 1 when they differ, 2 on error.

    OLD and NEW are lock files, git revisions of the lock (HEAD, origin/main, REV:path; read with git show, no
    checkout) or images envbuild built (the lock they carry).  No argument: HEAD's lock against the working tree's.

    \b
    Examples:
      envbuild diff                                  what the uncommitted lock changes
      envbuild diff --format markdown origin/main    paste into the pull request
      envbuild diff old.lock new.lock --json
      envbuild diff registry.example.com/ml/trainer:3f2a9c1b4d5e envbuild.lock
    """
    from envbuild.commands.diff import compare
    from envbuild.review import show

    result = compare(old, new, _default_lock(lock_path))
    changes = list(result.changes)
    if as_json:
        click.echo(show.as_json(changes, result.old, result.new), nl=False)
    elif fmt == "markdown":
        click.echo(show.markdown(changes, result.old, result.new), nl=False)
    else:
        click.echo(show.human(changes, result.old, result.new), nl=False)
    return EXIT_DRIFT if changes else EXIT_OK


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
