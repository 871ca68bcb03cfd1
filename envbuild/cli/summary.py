"""What ``envbuild lock`` (and ``init``, which locks) prints: the counts, each platform's CUDA, and the pins that
changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from envbuild.commands.lock import LockResult
    from envbuild.lockfile import Lock


SUMMARY_LINES = 20


def _print_targets(views: list[Lock]) -> None:
    """Each platform's CUDA (and, for several platforms, its counts)."""
    for view in views:
        where = f"{view.target.platform}: " if len(views) > 1 else ""
        if len(views) > 1:
            apt = f", {len(view.system.packages)} system packages" if view.system is not None else ""
            where += f"{len(view.python.packages)} Python packages{apt}, Python {view.python.target_version}; "
        if view.cuda is not None:
            extras = ", ".join(f"{k} {v}" for k, v in (("cuDNN", view.cuda.cudnn), ("NCCL", view.cuda.nccl)) if v)
            click.echo(f"  {where}CUDA {view.cuda.runtime}{f' ({extras})' if extras else ''}: needs NVIDIA driver >= "
                       f"{view.cuda.min_driver}")
        elif len(views) > 1:
            click.echo(f"  {where}no CUDA")


def _print_sdists(outcome: LockResult) -> None:
    """Say early which packages compile at install time, and why that matters."""
    if not outcome.sdists:
        return
    from envbuild.resolve.builds import describe

    for sdist in outcome.sdists:
        click.echo(f"  sdist    {describe(sdist, outcome.lock.platforms)}")
    whole = outcome.lock
    if whole.python.build_packages:
        named = sorted({f"{p.name} {p.version}" for p in whole.python.build_packages if p.requested})
        rest = sorted({f"{p.name} {p.version}" for p in whole.python.build_packages if not p.requested} - set(named))
        group = named + rest  # what build-dependencies name first, then what those need
        images = sorted({v.build_image.reference for v in map(whole.view, whole.platforms) if v.build_image})
        where = f"in {', '.join(images)}" if images else "in the image's kernels stage (the system stage)"
        click.echo(f"  build    group of {len(group)} locked package{'s' if len(group) != 1 else ''} "
                   f"({', '.join(group[:6])}{', ...' if len(group) > 6 else ''}), installed only {where}")
    isolated = [s.name for s in outcome.sdists if not s.in_environment]
    click.echo(f"  note: {len(outcome.sdists)} package{'s' if len(outcome.sdists) != 1 else ''} will be compiled "
               "when installed: slower image builds, a compiler (and for GPU kernels CUDA's nvcc) in the build, and "
               "binaries that depend on that toolchain; `envbuild lock --strict-wheels` refuses sdists")
    if isolated:
        verb = "imports" if len(isolated) == 1 else "import"
        click.echo(f"  note: if {', '.join(isolated)} {verb} torch (or another locked package) to build, declare it: "
                   f'[python] build-dependencies = {{{isolated[0]} = ["torch"]}}')


def print_lock_summary(outcome: LockResult) -> None:
    from envbuild.validate import shown

    whole = outcome.lock
    views = [whole.view(p) for p in whole.platforms]
    first = views[0]
    count = len({p.name for p in whole.python.packages})
    what = f"{count} Python package{'s' if count != 1 else ''}"
    if whole.system is not None:
        what += f" and {len({(p.name, p.architecture) for p in whole.system})} system packages"
    if whole.conda is not None:
        what = what.replace(" and ", ", ") + f" and {len({p.name for p in whole.conda.packages})} conda packages"
    distros = sorted({v.target.distro for v in views if v.target.distro})
    target = ", ".join(whole.platforms) + (f" ({', '.join(distros)})" if distros else "")
    what += (f" for {target}, Python {first.python.target_version} ({first.python.resolver}, "
             f"{outcome.seconds:.1f} s)")
    if outcome.created:
        click.echo(f"Locked {what} -> {shown(outcome.path)}")
    elif outcome.written:
        click.echo(f"Updated {shown(outcome.path)}: {what}")
    else:
        click.echo(f"{shown(outcome.path)} is unchanged: {what}")
    _print_targets(views)
    _print_sdists(outcome)
    if outcome.created:
        return
    pins = [c for c in outcome.changes if c.part in ("python", "system")]
    for part, prefix in (("python", ""), ("system", "apt ")):
        # one line per package and kind of change, its versions on every platform joined (split 1.0, 2.0)
        kinds: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for c in pins:
            if c.part == part:
                kind = {"upgraded": "changed", "downgraded": "changed", "rebuilt": "rehashed"}.get(c.change, c.change)
                olds, news = kinds.setdefault((kind, c.name), (set(), set()))
                olds.update([c.old] if c.old else [])
                news.update([c.new] if c.new else [])

        rows = {kind: [(name, ", ".join(sorted(o)), ", ".join(sorted(n))) for (k, name), (o, n)
                       in sorted(kinds.items()) if k == kind] for kind in ("changed", "added", "removed", "rehashed")}
        lines = [f"  changed  {prefix}{name} {old} -> {new}" for name, old, new in rows["changed"]]
        lines += [f"  added    {prefix}{name} {new}" for name, _, new in rows["added"]]
        lines += [f"  removed  {prefix}{name} {old}" for name, old, _ in rows["removed"]]
        lines += [f"  rehashed {prefix}{name} (same version, other files or hashes)" for name, _, _ in rows["rehashed"]]
        for line in lines[:SUMMARY_LINES]:
            click.echo(line)
        if len(lines) > SUMMARY_LINES:
            click.echo(f"  ... and {len(lines) - SUMMARY_LINES} more {prefix}changes (see git diff of the lock)")
    if not pins and outcome.written:
        click.echo("  no pin changed")
