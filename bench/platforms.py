"""Benchmark: one lock for two Linux platforms against one platform, in one run, on loopback servers.

    make bench      # or: .venv/bin/python bench/platforms.py [--packages 150] [--repeat 5]

A PEP 503 index on 127.0.0.1 serves a synthetic graph of --packages distributions (a third with wheels for x86_64
and aarch64, the rest pure Python, each depending on a few others) and the tests' apt mirror serves bookworm for
amd64 and arm64; the spec asks for git and libgomp1 too.  Whole `envbuild lock` processes are timed (median of
--repeat), from no lock and re-locked, for linux/amd64 alone and for linux/amd64 + linux/arm64.
Target (issue 12): two platforms <= 1.6x one.

Loopback servers keep the comparison about envbuild itself: behind this machine's proxy, two resolutions at once
sometimes wait out a 5 s stall that one does not (bench/run.py shows it against the real PyPI).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.apt import AptMirror  # noqa: E402 - the tests' real servers
from tests.support.pypi import LocalIndex, make_wheel  # noqa: E402

ARCHES = ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64")


def publish(index: LocalIndex, count: int, scratch: Path) -> list[str]:
    """COUNT distributions with a fixed random graph; returns the top-level requirements (every tenth)."""
    rng = random.Random(12)  # noqa: S311 - a fixed graph, not a secret
    names = [f"bench-pkg-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        requires = sorted({names[j] for j in rng.sample(range(i + 1, count), min(3, count - i - 1))} if i < count - 1
                          else set())
        for version in ("1.0", "1.1"):
            tags = [f"py3-none-{arch}" for arch in ARCHES] if i % 3 == 0 else ["py3-none-any"]
            for tag in tags:
                index.publish(make_wheel(scratch, name, version, requires, tag))
    return names[::10]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-600:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    envbuild = str(Path(sys.executable).parent / "envbuild")
    with tempfile.TemporaryDirectory(prefix="envbuild-bench-") as tmp:
        work = Path(tmp)
        (work / "index").mkdir()
        with LocalIndex(work / "index") as index, AptMirror(work / "apt") as apt:
            top = publish(index, args.packages, work / "wheels")
            env = {**os.environ, "UV_CACHE_DIR": str(work / "uv"), "ENVBUILD_CACHE_DIR": str(work / "cache")}
            projects = {}
            for label, platforms in (("one", ["linux/amd64"]), ("two", ["linux/amd64", "linux/arm64"])):
                folder = work / label
                folder.mkdir()
                (folder / "envbuild.toml").write_text(
                    f'[environment]\nname = "bench"\nplatforms = {json.dumps(platforms)}\ndistro = "debian:bookworm"\n'
                    f'python = "3.11"\n\n[system]\npackages = ["git", "libgomp1"]\n{apt.spec_lines()}\n'
                    f'[python]\nrequirements = {json.dumps(top)}\nindex-url = "{index.url}"\n')
                projects[label] = folder
                timed([envbuild, "lock"], folder, env)  # warm uv's and envbuild's caches
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.repeat):  # interleaved, so that the machine's load hits both alike
                for label, folder in projects.items():
                    (folder / "envbuild.lock").unlink()
                    times.setdefault((label, "fresh"), []).append(timed([envbuild, "lock"], folder, env))
                    times.setdefault((label, "relock"), []).append(timed([envbuild, "lock"], folder, env))
    print(f"\n{args.packages} distributions ({len(top)} top-level requirements) and the apt closure of git + libgomp1,"
          f" on loopback servers; median of {args.repeat} whole processes")
    for kind in ("fresh", "relock"):
        one = statistics.median(times[("one", kind)])
        two = statistics.median(times[("two", kind)])
        what = "from no lock" if kind == "fresh" else "re-locked  "
        print(f"  {what}  linux/amd64 {one:.2f} s   + linux/arm64 {two:.2f} s   = {two / one:.2f}x   (target <= 1.6x)")
    shutil.rmtree(ROOT / ".cache" / "bench" / "unused", ignore_errors=True)


if __name__ == "__main__":
    main()
