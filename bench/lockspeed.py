"""Benchmark: envbuild lock for one, two and three platforms against uv on the same requirements, in one run.

    .venv/bin/python bench/lockspeed.py [--repeat 5] [--sets small,ml40]

For each requirement set (the real PyPI; bookworm's apt indexes for the spec's git), paired and interleaved, so that
a network hiccup hits every tool alike, with a shared warm uv cache (medians of --repeat):
  uv one        `uv pip compile --generate-hashes` for linux/amd64 (Python 3.11.2, glibc 2.36)
  uv universal  `uv pip compile --universal --generate-hashes` restricted to the targets (two, then three)
  one / two / three   `envbuild lock` re-locks of the spec for linux/amd64; + linux/arm64; + macos/arm64
  fresh         `envbuild lock` with the lock removed (one platform)
then once, cold (empty uv and envbuild caches): `uv pip compile` against `envbuild lock`, one platform.
Targets (issue 35): one platform <= 1.15x uv one (small spec); two <= 1.3x one; three <= 1.5x one; the
multi-platform lock <= 1.2x uv universal; cold <= 1.2x uv cold.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from platforms import timed  # noqa: E402 - the platform bench's whole-process timer

SETS = {
    "small": ["torch==2.5.1", "numpy", "tqdm"],
    "ml22": ["numpy<2", "scipy", "pandas", "scikit-learn", "matplotlib", "transformers", "datasets", "accelerate",
             "safetensors", "einops", "tqdm", "pyyaml", "requests", "pydantic", "fastapi", "uvicorn", "rich", "click",
             "jinja2", "pillow", "h5py", "pyarrow"],
}
PLATFORMS = {"one": ["linux/amd64"], "two": ["linux/amd64", "linux/arm64"],
             "three": ["linux/amd64", "linux/arm64", "macos/arm64"]}
MARKERS = {"linux/amd64": "sys_platform == 'linux' and platform_machine == 'x86_64'",
           "linux/arm64": "sys_platform == 'linux' and platform_machine == 'aarch64'",
           "macos/arm64": "sys_platform == 'darwin' and platform_machine == 'arm64'"}


def spec(requirements: list[str], platforms: list[str]) -> str:
    return (f'[environment]\nname = "bench"\nplatforms = {json.dumps(platforms)}\ndistro = "debian:bookworm"\n'
            f'python = "3.11"\n\n[system]\npackages = ["git"]\n\n[python]\nrequirements = {json.dumps(requirements)}\n')


def uv_project(directory: Path, requirements: list[str], platforms: list[str] | None) -> None:
    """A pyproject.toml for uv (the environments of a universal resolution are read from a project file only)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = f'[project]\nname = "bench"\nversion = "0"\ndependencies = {json.dumps(requirements)}\n'
    if platforms:
        environments = [f"{MARKERS[p]} and python_full_version == '3.11.2'" for p in platforms]
        text += f"\n[tool.uv]\nenvironments = {json.dumps(environments)}\n"
    (directory / "pyproject.toml").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    uv = shutil.which("uv", path=str(BIN)) or "uv"
    envbuild = str(BIN / "envbuild")
    with tempfile.TemporaryDirectory(prefix="envbuild-bench-lock-") as scratch:
        root = Path(scratch)
        env = {**os.environ, "UV_CACHE_DIR": str(root / "uv"), "ENVBUILD_CACHE_DIR": str(root / "envbuild"),
               "XDG_CONFIG_HOME": str(root / "config")}
        env.pop("CI", None)
        for name in args.sets.split(","):
            run_set(name, SETS[name], root / name, env, uv=uv, envbuild=envbuild, repeat=args.repeat)


