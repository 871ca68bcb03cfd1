"""``envbuild build``: render, build (buildah or BuildKit), check the image against its lock (``envbuild.build``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from envbuild.cli.group import cli, default_lock, echo_err, lock_option, templates_option
from envbuild.errors import EXIT_DRIFT, EXIT_OK

if TYPE_CHECKING:
    from collections.abc import Callable

    from envbuild.build import BuildResult


@cli.command("build")
@lock_option
@click.option("--platform", default=None, metavar="PLATFORM",
              help="Build this platform's image only (linux/amd64, linux/arm64). [default: every Linux platform of "
                   "the lock, and for several of them one image index of their images]")
@click.option("-t", "--tag", default=None, metavar="[REGISTRY/]NAME[:TAG]",
              help="The image's tag. [default: NAME:<12 hex of the lock's sha256>, so one lock gives one tag; "
                   "a tag without :TAG gets that hash]")
@click.option("--push", is_flag=True, help="Push the verified image to the registry its tag names.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the new image against its own lock.")
@click.option("--engine", type=click.Choice(["docker", "buildah", "podman"]), default=None,
              help="The engine that builds. [default: one that builds reproducibly when one is installed: Docker "
                   "with BuildKit >= 0.13, else buildah, else podman, else Docker as it is]")
@click.option("--no-cache", is_flag=True, help="Build every step again (download caches stay: they are checked "
                                                 "against the lock's hashes).")
@click.option("--check-reproducible", is_flag=True,
              help="Build twice, the second time on a storage root of its own with no cache, and compare the "
                   "digests; exit 1 naming the first differing layer and paths when they differ.")
@click.option("--output", default=None, metavar="oci-archive:FILE|oci:DIR|docker-archive:FILE",
              help="Also write the image to a file or an OCI layout (air-gapped clusters: apptainer build x.sif "
                   "oci-archive:FILE; enroot import).")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream the build's output; print only the summary.")
@templates_option
def build_command(lock_path: Path | None, platform: str | None, tag: str | None, push: bool,  # noqa: PLR0917
                  no_verify: bool, engine: str | None, no_cache: bool, check_reproducible: bool,
                  output: str | None, quiet: bool, templates: Path | None) -> int:
    """Render the lock, build the image, then check the image against its own lock.

    The engine is one that builds reproducibly when one is installed (buildah --timestamp, or BuildKit >= 0.13):
    the same lock then gives the same image digest on any machine, with SOURCE_DATE_EPOCH taken from the lock.
    Python packages go into layers planned from the lock (.envbuild/layers.json: the CUDA libraries, then the
    large frameworks, the scientific stack, then the rest), so a small pin change ships a small layer.

    A lock of several Linux platforms (linux/amd64 and linux/arm64) gives one image per platform, TAG-amd64 and
    TAG-arm64, each checked against its own lock, and one OCI image index TAG of them: with --push, one tag that
    every node pulls its own platform from. The arm64 image's programs (apt, sdist builds) run under qemu on an
    x86 machine (apt-get install qemu-user-static binfmt-support); its Python layers are installed natively.
    --platform builds one platform's image.

    Exit 0 when the image matches its lock, 1 when it drifts from it (or, with --check-reproducible, when two
    builds differ), 2 when it could not be built (no engine, a failed step, an unreachable registry).  The host's
    CA bundle (SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE), ~/.netrc and the ${VAR}s of the index URLs go to the
    build as secrets, and the proxy variables as build arguments: none of them is written into the image.

    \b
    Examples:
      envbuild lock && envbuild build
      envbuild build -t registry.example.com/ml/trainer --push
      envbuild build -t registry.example.com/ml/trainer:v3 --push   amd64 + arm64 lock: one index, v3
      envbuild build --platform linux/arm64                   one platform of such a lock
      envbuild build --check-reproducible                     two clean builds, one digest
      envbuild build --output oci-archive:trainer.tar && apptainer build trainer.sif oci-archive:trainer.tar
      docker run --rm trainer:3f2a9c1b4d5e envbuild-check      the image checks itself (an image that buildah
                                                               built: buildah push TAG docker-daemon:TAG first)
    """
    from envbuild.build import build
    from envbuild.build.index import index_platforms

    path = default_lock(lock_path)
    on_line = (lambda _: None) if quiet else (lambda line: click.echo(line, err=True))
    platforms = index_platforms(path, platform)
    if platforms:  # a lock of several Linux platforms: each platform's image, one index of them
        return _index(path, platforms, tag=tag, push=push, verify=not no_verify, templates=templates, engine=engine,
                      no_cache=no_cache, refused=("--check-reproducible" if check_reproducible else
                                                  f"--output {output}" if output else None), on_line=on_line)
    result = build(path, tag=tag, push=push, verify=not no_verify, templates=templates, platform=platform,
                   engine=engine, no_cache=no_cache, check_reproducible=check_reproducible, output=output,
                   on_line=on_line)
    return _summary(result)


def _index(path: Path, platforms: tuple[str, ...], *, tag: str | None, push: bool, verify: bool,
           templates: Path | None, engine: str | None, no_cache: bool, refused: str | None,
           on_line: Callable[[str], None]) -> int:
    """Every platform's image, then the index of them under one tag (pushed with --push)."""
    from envbuild.build.index import build_index
    from envbuild.errors import BuildError

    if refused is not None:
        raise BuildError(f"{refused} takes one platform's image, and this lock has {', '.join(platforms)}: add "
                         "--platform PLATFORM")
    outcome = build_index(path, platforms, tag=tag, push=push, verify=verify, templates=templates, engine=engine,
                          no_cache=no_cache, on_line=on_line)
    code = EXIT_OK
    for _, result in outcome.images:
        code = max(code, _summary(result))
    echo_err(f"\nIndex   {outcome.tag}: {len(outcome.images)} platforms")
    for platform, result in outcome.images:
        echo_err(f"  {platform:<12} {result.tag}  ({result.image_id.removeprefix('sha256:')[:12]})")
    if code != EXIT_OK:
        echo_err("envbuild: no index made: an image does not match its lock")
        return code
    if outcome.pushed:
        echo_err(f"Pushed  {outcome.tag}@{outcome.pushed} (an OCI image index: each node pulls its own platform)")
    elif outcome.kept:
        echo_err(f"  kept as the index {outcome.tag} in the engine's storage; --push sends it and its images")
    else:
        echo_err("  each platform has its own tag; --push makes the one tag (an index) in the registry")
    return code


