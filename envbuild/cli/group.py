"""The click group of ``envbuild`` and what its commands share: the options every command spells the same, the
default lock, and the way they say things on stderr.  Each command is a module of this package named after it; ``app``
joins them and is the one place where an error becomes an exit code."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.about import __version__
from envbuild.paths import LOCK_FILE

HELP = """Freeze a whole ML training environment into one lockfile, and use it.

\b
Typical use:
  envbuild init --from-host  write envbuild.toml from this environment (or --from requirements.txt)
  envbuild lock              resolve envbuild.toml into envbuild.lock
  envbuild lock --check      in CI / pre-commit: is the lock still up to date?
  envbuild sync              make ./.venv match the lock exactly
  envbuild export --format requirements -o requirements.txt
  envbuild render            write a pinned Dockerfile (or --format apptainer|devcontainer)
  envbuild build             build it with BuildKit; the image checks itself against the lock
  envbuild check             does this host match the lock? (exit 1 on drift)
  envbuild report *.json     aggregate the check reports of many nodes
  envbuild diff              what the lock change does (HEAD vs the working tree; --format markdown for a PR)
  envbuild record --json     the fingerprint of this environment, for a training run (also envbuild.record())

The spec is ./envbuild.toml (or [tool.envbuild] in ./pyproject.toml); the lock is envbuild.lock beside it.
Exit codes: 0 ok, 1 out of date (lock --check) or drift (check, report), 2 error.
"""


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def default_lock(lock: Path | None) -> Path:
    """-l LOCK as given, else envbuild.lock in the working directory (beside the spec)."""
    return lock if lock is not None else Path(LOCK_FILE)


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="envbuild")
def cli() -> None:
    pass


spec_option = click.option(
    "-s", "--spec", "spec", type=click.Path(path_type=Path), default=None,
    help="The spec: an envbuild.toml, or a pyproject.toml with [tool.envbuild]. [default: ./envbuild.toml, "
         "else ./pyproject.toml]")
lock_option = click.option(
    "-l", "--lock", "lock_path", type=click.Path(path_type=Path), default=None,
    help="The lock to read. [default: envbuild.lock beside the spec]")
platform_option = click.option(
    "--platform", default=None, metavar="PLATFORM",
    help="For a lock of several platforms: which one (linux/amd64, linux/arm64, macos/arm64). "
         "[default: the lock's only platform, else this host's]")


templates_option = click.option(
    "--templates", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
    help="Templates that replace the built-in ones by name (Dockerfile.j2, envbuild.def.j2, devcontainer.json.j2); "
         'one may extend "builtin/Dockerfile.j2" and override only some blocks.')
