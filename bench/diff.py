"""Benchmark: `envbuild diff` of two locks with 500 Python and 500 apt packages (a fifth of them changed), in one
run: the whole process (every form a user types: plain, --format markdown, --json) and the comparison alone.

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


def locks(folder: Path) -> tuple[Path, Path]:
    base = lockfile.read_lock(ROOT / "fixtures" / "render" / "envbuild.lock")
    assert base.system is not None

    def make(shift: int) -> str:
        python = tuple(PythonPackage(f"pkg-{i:03d}", f"1.{i % 7 + (shift if i % 5 == 0 else 0)}.0",
                                     (f"sha256:{i:064x}",),
                                     (PythonFile(f"pkg_{i:03d}-1.0-py3-none-any.whl", f"https://f/{i}.whl",
                                                 f"sha256:{i:064x}"),)) for i in range(500))
        system = tuple(SystemPackage(f"lib-{i:03d}", f"{i % 9 + (shift if i % 5 == 1 else 0)}.0-1", "amd64",
                                     f"{i + shift:064x}" if i % 50 == 0 else f"{i:064x}") for i in range(500))
        return lockfile.dumps(dataclasses.replace(base, python=dataclasses.replace(base.python, packages=python),
                                                  system=dataclasses.replace(base.system, packages=system)))

    (folder / "old.lock").write_text(make(0))
    (folder / "new.lock").write_text(make(1))
    return folder / "old.lock", folder / "new.lock"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "envbuild")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        old, new = locks(Path(tmp))
        forms = {"envbuild diff OLD NEW": [], "--format markdown": ["--format", "markdown"], "--json": ["--json"]}
        print(f"\ndiff: two locks of 500 Python and 500 apt packages; median of {args.repeat} whole processes")
        for cold in (False, True):
            for label, extra in forms.items():
                times = []
                for i in range(args.repeat + 1):
                    env = {**os.environ, "ENVBUILD_CACHE_DIR": str(Path(tmp) / (f"cold-{label}-{i}" if cold
                                                                                 else "warm"))}
                    started = time.perf_counter()
                    done = subprocess.run([str(BIN / "envbuild"), "diff", str(old), str(new), *extra],
                                          capture_output=True, check=False, env=env)
                    times.append(time.perf_counter() - started)
                    assert done.returncode == 1, done.stderr
                print(f"  {label:<22}{' (cold)' if cold else ' (warm)'} {statistics.median(times[1:]) * 1000:7.1f} ms"
                      "   (target < 150 ms; cold: neither lock parsed before)")
        a, b = lockfile.read_lockfile(old), lockfile.read_lockfile(new)
        started = time.perf_counter()
        changes = diff(a, b)
        print(f"  the comparison alone     {(time.perf_counter() - started) * 1000:7.1f} ms   ({len(changes)} changes)")


if __name__ == "__main__":
    main()
