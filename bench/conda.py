"""Benchmark: conda in envbuild against bare py-rattler, in one run, on loopback servers.

    make bench      # or: .venv/bin/python bench/conda.py [--records 20000] [--prefix-records 300] [--repeat 5]

1. Locking.  A synthetic channel of --records records (names x versions, linux-64 and noarch, each depending on a
   few names further down with version ranges, a tenth needing __glibc) is served from 127.0.0.1; a spec asks for
   40 of its names.  Timed as whole processes: `envbuild lock` from no lock (cold repodata cache), re-locked (warm),
   and a bare py-rattler solve of the same specs, subdir and virtual packages in a fresh Python (cold and warm
   cache).  The channel answers as conda-forge's servers do, with an ETag, so a warm cache is revalidated (304)
   rather than downloaded again.  Target (issue 10): envbuild <= 1.3x bare py-rattler.
2. Checking.  A prefix of --prefix-records real packages (built, indexed, locked and installed with
   `envbuild sync --prefix`), then `envbuild check --prefix` against reading every conda-meta record with
   py-rattler's `PrefixRecord.from_path` in a fresh Python (the fastest real reader here).  Target: >= 5x faster.

Every figure is the median of --repeat runs, interleaved so that the machine's load hits both sides alike.
envbuild and the venv are byte-compiled first, as an install leaves them (this machine sets
PYTHONDONTWRITEBYTECODE, which would make every run compile every module).
"""

from __future__ import annotations

import argparse
import hashlib
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
from tests.support.conda import CondaChannel, Pkg, build  # noqa: E402

BARE_SOLVE = """
import asyncio, json, sys
import rattler
channel, specs, virtual, cache = json.loads(sys.argv[1])
records = asyncio.run(rattler.solve(
    [channel], specs, gateway=rattler.Gateway(cache_dir=cache), platforms=["linux-64", "noarch"],
    virtual_packages=[rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v),
                                                    rattler.BuildString(b)) for n, v, b in virtual]))
print(len(records))
"""
BARE_READ = """
import glob, os, sys
import rattler
paths = sorted(glob.glob(os.path.join(sys.argv[1], "conda-meta", "*.json")))
records = [rattler.PrefixRecord.from_path(p) for p in paths]
print(len(records))
"""