def run_set(name: str, requirements: list[str], work: Path, env: dict[str, str], *, uv: str, envbuild: str,
            repeat: int) -> None:
    commands: dict[str, tuple[list[str], Path]] = {}
    for key, platforms in PLATFORMS.items():
        (work / key).mkdir(parents=True)
        (work / key / "envbuild.toml").write_text(spec(requirements, platforms))
        commands[key] = ([envbuild, "lock"], work / key)
    uv_project(work / "uv-one", requirements, None)
    commands["uv one"] = ([uv, "pip", "compile", "pyproject.toml", "-q", "--generate-hashes", "--python-version",
                           "3.11.2", "--python-platform", "x86_64-manylinux_2_36", "-o", "out.txt"], work / "uv-one")
    # the same with envbuild's own flags: --python names the interpreter that would build an sdist's metadata, which
    # spares uv its search of PATH (0.1-0.4 s where pyenv shims are on it)
    commands["uv one --python"] = ([*commands["uv one"][0], "--python", sys.executable], work / "uv-one")
    for key in ("two", "three"):
        uv_project(work / f"uv-{key}", requirements, PLATFORMS[key])
        commands[f"uv universal {key}"] = ([uv, "pip", "compile", "pyproject.toml", "-q", "--generate-hashes",
                                            "--universal", "--python-version", "3.11.2", "-o", "out.txt"],
                                           work / f"uv-{key}")
    for argv, cwd in commands.values():  # warm every cache; each envbuild spec gets its lock
        timed(argv, cwd, env)
    times: dict[str, list[float]] = {key: [] for key in [*commands, "fresh"]}
    for _ in range(repeat):
        for key, (argv, cwd) in commands.items():
            (cwd / "out.txt").unlink(missing_ok=True)
            times[key].append(timed(argv, cwd, env))
        (work / "one" / "envbuild.lock").unlink()
        times["fresh"].append(timed([envbuild, "lock"], work / "one", env))
    m = {key: statistics.median(values) for key, values in times.items()}
    cold_uv, cold_envbuild, cold_stages = cold(requirements, work, env, uv=uv, envbuild=envbuild)
    print(json.dumps({"set": name, **{k: round(v, 3) for k, v in m.items()}, "cold uv": cold_uv,
                      "cold envbuild": cold_envbuild}))
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in times.items()}
    print(f"[{name}] uv pip compile, one platform   {m['uv one']:6.2f} s  ({spread['uv one']}); with --python "
          f"{m['uv one --python']:.2f} s ({spread['uv one --python']})")
    print(f"[{name}] envbuild lock, one platform    {m['one']:6.2f} s  = {m['one'] / m['uv one']:.2f}x uv, "
          f"{m['one'] / m['uv one --python']:.2f}x uv --python (target <= 1.15x)  ({spread['one']}); "
          f"from no lock {m['fresh']:.2f} s")
    print(f"[{name}] uv --universal, two / three    {m['uv universal two']:6.2f} s / "
          f"{m['uv universal three']:.2f} s")
    print(f"[{name}] envbuild lock, two platforms   {m['two']:6.2f} s  = {m['two'] / m['one']:.2f}x one "
          f"(target <= 1.3x), {m['two'] / m['uv universal two']:.2f}x uv universal (target <= 1.2x)"
          f"  ({spread['two']})")
    print(f"[{name}] envbuild lock, three platforms {m['three']:6.2f} s  = {m['three'] / m['one']:.2f}x one "
          f"(target <= 1.5x), {m['three'] / m['uv universal three']:.2f}x uv universal (target <= 1.2x)"
          f"  ({spread['three']})")
    for key, seconds in cold_uv.items():
        print(f"[{name}] cold, {key}: uv {seconds:.2f} s, envbuild lock {cold_envbuild[key]:.2f} s = "
              f"{cold_envbuild[key] / seconds:.2f}x (target <= 1.2x); envbuild's stages: {cold_stages[key]}")


def cold(requirements: list[str], work: Path, env: dict[str, str], *, uv: str,
         envbuild: str) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Once each, with empty uv and envbuild caches: a Python-only spec (macos/arm64: no apt) and the Linux spec
    (whose first lock also downloads the distro's package indexes), against uv cold for the same target."""
    uv_s, envbuild_s, stages = {}, {}, {}
    for key, platform, wheel in (("python only (macos/arm64)", "macos/arm64", "aarch64-apple-darwin"),
                                 ("linux/amd64 with apt", "linux/amd64", "x86_64-manylinux_2_36")):
        here = work / f"cold-{platform.replace('/', '-')}"
        uv_project(here / "uv", requirements, None)
        (here / "lock").mkdir()
        text = spec(requirements, [platform])
        (here / "lock" / "envbuild.toml").write_text(text if platform.startswith("linux") else
                                                     text.replace('distro = "debian:bookworm"\n', "")
                                                     .replace('[system]\npackages = ["git"]\n\n', ""))
        caches = {**env, "UV_CACHE_DIR": str(here / "uv-cache"), "ENVBUILD_CACHE_DIR": str(here / "envbuild-cache")}
        uv_s[key] = timed([uv, "pip", "compile", "pyproject.toml", "-q", "--generate-hashes", "--python-version",
                           "3.11.2", "--python-platform", wheel, "-o", "out.txt"], here / "uv", caches)
        shutil.rmtree(here / "uv-cache")
        start = time.perf_counter()
        done = subprocess.run([envbuild, "lock", "-v"], cwd=here / "lock", env=caches, capture_output=True,
                              text=True, check=False)
        envbuild_s[key] = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"envbuild lock failed: {done.stderr[-800:]}")
        stages[key] = "; ".join(line.strip().removeprefix("stage").strip()
                                for line in (done.stdout + done.stderr).splitlines()
                                if line.strip().startswith("stage "))
    return uv_s, envbuild_s, stages


if __name__ == "__main__":
    main()
