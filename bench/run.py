"""Benchmark: envbuild lock against the tools users would otherwise run, on the same input, in one run.

    make bench                    # or: .venv/bin/python bench/run.py [--repeat 3] [--no-pip-compile]

For each requirement set it times, as whole processes with a shared warm uv cache:
  - plain `uv pip compile --generate-hashes` for the same target (linux/amd64, Python 3.11, glibc 2.36),
  - `envbuild lock` (lock removed before each run, so it resolves from scratch),
  - `pip-compile --generate-hashes` once (it can only lock for this host; its cache persists between bench runs),
then `envbuild lock --check`, and the peak memory (RSS summed over the process tree) of `envbuild lock`.
Targets (issue 3): envbuild <= 1.3x plain uv; lock --check < 0.3 s; peak memory < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent / ".cache" / "bench"
BIN = Path(sys.executable).parent

SETS = {
    "torch": ["torch==2.5.1", "numpy<2"],
    "ml40": [
        "numpy<2", "scipy", "pandas", "scikit-learn", "matplotlib", "seaborn", "transformers", "tokenizers",
        "datasets", "accelerate", "safetensors", "huggingface-hub", "sentencepiece", "einops", "tqdm", "pyyaml",
        "requests", "pydantic", "fastapi", "uvicorn", "rich", "click", "jinja2", "pillow",
        "opencv-python-headless", "h5py", "pyarrow", "polars", "tensorboard", "optuna", "hydra-core",
        "omegaconf", "xgboost", "lightgbm", "numba", "sympy", "networkx", "protobuf", "onnx", "regex", "nltk",
    ],
}
TARGET = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_36"]


def spec_text(requirements: list[str]) -> str:
    reqs = ", ".join(f'"{r}"' for r in requirements)
    return (f'[environment]\nname = "bench"\nplatform = "linux/amd64"\ndistro = "debian:bookworm"\n'
            f'python = "3.11"\n\n[python]\nrequirements = [{reqs}]\n')


def timed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> tuple[float, int]:
    """Wall time of one whole process, and the peak RSS (bytes) summed over its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        stop.set()
        return float("inf"), peak[0]
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({proc.returncode}): {err.strip()[-500:]}")
    return elapsed, peak[0]


def tree_rss(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def median_of(runs: int, argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    times, peaks = [], []
    for _ in range(runs):
        t, p = timed(argv, cwd, env)
        times.append(t)
        peaks.append(p)
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pip-compile", action="store_true", help="skip pip-compile (slow when cold)")
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()

    env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv"), "PIP_CACHE_DIR": str(CACHE / "pip"),
           "XDG_CACHE_HOME": str(CACHE / "xdg")}
    env.pop("CI", None)
    uv = shutil.which("uv", path=str(BIN)) or "uv"
    results: dict[str, dict[str, float]] = {}
    for name in args.sets.split(","):
        work = CACHE / "work" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "requirements.in").write_text("\n".join(SETS[name]) + "\n")
        (work / "envbuild.toml").write_text(spec_text(SETS[name]))
        lock = work / "envbuild.lock"
        uv_argv = [uv, "pip", "compile", "requirements.in", "-o", "requirements.txt", "--generate-hashes", "-q",
                   *TARGET]
        eb_argv = [str(BIN / "envbuild"), "lock"]
        uv_output = work / "requirements.txt"

        timed(uv_argv, work, env)  # warm the shared cache
        lock.unlink(missing_ok=True)
        timed(eb_argv, work, env)
        row: dict[str, float] = {}
        # interleave so that a network hiccup hits both tools alike
        uv_times, eb_times, peaks = [], [], []
        for _ in range(args.repeat):
            # both start from nothing: an existing output file would give either tool preferences
            uv_output.unlink(missing_ok=True)
            uv_times.append(timed(uv_argv, work, env)[0])
            lock.unlink(missing_ok=True)
            t, p = timed(eb_argv, work, env)
            eb_times.append(t)
            peaks.append(p)
        row["uv pip compile"] = statistics.median(uv_times)
        row["envbuild lock"] = statistics.median(eb_times)
        row["envbuild peak MB"] = max(peaks) / 1e6
        row["lock --check"] = median_of(10, [str(BIN / "envbuild"), "lock", "--check"], work, env)[0]
        if not args.no_pip_compile:
            pc_argv = [str(BIN / "pip-compile"), "requirements.in", "-o", "requirements-pc.txt", "--generate-hashes",
                       "-q", "--no-header"]
            row["pip-compile"] = timed(pc_argv, work, env)[0]
        packages = sum(1 for line in (work / "requirements.txt").read_text().splitlines() if "==" in line)
        row["packages"] = packages
        results[name] = row

    print(f"\n{'set':<8}{'pkgs':>6}{'uv pip compile':>16}{'envbuild lock':>15}{'ratio':>8}{'pip-compile':>13}"
          f"{'ratio':>8}{'lock --check':>14}{'peak MB':>9}")
    for name, row in results.items():
        pc = row.get("pip-compile")
        pc_cols = f"{pc:>12.2f}s{pc / row['envbuild lock']:>7.1f}x" if pc else f"{'-':>13}{'-':>8}"
        print(f"{name:<8}{int(row['packages']):>6}{row['uv pip compile']:>15.2f}s{row['envbuild lock']:>14.2f}s"
              f"{row['envbuild lock'] / row['uv pip compile']:>7.2f}x{pc_cols}{row['lock --check']:>13.3f}s"
              f"{row['envbuild peak MB']:>9.0f}")
    print("\nratio: envbuild / uv (target <= 1.3x); pip-compile / envbuild (how much faster envbuild is); "
          "targets: lock --check < 0.3 s, peak < 300 MB")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "lock.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
