"""``envbuild sync``: make a venv or a conda environment hold the lock (``envbuild.commands.sync``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, default_lock, echo_err, lock_option
from envbuild.errors import EXIT_OK


@cli.command("sync")
@lock_option
@click.option("--venv", type=click.Path(path_type=Path), default=None,
              help="The virtual environment to make match the lock; created if missing. "
                   "[default: .venv beside the lock]")
@click.option("--prefix", type=click.Path(path_type=Path), default=None,
              help="For a lock with [conda]: the conda environment to make match the lock (created if missing), "
                   "with the pip layer on top when its Python is conda's.")
def sync_command(lock_path: Path | None, venv: Path | None, prefix: Path | None) -> int:
    """Make a virtual environment (or a conda environment) hold exactly the lock.

    Installs every locked package with its hash required, and removes whatever the lock does not
    list. No solver runs: the lock's records are installed as they are. This is how a new developer
    gets the team's environment with one command.

    The venv also gets pip (outside the lock, so that `pip install` in it goes into it), the lock's
    [env] in its bin/activate, and a mark in its pyvenv.cfg: a plain `envbuild check` of it then checks
    what sync made (interpreter, Python packages, their CUDA libraries, [env]), not this host's apt
    packages and OS (`envbuild check --scope host` does).

    \b
    Examples:
      envbuild sync && . .venv/bin/activate
      envbuild sync && envbuild check          what sync made (--scope host: this host too)
      envbuild sync --prefix ~/envs/trainer && conda activate ~/envs/trainer
    """
    from envbuild.commands.sync import sync, sync_prefix

    path = default_lock(lock_path)
    if prefix is not None:
        done = sync_prefix(path, prefix)
        click.echo(f"{'Created and synced' if done.created else 'Synced'} {done.prefix}: {done.total} conda packages "
                   f"({len(done.installed)} installed, {len(done.removed)} removed)"
                   + (f"; {len(done.pip)} pip packages on top" if done.pip else ""))
        if venv is None:
            return EXIT_OK
    result = sync(path, venv if venv is not None else path.parent / ".venv")
    for warning in result.warnings:
        echo_err(f"warning: {warning}")
    click.echo(f"{'Created and synced' if result.created else 'Synced'} {result.venv}: {result.total} packages "
               f"({len(result.installed)} installed, {len(result.removed)} removed)")
    activate = result.venv / "bin" / "activate"
    if result.env:
        click.echo(f"  [env] {', '.join(result.env)}: exported by {activate} (deactivate restores your own)")
    if result.pip:
        click.echo(f"  pip {result.pip} is in the venv, outside the lock: after `. {activate}`, `pip install X` goes "
                   "into this venv and `envbuild check` calls X extra; to keep X, add it to the spec, then "
                   "envbuild lock && envbuild sync")
    return EXIT_OK
