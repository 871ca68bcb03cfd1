"""Benchmark: envbuild build, cold and after one Python pin changes, and the image against a naive Dockerfile.

    make bench      # runs this after bench/check.py; or: .venv/bin/python bench/build.py

The loopback setup of the end-to-end tests: the CI base image (make provision imports it) pushed to a
docker-registry on 127.0.0.1, real wheels (numpy, six, idna: downloaded once from PyPI into .cache/bench/build)
served by a PEP 503 index on 127.0.0.1, and python3.11, git and libgomp1 (the apt set of examples/trainer)
from the Debian mirror.
  cold      `envbuild build` after `docker builder prune --all` (no layer, no apt or pip cache mount)
  rebuild   idna 3.6 -> 3.7 in the spec, `envbuild lock`, `envbuild build`   (target: <= 30% of cold)
  naive     one stage: FROM the same base, apt-get install the same packages, pip install the same pins
            (no --no-install-recommends, lists and pip cache left in the image), built cold too
Prints the times, the ratio, and both image sizes.  It prunes the engine's build cache: don't run it where
that cache matters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / ".cache" / "bench" / "build"
BIN = Path(sys.executable).parent
BASE = os.environ.get("ENVBUILD_TEST_BASE_IMAGE", "envbuild-ci/debian:bookworm")
WHEELS = ["numpy==1.26.4", "six==1.16.0", "idna==3.6", "idna==3.7"]
sys.path.insert(0, str(ROOT))

from tests.support.pypi import LocalIndex  # noqa: E402 - the same servers the tests use
from tests.support.registry import Registry  # noqa: E402


def sh(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{(done.stdout + done.stderr)[-2000:]}")
    return done  # type: ignore[no-any-return]


def timed(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = sh(argv, **kwargs)
    return time.perf_counter() - start, done


def wheels() -> Path:
    target = CACHE / "wheels"
    if not any(target.glob("idna-3.7*.whl")):
        target.mkdir(parents=True, exist_ok=True)
        for pin in WHEELS:
            sh([str(BIN / "python"), "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                "--platform", "manylinux2014_x86_64", "--python-version", "3.11", "-d", str(target), pin])
    return target


def docker_cli() -> list[str]:
    if subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "buildx", "build", "--load"]
    return ["/usr/bin/docker", "build"]


def size(tag: str) -> int:
    return int(sh(["docker", "image", "inspect", "--format", "{{.Size}}", tag]).stdout.strip())


def need_engine(bench: str, base: str) -> None:
    """Stop BENCH with the reason unless a Docker engine, docker-registry and the base image BASE are here."""
    if shutil.which("docker-registry") is None or subprocess.run(["docker", "info"], capture_output=True,
                                                                   check=False).returncode != 0:
        raise SystemExit(f"{bench} needs a Docker engine and docker-registry (make provision)")
    if subprocess.run(["docker", "image", "inspect", base], capture_output=True, check=False).returncode != 0:
        raise SystemExit(f"the base image {base} is missing (make provision)")


def main() -> None:
    need_engine("bench/build.py", BASE)
    with tempfile.TemporaryDirectory() as scratch, Registry(Path(scratch), 5000 + os.getpid() % 1000) as registry:
        (Path(scratch) / "index").mkdir()
        with LocalIndex(Path(scratch) / "index") as index:
            for wheel in wheels().glob("*.whl"):
                shutil.copy(wheel, index.root / wheel.name)
            base = f"{registry.host}/debian:bookworm"
            sh(["docker", "tag", BASE, base])
            sh(["docker", "push", base])
            project = Path(scratch) / "proj"
            project.mkdir()
            env = {**os.environ, "ENVBUILD_CACHE_DIR": str(Path(scratch) / "cache")}

            def spec(idna: str) -> None:
                (project / "envbuild.toml").write_text(
                    f'[environment]\nname = "bench"\nplatform = "linux/amd64"\nbase-image = "{base}"\n'
                    f'python = "3.11"\n\n[python]\nrequirements = ["numpy==1.26.4", "six==1.16.0", "idna=={idna}"]\n'
                    f'index-url = "{index.url}"\n\n[system]\npackages = ["git", "libgomp1"]\n')

            envbuild = [str(BIN / "envbuild")]
            spec("3.6")
            sh([*envbuild, "lock"], cwd=project, env=env)
            sh(["docker", "builder", "prune", "--all", "--force"])
            cold, first = timed([*envbuild, "build", "-q", "-t", "bench:cold"], cwd=project, env=env)
            spec("3.7")
            sh([*envbuild, "lock"], cwd=project, env=env)
            rebuild, second = timed([*envbuild, "build", "-q", "-t", "bench:rebuild"], cwd=project, env=env)

            lock = (project / "envbuild.lock").read_text()
            pins = re.findall(r'\[\[system\.packages\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock)
            naive = Path(scratch) / "naive"
            naive.mkdir()
            digest = re.search(r'digest = "(sha256:[0-9a-f]+)"', lock)
            assert digest
            sh([*envbuild, "export", "--format", "requirements", "-o", str(naive / "requirements.txt")],
               cwd=project, env=env)
            from envbuild.lockfile import loads
            from envbuild.render import apt_source_lines

            (naive / "sources.list").write_text("".join(f"{line}\n" for line in apt_source_lines(loads(lock))))
            (naive / "Dockerfile").write_text(
                f"FROM {base}@{digest.group(1)}\n"
                "COPY sources.list /etc/apt/sources.list\n"
                f"RUN apt-get update && apt-get install -y {' '.join(f'{n}={v}' for n, v in pins)}\n"
                "COPY requirements.txt /tmp/requirements.txt\n"
                "RUN python3.11 -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/requirements.txt\n")
            sh(["docker", "builder", "prune", "--all", "--force"])
            naive_cold, _ = timed([*docker_cli(), "--network", "host", "-q", "-t", "bench:naive", str(naive)],
                                  env={**os.environ, "DOCKER_BUILDKIT": "1"})
            ours, theirs = size("bench:rebuild"), size("bench:naive")
            print(json.dumps({"cold_s": round(cold, 1), "rebuild_s": round(rebuild, 1),
                              "naive_cold_s": round(naive_cold, 1), "envbuild_mb": round(ours / 1e6, 1),
                              "naive_mb": round(theirs / 1e6, 1)}))
            print(f"cold build            {cold:6.1f} s   (naive single stage: {naive_cold:.1f} s)")
            print(f"rebuild, 1 pin moved  {rebuild:6.1f} s   = {rebuild / cold:.0%} of cold (target <= 30%)")
            print(f"image size            {ours / 1e6:6.1f} MB  vs naive {theirs / 1e6:.1f} MB "
                  f"({ours / theirs:.2f}x)")
            for line in (first.stderr + second.stderr).splitlines():
                if line.lstrip().startswith(("stage ", "Image ")):
                    print("   ", line.strip())
            seconds = re.findall(r"built in ([0-9.]+) s", first.stderr + second.stderr)
            print(f"    of which docker build: {seconds[0]} s cold, {seconds[1]} s rebuild; the rest is render, "
                  "inspect and the in-image check")


if __name__ == "__main__":
    main()
