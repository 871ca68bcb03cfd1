"""The command line: click parses options, calls a typed function in ``envbuild.commands``, prints the result.

``main`` is the one place where an ``EnvbuildError`` becomes a one-line message and an exit code
(0 ok, 1 drift / out of date, 2 error).  Anything else that escapes is a bug and keeps its traceback.
Heavy modules (rich, tomlkit, the resolvers) are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from envbuild import __version__
from envbuild.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, EnvbuildError

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


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


def _default_lock(lock: Path | None) -> Path:
    """-l LOCK as given, else envbuild.lock in the working directory (beside the spec)."""
    return lock if lock is not None else Path("envbuild.lock")


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="envbuild")
def cli() -> None:
    pass


_spec_option = click.option(
    "-s", "--spec", "spec", type=click.Path(path_type=Path), default=None,
    help="The spec: an envbuild.toml, or a pyproject.toml with [tool.envbuild]. [default: ./envbuild.toml, "
         "else ./pyproject.toml]")
_lock_option = click.option(
    "-l", "--lock", "lock_path", type=click.Path(path_type=Path), default=None,
    help="The lock to read. [default: envbuild.lock beside the spec]")
_platform_option = click.option(
    "--platform", default=None, metavar="PLATFORM",
    help="For a lock of several platforms: which one (linux/amd64, linux/arm64, macos/arm64). "
         "[default: the lock's only platform, else this host's]")


@cli.command("lock")
@_spec_option
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

    Packages that have no wheel for a target are listed: they compile when installed. One that imports a
    locked package while it builds (flash-attn and deepspeed import torch) needs [python] build-dependencies =
    {flash-attn = ["torch"]}; images then build it against the locked environment. [python] indexes and
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

    from envbuild import progress
    from envbuild.errors import ResolutionError

    try:
        outcome = lock_cmd.lock(spec, lock_path, upgrade=upgrade, upgrade_packages=upgrade_packages,
                                status=progress.status, strict_wheels=strict_wheels)
    except ResolutionError as exc:
        if verbose and exc.full:
            _echo_err(exc.full.rstrip())
        raise
    for warning in outcome.warnings:
        _echo_err(f"warning: {warning}")
    from envbuild.summary import print_lock_summary

    print_lock_summary(outcome)
    if verbose:
        for stage, seconds in outcome.stages:
            click.echo(f"  stage    {stage}: {seconds:.2f} s")
    return EXIT_OK


@cli.command("sync")
@_lock_option
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

    path = _default_lock(lock_path)
    if prefix is not None:
        done = sync_prefix(path, prefix)
        click.echo(f"{'Created and synced' if done.created else 'Synced'} {done.prefix}: {done.total} conda packages "
                   f"({len(done.installed)} installed, {len(done.removed)} removed)"
                   + (f"; {len(done.pip)} pip packages on top" if done.pip else ""))
        if venv is None:
            return EXIT_OK
    result = sync(path, venv if venv is not None else path.parent / ".venv")
    for warning in result.warnings:
        _echo_err(f"warning: {warning}")
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


@cli.command("export")
@_lock_option
@_platform_option
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
    from envbuild import lockfile
    from envbuild.export import export

    path = _default_lock(lock_path)
    source = lockfile.read_lock_text(path)
    whole = lockfile.loads_file(source, shown=str(path))
    text = export(whole, lockfile.choose_platform(whole, platform, str(path)), fmt, source,
                  local=str(path.parent.resolve()))
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        lockfile.write_atomic(output, text)
        _echo_err(f"Wrote {output}")
    return EXIT_OK


_templates_option = click.option(
    "--templates", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
    help="Templates that replace the built-in ones by name (Dockerfile.j2, envbuild.def.j2, devcontainer.json.j2); "
         'one may extend "builtin/Dockerfile.j2" and override only some blocks.')


@cli.command("render")
@_lock_option
@_platform_option
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
              default=None, help="The build context to write. [default: build/ beside the lock; for devcontainer, "
                                 "the lock's directory, which gets .devcontainer/]")
@click.option("--format", "fmt", type=click.Choice(["dockerfile", "apptainer", "devcontainer"]),
              default="dockerfile", show_default=True,
              help="dockerfile: a multi-stage BuildKit Dockerfile. apptainer: an envbuild.def for HPC clusters. "
                   "devcontainer: .devcontainer/ (devcontainer.json and its Dockerfile) for onboarding.")
@_templates_option
def render_command(lock_path: Path | None, platform: str | None, out_dir: Path | None, fmt: str,
                   templates: Path | None) -> int:
    """Write a build context for the lock: the build file, and a .envbuild/ folder with a copy of the lock,
    the hash-pinned requirements, the apt sources with each .deb's sha256, and the stdlib checker.

    Every pin of the lock is in the build file: FROM the base image by digest, each apt package at its
    version, each wheel by hash.  A build file that envbuild did not write is never overwritten.

    \b
    Examples:
      envbuild render && docker buildx build --network host build/      (or: envbuild build)
      envbuild render --format apptainer -o hpc && cd hpc && apptainer build trainer.sif envbuild.def
      envbuild render --format devcontainer            then "Reopen in Container" in VS Code
      envbuild render --templates ci/templates         with your own CA/proxy block
    """
    from envbuild.render import render

    path = _default_lock(lock_path)
    if out_dir is None:
        out_dir = path.parent if fmt == "devcontainer" else path.parent / "build"
    result = render(path, out_dir, fmt, templates, platform=platform)
    _echo_err(f"Wrote {result.build_file} and {len(result.files) - 1} support files in {result.directory}")
    return EXIT_OK


@cli.command("build")
@_lock_option
@_platform_option
@click.option("-t", "--tag", default=None, metavar="[REGISTRY/]NAME[:TAG]",
              help="The image's tag. [default: NAME:<12 hex of the lock's sha256>, so one lock gives one tag; "
                   "a tag without :TAG gets that hash]")
@click.option("--push", is_flag=True, help="Push the verified image to the registry its tag names.")
@click.option("--no-verify", is_flag=True, help="Skip the check of the new image against its own lock.")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream the build's output; print only the summary.")
@_templates_option
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

    path = _default_lock(lock_path)
    result = build(path, tag=tag, push=push, verify=not no_verify, templates=templates, platform=platform,
                   on_line=(lambda _: None) if quiet else (lambda line: click.echo(line, err=True)))
    _echo_err(f"\nImage   {result.tag}  ({result.image_id.removeprefix('sha256:')[:12]}, "
              f"{result.size / 1e6:.1f} MB, built in {result.seconds:.1f} s)")
    for stage, seconds, ran, cached in result.stages:
        _echo_err(f"  stage {stage:<10} {seconds:7.1f} s  {ran} steps run, {cached} from cache")
    if result.secrets:
        _echo_err(f"  secrets {', '.join(result.secrets)} (BuildKit; not in any layer)")
    if result.report is not None:
        from envbuild.check import report

        if not result.report["ok"]:
            report.show(result.report, first_line=False)
            _echo_err(f"envbuild: the image {result.tag} does not match its lock")
            return EXIT_DRIFT
        _echo_err(f"Verified: {report.verdict(result.report, subject=f'the image {result.tag}')}")
    if result.pushed:
        _echo_err(f"Pushed  {result.tag}@{result.pushed}")
    return EXIT_OK


@cli.command("record", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="A stable fingerprint of this environment (also envbuild.record()).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def record_command(args: tuple[str, ...]) -> int:
    """Print the fingerprint of this environment (see envbuild record --help)."""
    from envbuild.check.record import main as record

    return record(list(args))


@cli.command("check", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             add_help_option=False, short_help="Does this environment match the lock? (exit 1 on drift)")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check_command(args: tuple[str, ...]) -> int:
    """Compare a Python environment and this host with the lock (see envbuild check --help)."""
    from envbuild.check.cli import main as check

    return check(list(args))


from envbuild.cli import capture, review  # noqa: E402, F401 - their commands join the group


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI and turn envbuild's errors into exit codes, in this one place."""
    try:
        code = cli.main(args=argv, prog_name="envbuild", standalone_mode=False)
    except EnvbuildError as exc:
        sys.exit(exc.report())
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors
        exc.show()
        sys.exit(EXIT_ERROR)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _echo_err("envbuild: interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
