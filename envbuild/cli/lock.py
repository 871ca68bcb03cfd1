"""``envbuild lock``: resolve the spec and write the lock (``envbuild.commands.lock``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, echo_err, spec_option
from envbuild.errors import EXIT_DRIFT, EXIT_OK


@cli.command("lock")
@spec_option
@click.option("-o", "--output", "lock_path", type=click.Path(path_type=Path), default=None,
              help="Where to write the lock. [default: envbuild.lock beside the spec]")
@click.option("-P", "--upgrade-package", "upgrade_packages", multiple=True, metavar="NAME",
              help="Let NAME move to its newest allowed version; every other pin stays. Repeatable.")
@click.option("-U", "--upgrade", is_flag=True, help="Let every package move to its newest allowed version.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also print the time of each resolver stage, and the resolver's whole output when it fails.")
@click.option("--strict-wheels", is_flag=True,
              help="Refuse packages that only an sdist provides for a target (they compile at install time).")
@click.option("--check", "check_only", is_flag=True,
              help="Only say whether the lock matches the spec (no network, no write): exit 0 if it does, "
                   "1 if it is out of date.")
def lock_command(spec: Path | None, lock_path: Path | None, upgrade_packages: tuple[str, ...], upgrade: bool,  # noqa: PLR0917 - click passes options positionally
                 verbose: bool, strict_wheels: bool, check_only: bool) -> int:
    """Resolve the spec and write envbuild.lock.

    Python packages are pinned, with the sha256 of every file, for the spec's target platform and Python
    (not this host's). Existing pins are kept unless the spec no longer allows them, or -P / -U frees
    them. The lock is replaced atomically: a failed or interrupted run leaves the old one untouched.
    Several platforms are resolved in one pass (uv's universal resolution), each taking its part: one
    version per package everywhere the spec allows it; a platform that cannot install a common version
    (a wheel for a newer glibc or macOS only) gets its own, recorded for it alone.

    Packages that have no wheel for a target are listed: they compile when installed. One that imports a
    locked package while it builds (flash-attn and deepspeed import torch) needs [python] build-dependencies =
    {flash-attn = ["torch"]}, which is locked as its own build group (at the runtime's versions); images
    compile it with that group alone, on [python] build-image (a CUDA devel image) for nvcc. [python] indexes and
    sources pin a package to its own index (torch from download.pytorch.org/whl/cu124), and nothing else.

    \b
    Examples:
      envbuild lock                     lock ./envbuild.toml into ./envbuild.lock
      envbuild lock -P numpy            upgrade numpy only
      envbuild lock --strict-wheels     fail if anything would compile from an sdist
      envbuild lock --check             exit 1 when envbuild.toml changed since the last lock
    """
    from envbuild.commands import lock as lock_cmd

    if check_only:
        if upgrade or upgrade_packages:
            raise click.UsageError("--check does not resolve, so it takes no -P/-U")
        result = lock_cmd.check(spec, lock_path)
        click.echo(result.reason)
        return EXIT_OK if result.up_to_date else EXIT_DRIFT

    from envbuild.cli.progress import status
    from envbuild.errors import ResolutionError

    try:
        outcome = lock_cmd.lock(spec, lock_path, upgrade=upgrade, upgrade_packages=upgrade_packages,
                                status=status, strict_wheels=strict_wheels)
    except ResolutionError as exc:
        if verbose and exc.full:
            echo_err(exc.full.rstrip())
        raise
    for warning in outcome.warnings:
        echo_err(f"warning: {warning}")
    from envbuild.cli.summary import print_lock_summary

    print_lock_summary(outcome)
    if verbose:
        for stage, seconds in outcome.stages:
            click.echo(f"  stage    {stage}: {seconds:.2f} s")
    return EXIT_OK