def synthetic_channel(root: Path, records: int) -> list[str]:
    """ROOT/{linux-64,noarch}/repodata.json holding RECORDS records; returns the names a spec asks for."""
    rng = random.Random(10)  # noqa: S311 - a fixed channel, not a secret
    versions = 8
    names = [f"cpkg-{i:05d}" for i in range(records // versions)]
    subdirs: dict[str, dict[str, dict[str, object]]] = {"linux-64": {}, "noarch": {}}
    for i, name in enumerate(names):
        subdir = "noarch" if i % 5 == 0 else "linux-64"
        later = range(i + 1, len(names))
        for v in range(versions):
            version = f"{1 + v // 4}.{v % 4}.0"
            depends = [f"{names[j]} >={1 + rng.randrange(2)}.0" for j in rng.sample(later, min(3, len(later)))]
            if subdir == "linux-64" and i % 10 == 1:
                depends.append("__glibc >=2.17")
            fn = f"{name}-{version}-h{v}_0.conda"
            digest = hashlib.sha256(fn.encode()).hexdigest()
            subdirs[subdir][fn] = {"name": name, "version": version, "build": f"h{v}_0", "build_number": 0,
                                   "depends": depends, "subdir": subdir, "sha256": digest, "md5": digest[:32],
                                   "size": 1000 + v, "timestamp": 1700000000000 + v, "license": "MIT",
                                   **({"noarch": "generic"} if subdir == "noarch" else {})}
    for subdir, packages in subdirs.items():
        (root / subdir).mkdir(parents=True, exist_ok=True)
        body = {"info": {"subdir": subdir}, "packages": {}, "packages.conda": packages, "repodata_version": 1}
        (root / subdir / "repodata.json").write_text(json.dumps(body))
    return names[: len(names) // 2 : len(names) // 80][:40]


def run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    return seconds


def spec(folder: Path, apt: AptMirror, channel: str, packages: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envbuild.toml").write_text(
        f'[environment]\nname = "bench"\nplatform = "linux/amd64"\ndistro = "debian:bookworm"\npython = "3.11"\n\n'
        f'[system]\npackages = []\n{apt.spec_lines()}\n[conda]\nchannels = ["{channel}"]\n'
        f'packages = {json.dumps(packages)}\n\n[python]\nrequirements = []\n')


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired(ours: list[float], theirs: list[float]) -> float:
    """The median of each round's ratio: the two runs of a round are taken one after the other, so a change in the
    machine's load between rounds (this 2-core machine's drifts by up to 1.7x) moves both."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def bench_lock(work: Path, apt: AptMirror, records: int, repeat: int) -> None:
    envbuild = str(Path(sys.executable).parent / "envbuild")
    channel_root = work / "big-channel"
    asked = synthetic_channel(channel_root, records)
    with CondaChannel(channel_root) as channel:
        folder = work / "big"
        spec(folder, apt, channel.url, asked)
        env = {**os.environ, "ENVBUILD_CACHE_DIR": str(work / "cache")}
        run([envbuild, "lock"], folder, env)  # the apt mirror's Release and uv's cache, once
        from envbuild.resolve.conda import virtual_packages
        from envbuild.spec import load_spec

        loaded = load_spec(folder / "envbuild.toml")
        virtual = virtual_packages(loaded, "linux/amd64", loaded.environment.distro)
        times: dict[str, list[float]] = {}
        for attempt in range(repeat):
            # cold: no conda repodata cached (the apt and uv caches stay warm: they are not what is compared)
            shutil.rmtree(work / "cache" / "conda", ignore_errors=True)
            (folder / "envbuild.lock").unlink()
            args = json.dumps([channel.url, asked, virtual, str(work / f"bare-{attempt}")])
            ours = [("lock", [envbuild, "lock"]), ("relock", [envbuild, "lock"])]
            theirs = [("bare cold", [sys.executable, "-c", BARE_SOLVE, args]),
                      ("bare warm", [sys.executable, "-c", BARE_SOLVE, args])]
            for stage in (0, 1):  # cold, then warm; envbuild first in even rounds, the bare solve in odd ones
                pair = [ours[stage], theirs[stage]]
                for label, argv in pair if attempt % 2 == 0 else pair[::-1]:
                    times.setdefault(label, []).append(run(argv, folder, env))
        locked = len(_conda_names(folder / "envbuild.lock"))
    lock, relock = median(times["lock"]), median(times["relock"])
    cold, warm = median(times["bare cold"]), median(times["bare warm"])
    print(f"\nlock: a synthetic channel of {records:,} records, 40 specs solving to {locked} records, on loopback; "
          f"median of {repeat} whole processes")
    print(f"  envbuild lock (no lock, cold cache)  {lock:6.2f} s   bare py-rattler solve (cold)  {cold:6.2f} s   "
          f"{lock / cold:.2f}x   (paired {paired(times['lock'], times['bare cold']):.2f}x; target <= 1.3x)")
    print(f"  envbuild lock (re-lock, warm cache)  {relock:6.2f} s   bare py-rattler solve (warm)  {warm:6.2f} s   "
          f"{relock / warm:.2f}x   (paired {paired(times['relock'], times['bare warm']):.2f}x; target <= 1.3x)")


def _conda_names(lock: Path) -> list[str]:
    import tomllib

    return [p["name"] for p in tomllib.loads(lock.read_text())["conda"]["packages"]]


def bench_check(work: Path, apt: AptMirror, count: int, repeat: int) -> None:
    envbuild = str(Path(sys.executable).parent / "envbuild")
    channel_root = work / "small-channel"
    packages = [Pkg(f"rec-{i:03d}", "1.0", subdirs=("linux-64",),
                    files={f"share/rec-{i:03d}/{n}.txt": f"{i} {n}\n" for n in range(3)}) for i in range(count)]
    build(channel_root, packages)
    with CondaChannel(channel_root) as channel:
        folder = work / "prefix-project"
        spec(folder, apt, channel.url, [p.name for p in packages])
        env = {**os.environ, "ENVBUILD_CACHE_DIR": str(work / "cache")}
        run([envbuild, "lock"], folder, env)
        prefix = work / "prefix"
        run([envbuild, "sync", "--prefix", str(prefix)], folder, env)
    # the lock's Python is bookworm's 3.11.2: an empty venv of this host's python3 when it is that one, so that
    # the Python part of the check is clean too (this host's own apt packages still differ from the lock's)
    python = sys.executable
    if Path("/usr/bin/python3").exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(work / "venv")], check=True)
        python = str(work / "venv" / "bin" / "python")
    forms = {
        "envbuild check --prefix DIR": [envbuild, "check", "--prefix", str(prefix), "--python", python],
        "envbuild check --prefix DIR --json": [envbuild, "check", "--prefix", str(prefix), "--python", python,
                                               "--json"],
        "CONDA_PREFIX=DIR envbuild check": [envbuild, "check", "--python", python],
    }
    verdict = subprocess.run(forms["envbuild check --prefix DIR"], cwd=folder, env=env, capture_output=True,
                             text=True, check=False).stdout.strip().splitlines()
    times: dict[str, list[float]] = {}
    labels = [*forms, "bare"]
    for round_ in range(repeat + 1):  # the first round warms the page cache and the check's cache
        for label in labels[round_ % len(labels):] + labels[:round_ % len(labels)]:  # each takes every place in turn
            if label == "bare":
                times.setdefault("bare", []).append(run([sys.executable, "-c", BARE_READ, str(prefix)], folder, env))
                continue
            extra = {"CONDA_PREFIX": str(prefix)} if label.startswith("CONDA_PREFIX") else {}
            times.setdefault(label, []).append(run(forms[label], folder, {**env, **extra}, ok=(0, 1)))
    bare = median(times["bare"][1:])
    print(f"\ncheck: a prefix of {count} conda records (installed by envbuild sync --prefix); median of {repeat} whole "
          "processes")
    print(f"  (the check's verdict here: {verdict[-1] if verdict else '?'}: this host's apt packages are not the "
          "lock's bookworm closure; the conda part is clean)")
    print(f"  py-rattler PrefixRecord.from_path of every record   {bare * 1000:7.1f} ms")
    for label in forms:
        seconds = median(times[label][1:])
        print(f"  {label:<36} {seconds * 1000:7.1f} ms   {bare / seconds:5.1f}x faster   "
              f"(paired {paired(times['bare'][1:], times[label][1:]):.1f}x; target >= 5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--prefix-records", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for tree in (ROOT / "envbuild", Path(sys.prefix) / "lib"):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=False, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="envbuild-bench-conda-") as tmp:
        work = Path(tmp)
        with AptMirror(work / "apt") as apt:
            bench_lock(work, apt, args.records, args.repeat)
            bench_check(work, apt, args.prefix_records, args.repeat)


if __name__ == "__main__":
    main()
