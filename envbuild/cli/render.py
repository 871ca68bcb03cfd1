"""``envbuild render``: a build context for the lock (``envbuild.render``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, default_lock, echo_err, lock_option, platform_option, templates_option
from envbuild.errors import EXIT_OK


@cli.command("render")
@lock_option
@platform_option
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
              default=None, help="The build context to write. [default: build/ beside the lock; for devcontainer, "
                                 "the lock's directory, which gets .devcontainer/]")
@click.option("--format", "fmt", type=click.Choice(["dockerfile", "apptainer", "devcontainer"]),
              default="dockerfile", show_default=True,
              help="dockerfile: a multi-stage BuildKit Dockerfile. apptainer: an envbuild.def for HPC clusters. "
                   "devcontainer: .devcontainer/ (devcontainer.json and its Dockerfile) for onboarding.")
@templates_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the image's layer plan (.envbuild/layers.json: which Python packages go into which layer) "
                   "on stdout.")
def render_command(lock_path: Path | None, platform: str | None, out_dir: Path | None, fmt: str,  # noqa: PLR0917
                   templates: Path | None, as_json: bool) -> int:
    """Write a build context for the lock: the build file, and a .envbuild/ folder with a copy of the lock,
    the hash-pinned requirements, the apt sources with each .deb's sha256, and the stdlib checker.

    Every pin of the lock is in the build file: FROM the base image by digest, each apt package at its
    version, each wheel by hash.  A build file that envbuild did not write is never overwritten.  The Python
    packages go into layers planned from the lock (the CUDA libraries, the large frameworks, the scientific
    stack, then the rest), so that a small pin change rebuilds and ships only the last, small layer: --json
    prints the plan.

    \b
    Examples:
      envbuild render && docker buildx build --network host build/      (or: envbuild build)
      envbuild render --format apptainer -o hpc && cd hpc && apptainer build trainer.sif envbuild.def
      envbuild render --format devcontainer            then "Reopen in Container" in VS Code
      envbuild render --templates ci/templates         with your own CA/proxy block
      envbuild render --json | jq '.python[] | {name, packages}'      the layer plan
    """
    from envbuild.render import render

    path = default_lock(lock_path)
    if out_dir is None:
        out_dir = path.parent if fmt == "devcontainer" else path.parent / "build"
    result = render(path, out_dir, fmt, templates, platform=platform)
    echo_err(f"Wrote {result.build_file} and {len(result.files) - 1} support files in {result.directory}")
    if as_json:
        from envbuild.render.names import SUPPORT

        plan = result.directory / SUPPORT / "layers.json"
        click.echo(plan.read_text() if plan.is_file() else '{"schema": 1, "layers": [], "python": [], "built": []}',
                   nl=False)
    return EXIT_OK
