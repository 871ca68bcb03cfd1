"""Benchmark: rebuilding an image whose lock changed one unrelated pin, when the lock holds an sdist that builds
against the locked environment ([python] build-dependencies, as flash-attn needs torch): with envbuild's wheel
cache (a cache mount keyed by what the sdist's build depends on) and without it, in one run.

    make bench      # or: .venv/bin/python bench/sdists.py [--compile-seconds 30]

The sdist is made here; its build imports a locked package and then takes --compile-seconds (a stand-in for
compiling: flash-attn takes tens of minutes, an apex or deepspeed op minutes).  Served from a PEP 503 index on
127.0.0.1 beside the locked wheels; the base image is the CI's python3 image pushed to a loopback registry.
  cold       envbuild build after `docker builder prune --all`
  cached     alpha 1.0 -> 1.1 in the spec, envbuild lock, envbuild build     (the sdist's wheel is reused)
  uncached   beta 1.1 -> 1.0, envbuild lock, the cache mounts pruned (`docker builder prune --filter
             type=exec.cachemount`: what a build without envbuild's wheel cache does), envbuild build
Target (issue 14): the rebuild after an unrelated pin change does not rebuild the sdist.  It prunes the engine's
build cache: don't run it where that cache matters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
BASE = os.environ.get("ENVBUILD_TEST_PYTHON_IMAGE", "envbuild-ci/python3:bookworm")
MIRROR = "http://deb.debian.org/debian"
REUSED = "the wheel built before (/root/.cache"  # what the build echoes when it reuses one
sys.path.insert(0, str(ROOT))

from bench.build import need_engine, sh, timed  # noqa: E402
from tests.support.pypi import LocalIndex, build_standard, make_sdist, make_wheel  # noqa: E402
from tests.support.registry import Registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compile-seconds", type=float, default=30)
    args = parser.parse_args()
    need_engine("bench/sdists.py", BASE)
    with tempfile.TemporaryDirectory() as scratch, Registry(Path(scratch), 5000 + os.getpid() % 1000) as registry:
        root = Path(scratch)
        (root / "index").mkdir()
        with LocalIndex(root / "index") as index:
            index.publish(*build_standard(root / "wheels"), make_wheel(root / "wheels", "torchy", "2.5.1"))
            make_sdist(index.root, "flashy", "0.1", needs="torchy", build_seconds=args.compile_seconds)
            base = f"{registry.host}/python3:bookworm"
            sh(["docker", "tag", BASE, base])
            sh(["docker", "push", base])
            project = root / "proj"
            project.mkdir()
            env = {**os.environ, "ENVBUILD_CACHE_DIR": str(root / "cache"), "UV_CACHE_DIR": str(root / "uv")}

            def relock(alpha: str, beta: str = "") -> None:
                (project / "envbuild.toml").write_text(
                    f'[environment]\nname = "bench-sdists"\nplatform = "linux/amd64"\nbase-image = "{base}"\n'
                    f'python = "3.11"\n\n[system]\nmirror = "{MIRROR}"\n\n[python]\n'
                    f'requirements = ["flashy", "torchy==2.5.1", "alpha=={alpha}"{beta}]\nindex-url = "{index.url}"\n'
                    'build-dependencies = {flashy = ["torchy"]}\n')
                sh([str(BIN / "envbuild"), "lock"], cwd=project, env=env)

            build = [str(BIN / "envbuild"), "build", "-t", "bench-sdists"]
            relock("1.0")
            sh(["docker", "builder", "prune", "--all", "--force"])
            cold, first = timed(build, cwd=project, env=env)
            relock("1.1")
            cached, second = timed(build, cwd=project, env=env)
            relock("1.1", ', "beta==1.0"')  # a third lock: no layer of it is cached
            sh(["docker", "builder", "prune", "--force", "--filter", "type=exec.cachemount"])
            uncached, third = timed(build, cwd=project, env=env)
            reused = [REUSED in done.stderr for done in (first, second, third)]
            print(json.dumps({"compile_s": args.compile_seconds, "cold_s": round(cold, 1),
                              "rebuild_cached_s": round(cached, 1), "rebuild_uncached_s": round(uncached, 1),
                              "sdist_reused": reused}))
            print("\nsdists: an image with one sdist built against the locked environment "
                  f"({args.compile_seconds:.0f} s to compile)")
            print(f"cold build                                   {cold:6.1f} s")
            print(f"rebuild, unrelated pin, with the wheel cache {cached:6.1f} s   sdist rebuilt: {not reused[1]}")
            print(f"rebuild, unrelated pin, cache mounts pruned  {uncached:6.1f} s   sdist rebuilt: {not reused[2]}")
            print(f"the wheel cache saves {uncached - cached:.1f} s ({cached / uncached:.0%} of the uncached rebuild)")


if __name__ == "__main__":
    main()