def _how(result: BuildResult) -> None:
    """How the image was built: the engine, the epoch, emulation, each stage's time, where it is, the secrets."""
    echo_err(f"  engine {result.engine_says}")
    if result.reproducible:
        echo_err(f"  SOURCE_DATE_EPOCH {result.epoch} (from the lock): the same lock gives this digest again")
    if result.emulated:
        echo_err(f"  emulated {result.emulated}")
    for stage, seconds, ran, cached in result.stages:
        echo_err(f"  stage {stage:<10} {seconds:7.1f} s  {ran} steps run, {cached} from cache")
    if result.engine in ("buildah", "podman"):
        echo_err(f"  in {result.engine}'s storage; for Docker: {result.engine} push {result.tag} "
                 f"docker-daemon:{result.tag}")
    if result.secrets:
        echo_err(f"  secrets {', '.join(result.secrets)} (build secrets; in no layer)")


def _summary(result: BuildResult) -> int:
    """What one image build printed at its end; its exit code."""
    echo_err(f"\nImage   {result.tag}  ({result.image_id.removeprefix('sha256:')[:12]}, "
             f"{result.size / 1e6:.1f} MB, built in {result.seconds:.1f} s)")
    _how(result)
    for wheel in (result.report or {}).get("built", []):  # compiled from sdists; the image's check verifies them
        echo_err(f"  built  {wheel['wheel']}  {wheel['sha256']}")
    if result.report is not None:
        from envbuild.check import report

        if not result.report["ok"]:
            report.show(result.report, first_line=False)
            echo_err(f"envbuild: the image {result.tag} does not match its lock")
            return EXIT_DRIFT
        echo_err(f"Verified: {report.verdict(result.report, subject=f'the image {result.tag}')}")
    if result.output is not None:
        echo_err(f"Wrote   {result.output[0]} ({result.output[1]})")
    if result.pushed:
        echo_err(f"Pushed  {result.tag}@{result.pushed}")
    if result.comparison is not None:
        for line in result.comparison.lines():
            echo_err(line)
        if not result.comparison.same:
            return EXIT_DRIFT
    return EXIT_OK
