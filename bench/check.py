"""Benchmark: every form of `envbuild check` against pip freeze and uv pip freeze, on the same venvs, in one run.

    make bench      # runs this after bench/run.py; or: .venv/bin/python bench/check.py [--repeat 7]

For each venv (one of 300 small distributions, one of 7), it makes a project folder holding the venv as .venv
and a lock of exactly what is installed, then times whole processes (median of --repeat, after one warm-up run):

  plain            envbuild check                        (cwd: the project; the .venv beside the lock)
  activated        envbuild check                        ($VIRTUAL_ENV set, as after `. .venv/bin/activate`)
  --python         envbuild check --python .venv/bin/python
  -l --python      envbuild check -l envbuild.lock --python .venv/bin/python
  --json           envbuild check --json
  record --json    envbuild record --json                 (the fingerprint of a run: the check and the host)
  cold             envbuild check, with an empty envbuild cache each run (the lock parsed, the venv asked)
  pip freeze       .venv/bin/python -m pip freeze
  uv pip freeze    uv pip freeze --python .venv/bin/python   (lists, checks nothing)

Targets (issue 13): each warm form >= 10x faster than pip freeze and within 2x of uv pip freeze (issue 11: record
< 100 ms); the import time
of the clean path (python -X importtime over the whole process) < 40 ms.  Then --deep (warm page cache) against
sha256sum over the same files, in MB/s.

Everything runs from bytecode, as an installed package does (pip compiles what it installs): envbuild and the
venvs are byte-compiled first, since this machine sets PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "bench" / "check"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.support.pypi import make_wheel  # noqa: E402 - the same wheel builder the tests use


def run(argv: list[str], cwd: Path, env: dict[str, str], expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, cwd=cwd, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        output = (done.stdout + done.stderr).decode()[-600:]
        raise SystemExit(f"{' '.join(argv[:4])} exited {done.returncode}: {output}")
    return elapsed


def median(argv: list[str], cwd: Path, env: dict[str, str], repeat: int, fresh_cache: bool = False) -> float:
    def once() -> float:
        if not fresh_cache:
            return run(argv, cwd, env)
        with tempfile.TemporaryDirectory() as empty:
            return run(argv, cwd, {**env, "ENVBUILD_CACHE_DIR": empty})

    once()  # warm: the page cache, uv's interpreter cache, envbuild's cache
    return statistics.median(once() for _ in range(repeat))


def project(n: int) -> Path:
    """CACHE/project-N: .venv with N bench distributions (plus pip and its seed), and a lock of all of it."""
    folder = CACHE / f"project-{n}"
    venv = folder / ".venv"
    uv = str(BIN / "uv")
    if not (venv / "bin" / "python").exists():
        wheels = CACHE / f"wheels-{n}"
        for i in range(n):
            body = "".join(f"def f{j}(x):\n    return x * {j}\n" for j in range(200))  # ~5 kB of code each
            make_wheel(wheels, f"bench-dist-{i:03d}", "1.0", module_text=body)
        subprocess.run([uv, "venv", str(venv), "--seed", "--python", sys.executable, "-q"], check=True)
        subprocess.run([uv, "pip", "install", "--python", str(venv / "bin/python"), "--no-index", "--find-links",
                        str(wheels), "-q", *[f"bench-dist-{i:03d}" for i in range(n)]], check=True)
        subprocess.run([str(venv / "bin/python"), "-m", "compileall", "-q", str(venv / "lib")], check=False)
    from envbuild import lockfile
    from envbuild.lockfile import Lock, PythonLock, PythonPackage, Target

    python = str(venv / "bin/python")
    version = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    frozen = subprocess.run([uv, "pip", "freeze", "--python", python], capture_output=True, text=True,
                            check=True).stdout.split()
    packages = tuple(PythonPackage(line.split("==")[0].lower(), line.split("==")[1], ("sha256:" + "0" * 64,))
                     for line in frozen)
    text = lockfile.dumps(Lock(spec_hash="sha256:bench", name="bench", target=Target("linux/amd64"),
                               python=PythonLock(requested=version, resolver="uv", index_url="x", packages=packages,
                                                 version=version), ignore_extra=()))
    lockfile.write_atomic(folder / "envbuild.lock", text)
    return folder


def import_ms(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(what the process imports beyond a bare interpreter's start-up, everything it imports, start-up included):
    the summed cumulative times of its top-level imports under python -X importtime, medians of 5."""
    bare = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
                          check=True).stderr
    before = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \| (\S.*)$", bare, re.M))
    beyond, total = [], []
    for _ in range(5):
        err = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, cwd=cwd,
                             env=env, check=False).stderr
        top = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", err, re.M)
        beyond.append(sum(int(us) for us, name in top if name not in before) / 1000)
        total.append(sum(int(us) for us, _ in top) / 1000)
    return statistics.median(beyond), statistics.median(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300,3", help="bench distributions per venv (pip's seed adds 4: 300 "
                        "gives the 304-distribution venv, 3 the 7-distribution one), comma-separated")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "envbuild")], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "ENVBUILD_CACHE_DIR": str(CACHE / "envbuild-cache")}
    envbuild = str(BIN / "envbuild")
    worst: list[tuple[str, float, float]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        folder = project(n)
        python = str(folder / ".venv/bin/python")
        count = len(list((folder / ".venv/lib").glob("python3*/site-packages/*.dist-info")))
        forms = {
            "plain": ([envbuild, "check"], {}),
            "activated": ([envbuild, "check"], {"VIRTUAL_ENV": str(folder / ".venv")}),
            "--python": ([envbuild, "check", "--python", python], {}),
            "-l --python": ([envbuild, "check", "-l", "envbuild.lock", "--python", python], {}),
            "--json": ([envbuild, "check", "--json"], {}),
            "record --json": ([envbuild, "record", "--json"], {}),  # issue 11: < 100 ms on the 304 venv
        }
        rows = {name: median(argv, folder, {**env, **extra}, args.repeat) for name, (argv, extra) in forms.items()}
        cold = median([envbuild, "check"], folder, env, args.repeat, fresh_cache=True)
        freeze = median([python, "-m", "pip", "freeze"], folder, env, args.repeat)
        uv_freeze = median([str(BIN / "uv"), "pip", "freeze", "--python", python], folder, env, args.repeat)
        print(f"\n.venv of {count} distributions ({n} bench + pip's seed); median of {args.repeat} whole processes")
        print(f"  {'form':<14}{'seconds':>9}  {'vs pip freeze':>14}  {'vs uv pip freeze':>17}")
        for name, seconds in rows.items():
            print(f"  {name:<14}{seconds:>9.4f}  {freeze / seconds:>12.1f}x  {seconds / uv_freeze:>15.2f}x")
            worst.append((f"{n}: {name}", freeze / seconds, seconds / uv_freeze))
        print(f"  {'cold cache':<14}{cold:>9.4f}  {freeze / cold:>12.1f}x  {cold / uv_freeze:>15.2f}x"
              "   (first check of a new lock or venv: parse + ask the interpreter)")
        print(f"  {'pip freeze':<14}{freeze:>9.4f}")
        print(f"  {'uv pip freeze':<14}{uv_freeze:>9.4f}")
        if n == max(int(s) for s in args.sizes.split(",")):
            plain_ms = import_ms([envbuild, "check"], folder, env)
            json_ms = import_ms([envbuild, "check", "--json"], folder, env)
            print(f"  import time (python -X importtime, whole process): plain {plain_ms[0]:.1f} ms beyond a bare "
                  f"start ({plain_ms[1]:.1f} ms with the interpreter's own), --json {json_ms[0]:.1f} ms "
                  f"({json_ms[1]:.1f} ms); target < 40 ms")
            for tool in ("check", "inspect"):
                seconds = median([python, "-m", "pip", tool], folder, env, args.repeat)
                print(f"  pip {tool:<10}{seconds:>9.4f}   envbuild check (plain) is "
                      f"{seconds / rows['plain']:.1f}x faster")
            site = next((folder / ".venv/lib").glob("python3*/site-packages"))
            files = [p for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            megabytes = sum(p.stat().st_size for p in files) / 1e6
            deep = median([envbuild, "check", "--deep"], folder, env, args.repeat)
            listing = CACHE / "files.txt"
            listing.write_text("\n".join(map(str, files)) + "\n")
            sha = median(["sh", "-c", f"xargs -d '\\n' sha256sum < {listing} > /dev/null"], folder, env, args.repeat)
            print(f"  check --deep  {deep:>9.4f}   ({megabytes / max(deep - rows['plain'], 1e-3):.0f} MB/s over the "
                  f"check alone; {len(files)} files, {megabytes:.1f} MB)")
            print(f"  sha256sum     {sha:>9.4f}   ({megabytes / sha:.0f} MB/s)")
    slowest = min(worst, key=lambda w: w[1])
    widest = max(worst, key=lambda w: w[2])
    print(f"\nTargets: >= 10x faster than pip freeze (worst: {slowest[0]} at {slowest[1]:.1f}x); within 2x of uv pip "
          f"freeze (worst: {widest[0]} at {widest[2]:.2f}x); import < 40 ms.")
    shutil.rmtree(CACHE / "unused", ignore_errors=True)


if __name__ == "__main__":
    main()
