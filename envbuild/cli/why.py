"""``envbuild why``: the chains from the spec to a locked package (``envbuild.commands.why``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, default_lock, lock_option, platform_option
from envbuild.errors import EXIT_OK


@cli.command("why")
@click.argument("name")
@lock_option
@platform_option
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

    from envbuild.commands.why import explain

    result = explain(default_lock(lock_path), name, platform)
    if as_json:
        click.echo(json.dumps({"schema": 1, "name": name, "platform": result.platform,
                               "chains": [{"part": c.part, "steps": list(c.steps)} for c in result.chains]}, indent=2))
        return EXIT_OK
    for chain in result.chains:
        note = "   (the spec asks for it)" if len(chain.steps) == 1 else ""
        click.echo(f"{chain.part:<7} {chain}{note}")
    return EXIT_OK
