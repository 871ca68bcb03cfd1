"""``envbuild export``: the lock in other tools' formats (``envbuild.commands.export``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, default_lock, echo_err, lock_option, platform_option
from envbuild.errors import EXIT_OK


@cli.command("export")
@lock_option
@platform_option
@click.option("--format", "fmt", type=click.Choice(["requirements", "pylock", "conda-lock", "explicit", "cyclonedx"]),
              required=True,
              help="requirements: a hash-pinned requirements.txt for pip or uv. pylock: a PEP 751 pylock.toml "
                   "(uv pip install -r pylock.toml). conda-lock: a conda-lock.yml of every platform (conda-lock "
                   "install). explicit: conda's @EXPLICIT file with sha256s (conda create --file, micromamba "
                   "create -f). cyclonedx: a CycloneDX 1.6 JSON SBOM of the platform's whole environment.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write here (atomically; a device or FIFO such as /dev/null is written into, never replaced) "
                   "instead of standard output ('-').")
def export_command(lock_path: Path | None, platform: str | None, fmt: str, output: Path | None) -> int:
    """Hand the lock to pip, uv, any PEP 751 installer, conda-lock, conda, micromamba or SBOM tools.

    \b
    Examples:
      envbuild export --format requirements -o requirements.txt
      pip install --require-hashes --no-deps -r requirements.txt
      envbuild export --format pylock -o pylock.toml && uv pip install -r pylock.toml
      envbuild export --format conda-lock -o conda-lock.yml && conda-lock install -n trainer conda-lock.yml
      envbuild export --format explicit --platform linux/amd64 -o explicit.txt && micromamba create -n t -f explicit.txt
      envbuild export --format cyclonedx -o sbom.cdx.json
    """
    from envbuild.commands.export import export_lock, write_output

    text = export_lock(default_lock(lock_path), platform, fmt)
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        echo_err(f"Wrote {output}")
    return EXIT_OK
