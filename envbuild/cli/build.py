"""``envbuild build``: render, build with BuildKit, check the image against its lock (``envbuild.build``)."""

from __future__ import annotations

from pathlib import Path

import click

from envbuild.cli.group import cli, default_lock, echo_err, lock_option, platform_option, templates_option
from envbuild.errors import EXIT_DRIFT, EXIT_OK


@cli.command("build")
@lock_option
@platform_option
@click.option("-t", "--tag", default=None, metavar="[REGISTRY/]NAME[:TAG]",
              help="The image's tag. [default: NAME:<12 hex of the lock's sha256>, so one lock gives one tag; "
                   "a tag without :TAG gets that hash]")
@click.option("--push", is_flag=True, help="Push the verified image to the registry its tag names.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the new image against its own lock.")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream the build's output; print only the summary.")
@templates_option
def build_command(lock_path: Path | None, platform: str | None, tag: str | None, push: bool,  # noqa: PLR0917
                  no_verify: bool, quiet: bool, templates: Path | None) -> int:
    """Render the lock, build the image with BuildKit, then check the image against its own lock.

    Exit 0 when the image matches its lock, 1 when it drifts from it, 2 when it could not be built
    (no engine, a failed step, an unreachable registry).  The host's CA bundle (SSL_CERT_FILE, PIP_CERT,
    REQUESTS_CA_BUNDLE), ~/.netrc and the ${VAR}s of the index URLs go to the build as BuildKit secrets,
    and the proxy variables as build arguments: none of them is written into the image or its history.

    \b
    Examples:
      envbuild lock && envbuild build
      envbuild build -t registry.example.com/ml/trainer --push
      docker run --rm trainer:3f2a9c1b4d5e envbuild-check      the image checks itself
    """
    from envbuild.build import build

    path = default_lock(lock_path)
    result = build(path, tag=tag, push=push, verify=not no_verify, templates=templates, platform=platform,
                   on_line=(lambda _: None) if quiet else (lambda line: click.echo(line, err=True)))
    echo_err(f"\nImage   {result.tag}  ({result.image_id.removeprefix('sha256:')[:12]}, "
              f"{result.size / 1e6:.1f} MB, built in {result.seconds:.1f} s)")
    for stage, seconds, ran, cached in result.stages:
        echo_err(f"  stage {stage:<10} {seconds:7.1f} s  {ran} steps run, {cached} from cache")
    if result.secrets:
        echo_err(f"  secrets {', '.join(result.secrets)} (BuildKit; not in any layer)")
    if result.report is not None:
        from envbuild.check import report

        if not result.report["ok"]:
            report.show(result.report, first_line=False)
            echo_err(f"envbuild: the image {result.tag} does not match its lock")
            return EXIT_DRIFT
        echo_err(f"Verified: {report.verdict(result.report, subject=f'the image {result.tag}')}")
    if result.pushed:
        echo_err(f"Pushed  {result.tag}@{result.pushed}")
    return EXIT_OK
