"""``envbuild init``: a spec from what exists (the click layer; the work is ``envbuild.commands.init``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, echo_err
from envbuild.errors import EXIT_OK, EnvbuildError


@cli.command("init")
@click.option("--from", "from_file", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="A requirements.txt (or .in), a pyproject.toml ([project] dependencies) or a conda environment.yml "
                   "(channels, packages and its pip: list).")
@click.option("--from-host", is_flag=True,
              help="This host's Python environment (the one `envbuild check` would look at): its top-level "
                   "distributions at their installed versions, the distro and interpreter, the apt packages "
                   "installed on purpose, the GPU driver.")
@click.option("--python", default=None, metavar="PATH",
              help="With --from-host (or alone): the interpreter whose environment to capture.")
@click.option("--from-image", default=None, metavar="REF",
              help="An image: it becomes the base image, and the Python distributions it holds the requirements.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The spec to write (never overwritten). [default: ./envbuild.toml]")
@click.option("--index-url", default=None, metavar="URL",
              help="The index the Python packages come from (written as [python] index-url; ${VAR} for credentials).")
@click.option("--mirror", default=None, metavar="URL", help="The apt mirror (written as [system] mirror).")
@click.option("--security-mirror", default=None, metavar="URL|none",
              help="The apt security archive (written as [system] security-mirror).")
@click.option("--signed-by", default=None, metavar="KEY",
              help="The OpenPGP key that signs those mirrors' Release files (written as [system] signed-by).")
@click.option("--python-image", default=None, metavar="REF",
              help="With --from-host: the base image that has this host's interpreter, when it is not the distro's "
                   "release (pyenv's, uv's). [default: docker.io/library/python:X.Y.Z-slim-CODENAME on Debian]")
@click.option("--no-lock", is_flag=True, help="Write the spec only; run envbuild lock later.")
def init_command(from_file: Path | None, from_host: bool, python: str | None, from_image: str | None,  # noqa: PLR0917
                 output: Path | None, index_url: str | None, mirror: str | None, security_mirror: str | None,
                 signed_by: str | None, python_image: str | None, no_lock: bool) -> int:
    """Write an envbuild.toml from what exists, and lock it.

    The spec says, in comments, what could not be captured (an editable install, a package the index does not
    have, a local wheel) and each of those is also a warning.  From a live environment, the lock keeps the
    installed versions wherever the spec allows them, and init then checks that environment against it.

    \b
    Examples:
      envbuild init --from requirements.txt
      envbuild init --from environment.yml          conda packages, channels and pip-in-conda
      envbuild init --from-host                     the training node's environment, as it is
      envbuild init --python /opt/venv/bin/python   another interpreter's environment
      envbuild init --from-host --python-image registry.corp/python:3.11.7-slim-bookworm
      envbuild init --from-image nvcr.io/nvidia/pytorch:24.05-py3
    """
    from envbuild.cli.progress import status
    from envbuild.cli.summary import print_lock_summary
    from envbuild.commands.init import Source, init

    if python_image is not None and not (from_host or python):
        raise EnvbuildError("--python-image pins the interpreter of --from-host (or --python); give one of them")
    source = Source(file=from_file, host=from_host, python=python, image=from_image, index_url=index_url,
                    mirror=mirror, security_mirror=security_mirror, signed_by=signed_by, python_image=python_image)
    result = init(source, output, lock=not no_lock, status=status)
    for warning in result.draft.warnings:
        echo_err(f"warning: {warning}")
    click.echo(f"Wrote {result.spec} from {result.draft.source}")
    if result.lock is not None:
        for warning in result.lock.warnings:
            echo_err(f"warning: {warning}")
        print_lock_summary(result.lock)
    elif not no_lock:
        click.echo("  not locked: the spec lists nothing to lock yet; add requirements and run envbuild lock")
    if result.verdict is not None:
        click.echo(f"Checked the captured environment against the new lock: {result.verdict}")
        for line in result.findings[:20]:
            click.echo(f"  {line}")
        if len(result.findings) > 20:
            click.echo(f"  ... and {len(result.findings) - 20} more (envbuild check)")
    return EXIT_OK
