"""Benchmark: `envbuild diff` of two locks with 500 Python and 500 apt packages (a fifth of them changed, ten of
each added, five removed), in one run: the whole process (every form a user types: plain, --format markdown, --json)
and the comparison alone.  The locks have the shape `envbuild lock` writes today (the current lock version, a wheel
and an sdist with PyPI's URLs per Python package, who asked for each record): about 480 kB each.  Every form runs
in every round, in an order that moves round by round, beside a bare `python -c pass`: on a shared machine, whose
pace moves by up to 70% within minutes, the figures of one run are comparable, and the bare interpreter says how fast
the machine was.

    make bench      # or: .venv/bin/python bench/diff.py [--repeat 7]

Target (issue 11): < 150 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envbuild import lockfile  # noqa: E402
from envbuild.lockfile import PythonFile, PythonPackage, SystemPackage  # noqa: E402
from envbuild.review.diff import diff  # noqa: E402

BIN = Path(sys.executable).parent


def _pypi_url(digest: str, name: str) -> str:
    """A file's URL as PyPI gives it (files.pythonhosted.org/packages/ab/cd/<60 hex>/NAME)."""
    h = digest.removeprefix("sha256:")[::-1]
    return f"https://files.pythonhosted.org/packages/{h[:2]}/{h[2:4]}/{h[4:]}/{name}"


def locks(folder: Path) -> tuple[Path, Path]:
    """Two locks in the shape `envbuild lock` writes today (the current version: [[targets]], records that say who
    asked for them, a wheel and an sdist per Python package), on the example's target.  NEW upgrades or downgrades
    a fifth of the packages, re-uploads every fiftieth, drops five of each kind and adds ten of each, pulled in by
    packages already there (what a reviewer sees when a requirement is added)."""
    base = lockfile.read_lockfile(ROOT / "examples" / "trainer" / "envbuild.lock")
    assert base.version == lockfile.LOCK_VERSION and base.system is not None

    def python(i: int, shift: int) -> PythonPackage:
        name, version = f"pkg-{i:03d}", f"1.{i % 7 + (shift if i % 5 == 0 else 0)}.0"
        digest = f"sha256:{i + (shift if i % 50 == 0 else 0):064x}"
        sdist = f"sha256:{i + 1000:064x}"
        wheel, archive = f"pkg_{i:03d}-{version}-py3-none-any.whl", f"pkg_{i:03d}-{version}.tar.gz"
        files = (PythonFile(wheel, _pypi_url(digest, wheel), digest),
                 PythonFile(archive, _pypi_url(sdist, archive), sdist))
        return PythonPackage(name, version, tuple(sorted((digest, sdist))), files, requested=i % 10 == 0,
                             via=() if i % 10 == 0 else (f"pkg-{i - i % 10:03d}",))

    def system(i: int, shift: int) -> SystemPackage:
        return SystemPackage(f"lib-{i:03d}", f"{i % 9 + (shift if i % 5 == 1 else 0)}.0-1", "amd64",
                             f"{i + (shift if i % 50 == 0 else 0):064x}", requested=i % 10 == 0,
                             via=() if i % 10 == 0 else (f"lib-{i - i % 10:03d}",))

    def make(shift: int) -> str:
        kept = [i for i in range(500) if not shift or i % 100 != 7] + ([*range(500, 510)] if shift else [])
        packages = tuple(python(i, shift) for i in kept)
        return lockfile.dumps(dataclasses.replace(base, python=dataclasses.replace(base.python, packages=packages),
                                                  system=tuple(system(i, shift) for i in kept)))

    (folder / "old.lock").write_text(make(0))
    (folder / "new.lock").write_text(make(1))
    return folder / "old.lock", folder / "new.lock"


def git_repository(folder: Path, old: Path, new: Path) -> Path:
    """A repository whose HEAD holds OLD as envbuild.lock, with NEW in its working tree (the forms that read git)."""
    folder.mkdir()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    (folder / "envbuild.lock").write_bytes(old.read_bytes())
    subprocess.run([*git, "add", "envbuild.lock"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lock"], cwd=folder, check=True)
    (folder / "envbuild.lock").write_bytes(new.read_bytes())
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "envbuild")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        old, new = locks(Path(tmp))
        repo = git_repository(Path(tmp) / "repo", old, new)
        forms = {  # label: (arguments, working directory)
            "envbuild diff OLD NEW": ([str(old), str(new)], tmp),
            "--format markdown": ([str(old), str(new), "--format", "markdown"], tmp),
            "--json": ([str(old), str(new), "--json"], tmp),
            "envbuild diff (HEAD vs tree)": ([], str(repo)),
            "--format markdown HEAD": (["--format", "markdown", "HEAD"], str(repo)),
        }
        print(f"\ndiff: two locks of 500 Python and 500 apt packages; {args.repeat} whole processes each")
        runs = [(cold, label) for cold in (False, True) for label in forms] + [(False, "bare")]
        times: dict[tuple[bool, str], list[float]] = {run: [] for run in runs}
        for i in range(args.repeat + 1):  # the first round warms the page cache and the warm forms' cache
            # every form in every round, each round in another order: the machine's load hits every form alike
            for cold, label in runs[i % len(runs):] + runs[:i % len(runs)]:
                if label == "bare":  # the yardstick: this interpreter starting and doing nothing
                    started = time.perf_counter()
                    subprocess.run([sys.executable, "-c", "pass"], check=True)
                    times[cold, label].append(time.perf_counter() - started)
                    continue
                arguments, cwd = forms[label]
                env = {**os.environ, "ENVBUILD_CACHE_DIR": str(Path(tmp) / (f"cold-{label}-{i}" if cold
                                                                             else "warm"))}
                started = time.perf_counter()
                done = subprocess.run([str(BIN / "envbuild"), "diff", *arguments], cwd=cwd, capture_output=True,
                                      check=False, env=env)
                times[cold, label].append(time.perf_counter() - started)
                assert done.returncode == 1, done.stderr
        # the median, and the fastest run: on a shared machine, the one its neighbours disturbed least
        print(f"  {'':<35} median   fastest   (target < 150 ms; cold: neither lock parsed before)")
        for cold, label in runs:
            seconds = times[cold, label][1:]
            name = "python -c pass" if label == "bare" else label + (" (cold)" if cold else " (warm)")
            print(f"  {name:<35} {statistics.median(seconds) * 1000:6.1f}   {min(seconds) * 1000:7.1f} ms" +
                  ("   (the machine's pace during the run: 12-13 ms when it is quiet)" if label == "bare" else ""))
        a, b = lockfile.read_lockfile(old), lockfile.read_lockfile(new)
        started = time.perf_counter()
        changes = diff(a, b)
        print(f"  the comparison alone           {(time.perf_counter() - started) * 1000:7.1f} ms   ({len(changes)} "
              "changes)")


if __name__ == "__main__":
    main()
