"""Benchmark: what checking the apt archives' signatures costs a warm re-lock, in one run.

    make bench      # or: .venv/bin/python bench/signatures.py [--repeat 9]

Two specs that differ only in trust lock the same apt sources: one verifies every suite's InRelease (the default;
[system] signed-by for the loopback mirror), the other takes them unsigned ([system] insecure-unsigned = true,
which skips the verification and nothing else).  Each is locked once (cold), then re-locked --repeat times,
interleaved, and the "apt indexes" stage that `envbuild lock -v` reports is compared (its median), as well as the
whole process.  On the loopback mirror of the tests (signed by a key made here), and on deb.debian.org when it can
be reached (verified with the shipped Debian keys).  Target (issue 15): <= +50 ms on a warm re-lock.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.apt import AptMirror  # noqa: E402 - the tests' real, signed loopback mirror
from tests.support.pypi import LocalIndex, build_standard  # noqa: E402 - and their loopback index

BIN = Path(sys.executable).parent


INDEX = ""  # the loopback index's URL, once it runs


def spec(folder: Path, system: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envbuild.toml").write_text(
        '[environment]\nname = "bench"\nplatform = "linux/amd64"\ndistro = "debian:bookworm"\npython = "3.11"\n\n'
        f'[system]\npackages = ["git"]\n{system}\n[python]\nrequirements = ["alpha"]\nindex-url = "{INDEX}"\n')


def relock(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """(the apt indexes stage, the whole process) of one `envbuild lock -v`, in seconds."""
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "envbuild"), "lock", "-v"], cwd=folder, env=env, capture_output=True, text=True,
                          check=False)
    whole = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"envbuild lock failed in {folder}: {done.stderr.strip()[-400:]}")
    match = re.search(r"stage +apt indexes: ([\d.]+) s", done.stdout)
    return (float(match.group(1)) if match else float("nan")), whole


def compare(label: str, signed: Path, unsigned: Path, env: dict[str, str], repeat: int) -> None:
    for folder in (signed, unsigned):
        relock(folder, env)  # cold: indexes downloaded, closure computed
    rows: dict[str, list[tuple[float, float]]] = {"signed": [], "unsigned": []}
    for _ in range(repeat):
        rows["signed"].append(relock(signed, env))
        rows["unsigned"].append(relock(unsigned, env))
    (stage_s, whole_s), (stage_u, whole_u) = (
        tuple(statistics.median(values) for values in zip(*rows[key], strict=True)) for key in ("signed", "unsigned"))
    print(f"\n{label}: warm re-lock, median of {repeat}")
    print(f"  apt indexes stage   verified {stage_s * 1000:7.1f} ms   unsigned {stage_u * 1000:7.1f} ms   "
          f"+{(stage_s - stage_u) * 1000:5.1f} ms   (target <= +50 ms)")
    print(f"  whole envbuild lock verified {whole_s * 1000:7.1f} ms   unsigned {whole_u * 1000:7.1f} ms   "
          f"+{(whole_s - whole_u) * 1000:5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "envbuild")], check=True)
    global INDEX  # noqa: PLW0603 - set once, for spec()
    with tempfile.TemporaryDirectory(prefix="envbuild-bench-signatures-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "ENVBUILD_CACHE_DIR": str(work / "cache")}
        (work / "index").mkdir()
        index = LocalIndex(work / "index").__enter__()
        index.publish(*build_standard(work / "wheels"))
        INDEX = index.url
        with AptMirror(work / "mirror") as mirror:
            lines = f'mirror = "{mirror.url}/debian"\nsecurity-mirror = "{mirror.url}/debian-security"\n'
            spec(work / "loop-signed", lines + f'signed-by = "{mirror.key_file}"\n')
            spec(work / "loop-unsigned", lines + "insecure-unsigned = true\n")
            compare("loopback mirror (3 suites, signed by a test key)", work / "loop-signed", work / "loop-unsigned",
                    env, args.repeat)
        try:
            import requests

            requests.head("http://deb.debian.org/debian/dists/bookworm/InRelease", timeout=5).raise_for_status()
        except Exception as exc:
            print(f"\ndeb.debian.org: not reachable ({type(exc).__name__}); skipped")
            return
        spec(work / "real-signed", "")
        spec(work / "real-unsigned", "insecure-unsigned = true\n")
        compare("deb.debian.org (bookworm, -updates, -security; the shipped Debian keys)", work / "real-signed",
                work / "real-unsigned", env, args.repeat)


if __name__ == "__main__":
    main()
