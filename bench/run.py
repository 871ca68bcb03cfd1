"""Benchmark: envbuild lock against the tools users would otherwise run, on the same input, in one run.

    make bench                    # or: .venv/bin/python bench/run.py [--repeat 3] [--no-pip-compile]

For each requirement set it times, as whole processes with a shared warm uv cache:
  - plain `uv pip compile --generate-hashes` for the same target (linux/amd64, Python 3.11, glibc 2.36),
  - `envbuild lock` (lock removed before each run, so it resolves from scratch),
  - `pip-compile --generate-hashes` once (it can only lock for this host; its cache persists between bench runs),
then `envbuild lock --check`, and the peak memory (RSS summed over the process tree) of `envbuild lock`.
The spec also asks for apt packages (git, curl, libgl1) on bookworm, so `envbuild lock` is the whole lock;
the apt stage is timed with a warm and with an empty cache.
Targets: Python lock <= 1.3x plain uv; whole lock <= 1.5x; warm apt re-lock < 1 s; lock --check < 0.3 s;
peak memory < 300 MB.  And, in the same run, the same spec for two platforms (linux/amd64 + linux/arm64) against
one: from no lock and re-locked; target (issue 12): two platforms <= 1.6x one.
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
SYSTEM = ["git", "curl", "libgl1"]


def spec_text(requirements: list[str], platforms: tuple[str, ...] = ("linux/amd64",)) -> str:
    return (f'[environment]\nname = "bench"\nplatforms = {json.dumps(list(platforms))}\n'
            f'distro = "debian:bookworm"\npython = "3.11"\n\n[system]\npackages = {json.dumps(SYSTEM)}\n\n'
            f'[python]\nrequirements = {json.dumps(requirements)}\n')


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


def stages_of(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """Wall time of `envbuild lock -v` and the stage times it prints."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    stages = {}
    for line in done.stdout.splitlines():
        if line.strip().startswith("stage"):
            name, _, seconds = line.strip().removeprefix("stage").strip().rpartition(": ")
            stages[name] = float(seconds.split()[0])
    return elapsed, stages


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pip-compile", action="store_true", help="skip pip-compile (minutes when cold)")
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()

    env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv"), "PIP_CACHE_DIR": str(CACHE / "pip"),
           "XDG_CACHE_HOME": str(CACHE / "xdg"), "ENVBUILD_CACHE_DIR": str(CACHE / "envbuild")}
    env.pop("CI", None)
    uv = shutil.which("uv", path=str(BIN)) or "uv"
    envbuild = str(BIN / "envbuild")
    results: dict[str, dict[str, float]] = {}
    for name in args.sets.split(","):
        work = CACHE / "work" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "requirements.in").write_text("\n".join(SETS[name]) + "\n")
        (work / "envbuild.toml").write_text(spec_text(SETS[name]))
        lock, uv_output = work / "envbuild.lock", work / "requirements.txt"

        two = CACHE / "work" / f"{name}-two-platforms"
        shutil.rmtree(two, ignore_errors=True)
        two.mkdir(parents=True)
        (two / "envbuild.toml").write_text(spec_text(SETS[name], ("linux/amd64", "linux/arm64")))
        timed([envbuild, "lock"], work, env)  # warm every cache, and learn the exact interpreter
        timed([envbuild, "lock"], two, env)
        sys.path.insert(0, str(HERE.parent))
        from envbuild import lockfile

        exact = lockfile.read_lock(lock).python.version or "3.11"
        uv_exact = [uv, "pip", "compile", "requirements.in", "-o", "requirements.txt", "--generate-hashes", "-q",
                    "--python-version", exact, "--python-platform", TARGET[3]]
        uv_minor = [*uv_exact[:-4], "--python-version", "3.11", "--python-platform", TARGET[3]]
        timed(uv_exact, work, env)
        row: dict[str, float] = {}
        uv_times: list[float] = []
        uv_minor_times: list[float] = []
        fresh: list[float] = []
        relock: list[float] = []
        peaks: list[int] = []
        apt_warm: list[float] = []
        two_fresh: list[float] = []
        two_relock: list[float] = []
        for _ in range(args.repeat):  # interleaved, so that a network hiccup hits every tool alike
            uv_output.unlink(missing_ok=True)  # every tool starts from no previous output...
            uv_times.append(timed(uv_exact, work, env)[0])
            uv_output.unlink(missing_ok=True)
            uv_minor_times.append(timed(uv_minor, work, env)[0])
            lock.unlink(missing_ok=True)
            t, p = timed([envbuild, "lock"], work, env)
            fresh.append(t)
            peaks.append(p)
            t, stages = stages_of([envbuild, "lock", "-v"], work, env)  # ...except this re-lock, the daily case
            relock.append(t)
            apt_warm.append(stages.get("system (apt)", 0.0))
            (two / "envbuild.lock").unlink(missing_ok=True)
            two_fresh.append(timed([envbuild, "lock"], two, env)[0])
            two_relock.append(timed([envbuild, "lock"], two, env)[0])
        cold_env = {**env, "ENVBUILD_CACHE_DIR": str(CACHE / "envbuild-cold")}
        shutil.rmtree(CACHE / "envbuild-cold", ignore_errors=True)
        lock.unlink(missing_ok=True)
        _, cold_stages = stages_of([envbuild, "lock", "-v"], work, cold_env)
        row["uv pip compile"] = statistics.median(uv_times)
        row["uv (3.11)"] = statistics.median(uv_minor_times)
        row["envbuild lock"] = statistics.median(fresh)
        row["envbuild relock"] = statistics.median(relock)
        row["apt warm"] = statistics.median(apt_warm)
        row["apt cold"] = cold_stages.get("system (apt)", 0.0)
        row["envbuild peak MB"] = max(peaks) / 1e6
        row["two platforms"] = statistics.median(two_fresh)
        row["two platforms relock"] = statistics.median(two_relock)
        row["lock --check"] = median_of(10, [envbuild, "lock", "--check"], work, env)[0]
        if not args.no_pip_compile:
            pc_argv = [str(BIN / "pip-compile"), "requirements.in", "-o", "requirements-pc.txt", "--generate-hashes",
                       "-q", "--no-header"]
            row["pip-compile"] = timed(pc_argv, work, env)[0]
        row["packages"] = sum(1 for line in uv_output.read_text().splitlines() if "==" in line)
        row["apt packages"] = lock.read_text().count("[[system.packages]]")
        results[name] = row

    print(f"\n{'set':<7}{'pkgs':>5}{'apt':>5}{'uv':>8}{'uv 3.11':>9}{'envbuild':>10}{'ratio':>7}{'relock':>8}"
          f"{'ratio':>7}{'pip-compile':>13}{'x':>7}{'apt warm':>10}{'apt cold':>10}{'--check':>9}{'peak MB':>9}")
    for name, row in results.items():
        pc = row.get("pip-compile")
        pc_cols = f"{pc:>12.1f}s{pc / row['envbuild lock']:>6.0f}x" if pc else f"{'-':>13}{'-':>7}"
        base = row["uv pip compile"]
        print(f"{name:<7}{int(row['packages']):>5}{int(row['apt packages']):>5}{base:>7.2f}s"
              f"{row['uv (3.11)']:>8.2f}s{row['envbuild lock']:>9.2f}s{row['envbuild lock'] / base:>6.2f}x"
              f"{row['envbuild relock']:>7.2f}s{row['envbuild relock'] / base:>6.2f}x{pc_cols}"
              f"{row['apt warm']:>9.2f}s{row['apt cold']:>9.2f}s{row['lock --check']:>8.3f}s"
              f"{row['envbuild peak MB']:>9.0f}")
    print("\nuv: uv pip compile --generate-hashes for the lock's exact target (Python as the distro ships it);"
          " uv 3.11: the same with --python-version 3.11.\nenvbuild: envbuild lock from no lock (Python + apt closure"
          " + CUDA); relock: with the previous lock (pins kept). ratio: envbuild / uv.\nx: pip-compile / envbuild."
          " apt warm/cold: the apt stage with a warm / empty envbuild cache. Targets: Python lock <= 1.3x uv, whole"
          " lock <= 1.5x uv, apt warm < 1 s, --check < 0.3 s, peak < 300 MB.")
    print("\nTwo platforms (linux/amd64 + linux/arm64) in one lock against one (target <= 1.6x):")
    for name, row in results.items():
        print(f"  {name:<7} from no lock {row['two platforms']:.2f}s vs {row['envbuild lock']:.2f}s = "
              f"{row['two platforms'] / row['envbuild lock']:.2f}x; re-lock {row['two platforms relock']:.2f}s vs "
              f"{row['envbuild relock']:.2f}s = {row['two platforms relock'] / row['envbuild relock']:.2f}x")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "lock.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
