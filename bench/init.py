"""Benchmark: `envbuild init --from-host` (the capture, before the lock) against the tools a user would otherwise
run to write down an environment, on the same venv, in one run.

    make bench      # runs this too; or: .venv/bin/python bench/init.py [--repeat 7]

The venv holds 300 small distributions that depend on each other as real ones do (each on up to three earlier
ones, some through an extra), plus pip's seed: 304 in all.  Whole processes are timed (median of --repeat, after
one warm-up run), each writing a new spec with --no-lock (the lock is bench/run.py's subject):

  --from-host      VIRTUAL_ENV=.venv envbuild init --from-host --no-lock   (as after `. .venv/bin/activate`)
  .venv            envbuild init --from-host --no-lock                    (the .venv beside the new spec)
  --python         envbuild init --python .venv/bin/python --no-lock
  pip list         .venv/bin/python -m pip list --not-required --format freeze   (top-level names, no capture)
  pip freeze       .venv/bin/python -m pip freeze                          (everything, flat)
  uv pip freeze    uv pip freeze --python .venv/bin/python

Target (issue 12): init --from-host < 1 s plus the lock.  The capture reads this host's dpkg status and apt marks
too (what pip and uv do not), and checks nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "bench" / "init"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.support.pypi import make_wheel  # noqa: E402 - the same wheel builder the tests use

COUNT = 300


def venv() -> Path:
    """CACHE/project/.venv: COUNT bench distributions with dependencies, installed from local wheels."""
    folder = CACHE / "project"
    target = folder / ".venv"
    if (target / "bin" / "python").exists():
        return folder
    wheels = CACHE / "wheels"
    for i in range(COUNT):
        requires = [f"bench-dep-{j:03d}" for j in range(max(0, i - 3), i) if (i + j) % 4 == 0]
        if i % 25 == 1:  # an extra whose dependency is installed: init writes name[fast]
            requires.append(f"bench-dep-{i - 1:03d}; extra == 'fast'")
        make_wheel(wheels, f"bench-dep-{i:03d}", "1.0", requires,
                   module_text="".join(f"def f{j}(x):\n    return x * {j}\n" for j in range(50)))
    subprocess.run([str(BIN / "uv"), "venv", str(target), "--seed", "--python", "/usr/bin/python3", "-q"],
                   check=True)
    subprocess.run([str(BIN / "uv"), "pip", "install", "--python", str(target / "bin/python"), "--no-index",
                    "--find-links", str(wheels), "-q", *[f"bench-dep-{i:03d}" for i in range(COUNT)]], check=True)
    subprocess.run([str(target / "bin/python"), "-m", "compileall", "-q", str(target / "lib")], check=False)
    return folder


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeat: int, fresh_spec: bool) -> float:
    def once() -> float:
        if fresh_spec:
            for name in ("envbuild.toml", "envbuild.lock"):
                (cwd / name).unlink(missing_ok=True)
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, cwd=cwd, env=env, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:4])} exited {done.returncode}: {(done.stdout + done.stderr)[-600:]!r}")
        return elapsed

    once()
    return statistics.median(once() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if not Path("/usr/bin/python3").exists():
        raise SystemExit("bench/init.py needs the distro's /usr/bin/python3")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "envbuild")], check=True)
    folder = venv()
    python = str(folder / ".venv/bin/python")
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
        env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "ENVBUILD_CACHE_DIR": cache}
        envbuild = str(BIN / "envbuild")
        forms = {
            "--from-host": ([envbuild, "init", "--from-host", "--no-lock"], {"VIRTUAL_ENV": str(folder / ".venv")}),
            ".venv": ([envbuild, "init", "--from-host", "--no-lock"], {}),
            "--python": ([envbuild, "init", "--python", python, "--no-lock"], {}),
        }
        rows = {name: timed(argv, folder, {**env, **extra}, args.repeat, True) for name, (argv, extra) in
                forms.items()}
        others = {
            "pip list": timed([python, "-m", "pip", "list", "--not-required", "--format", "freeze"], folder, env,
                              args.repeat, False),
            "pip freeze": timed([python, "-m", "pip", "freeze"], folder, env, args.repeat, False),
            "uv pip freeze": timed([str(BIN / "uv"), "pip", "freeze", "--python", python], folder, env,
                                   args.repeat, False),
        }
    spec = (folder / "envbuild.toml").read_text()
    captured = spec.count("==1.0")
    count = len(list((folder / ".venv/lib").glob("python3*/site-packages/*.dist-info")))
    print(f"\n.venv of {count} distributions; median of {args.repeat} whole processes; the spec holds {captured} "
          "top-level requirements")
    print(f"  {'form':<14}{'seconds':>9}  {'vs pip list --not-required':>27}  {'vs uv pip freeze':>17}")
    for name, seconds in rows.items():
        print(f"  {name:<14}{seconds:>9.4f}  {others['pip list'] / seconds:>25.2f}x  "
              f"{seconds / others['uv pip freeze']:>15.2f}x")
    for name, seconds in others.items():
        print(f"  {name:<14}{seconds:>9.4f}")
    slowest = max(rows.values())
    print(f"\nTarget: init --from-host < 1 s plus the lock (slowest form: {slowest:.3f} s: "
          f"{'met' if slowest < 1 else 'MISSED'}).")
    shutil.rmtree(CACHE / "unused", ignore_errors=True)


if __name__ == "__main__":
    main()
