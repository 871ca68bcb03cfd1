"""Benchmark: envbuild check against pip freeze, pip check, uv pip freeze and pip inspect, on one venv.

    make bench      # runs this after bench/run.py; or: .venv/bin/python bench/check.py [--dists 300] [--repeat 5]

It builds N tiny wheels once (cached under .cache/bench/check), installs them into a venv seeded with pip,
locks them, and times whole processes on the same venv:
  envbuild check --python VENV/bin/python --json, VENV/bin/python -m pip freeze / check / inspect,
  uv pip freeze --python VENV/bin/python;
then `envbuild check --deep` (warm page cache) against `sha256sum` over the same files, as MB/s,
and the import time of the check path (python -X importtime).
Targets (issue 6): check >= 5x faster than pip freeze; --deep >= 50% of sha256sum's throughput; import < 60 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "bench" / "check"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.support.pypi import make_wheel  # noqa: E402 - the same wheel builder the tests use


def run(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv[:4])} failed: {done.stderr.decode()[-400:]}")
    return elapsed


def median(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    run(argv, env)  # warm
    return statistics.median(run(argv, env) for _ in range(repeat))


def build(n: int) -> tuple[Path, Path]:
    wheels, venv, lock = CACHE / f"wheels-{n}", CACHE / f"venv-{n}", CACHE / f"envbuild-{n}.lock"
    if not venv.exists():
        for i in range(n):
            body = "".join(f"def f{j}(x):\n    return x * {j}\n" for j in range(200))  # ~5 kB of code each
            make_wheel(wheels, f"bench-dist-{i:03d}", "1.0", module_text=body)
        uv = str(BIN / "uv")
        subprocess.run([uv, "venv", str(venv), "--seed", "--python", sys.executable, "-q"], check=True)
        subprocess.run([uv, "pip", "install", "--python", str(venv / "bin/python"), "--no-index", "--find-links",
                        str(wheels), "-q", *[f"bench-dist-{i:03d}" for i in range(n)]], check=True)
    from envbuild import lockfile
    from envbuild.lockfile import Lock, PythonLock, PythonPackage, Target

    version = subprocess.run([str(venv / "bin/python"), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    packages = tuple(PythonPackage(f"bench-dist-{i:03d}", "1.0", ("sha256:" + "0" * 64,)) for i in range(n))
    lock.write_text(lockfile.dumps(Lock(spec_hash="sha256:bench", name="bench", target=Target("linux/amd64"),
                                        python=PythonLock(requested=version, resolver="uv", index_url="x",
                                                          packages=packages, version=version),
                                        ignore_extra=("pip", "setuptools", "wheel"))))
    return venv, lock


def _import_ms(code: str) -> float:
    """The summed cumulative time of the top-level imports that CODE triggers (median of 5 runs)."""
    runs = []
    for _ in range(5):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                             check=True).stderr
        bare = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
                              check=True).stderr
        before = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \| (\S.*)$", bare, re.M))
        top = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", err, re.M)
        runs.append(sum(int(us) for us, name in top if name not in before) / 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dists", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    venv, lock = build(args.dists)
    py = str(venv / "bin/python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    rows = {
        "envbuild check": median([str(BIN / "envbuild"), "check", "-l", str(lock), "--python", py, "--json"],
                                 args.repeat, env),
        "pip freeze": median([py, "-m", "pip", "freeze"], args.repeat, env),
        "pip check": median([py, "-m", "pip", "check"], args.repeat, env),
        "uv pip freeze": median([str(BIN / "uv"), "pip", "freeze", "--python", py], args.repeat, env),
        "pip inspect": median([py, "-m", "pip", "inspect"], args.repeat, env),
    }
    site = next((venv / "lib").glob("python3*/site-packages"))
    files = [p for p in site.rglob("*") if p.is_file()]
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    deep = median([str(BIN / "envbuild"), "check", "-l", str(lock), "--python", py, "--json", "--deep"],
                  args.repeat, env)
    listing = CACHE / "files.txt"
    listing.write_text("\n".join(map(str, files)) + "\n")
    sha = median(["sh", "-c", f"xargs -d '\\n' sha256sum < {listing} > /dev/null"], args.repeat)
    imports_ms = _import_ms("import envbuild.entry, envbuild.commands.check, envbuild.check.compare, "
                            "envbuild.check.report")
    probe_ms = _import_ms("import envbuild.check.probe")

    base = rows["envbuild check"]
    print(f"\n{args.dists} distributions in one venv ({len(files)} files, {megabytes:.1f} MB); median of {args.repeat}")
    for name, seconds in rows.items():
        ratio = "" if name == "envbuild check" else f"   envbuild is {seconds / base:.1f}x faster"
        print(f"  {name:<16}{seconds:>8.3f} s{ratio}")
    print(f"  check --deep    {deep:>8.3f} s   ({megabytes / max(deep - base, 1e-3):.0f} MB/s over the check alone)")
    print(f"  sha256sum       {sha:>8.3f} s   ({megabytes / sha:.0f} MB/s)")
    print(f"  import time (python -X importtime, top-level cumulative): CLI check path {imports_ms:.0f} ms, "
          f"the probe alone {probe_ms:.0f} ms (target < 60 ms)")
    print("Targets: check >= 5x faster than pip freeze; --deep >= 50% of sha256sum's MB/s; import < 60 ms.")
    shutil.rmtree(CACHE / "unused", ignore_errors=True)


if __name__ == "__main__":
    main()
