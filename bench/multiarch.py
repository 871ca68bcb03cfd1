"""Benchmark: the arm64 image of a two-platform lock against its amd64 image, built on this amd64 host.

    .venv/bin/python bench/multiarch.py

The bench's small image (numpy, six, idna from the real PyPI; git and libgomp1 from the Debian mirror), locked for
linux/amd64 and linux/arm64 on the CI bases of both (make provision: the amd64 minbase, and the arm64 one made with
debootstrap under qemu) behind one index on a docker-registry on 127.0.0.1.  With buildah, on storage roots of the
bench's own (the download caches, buildah's cache mounts, warmed once first, as a team's CI runner has them):
  amd64     `envbuild build --platform linux/amd64` on an empty root (timed)
  arm64     `envbuild build --platform linux/arm64` on an empty root (timed): apt and the user step under qemu,
            the Python layers in the python stage, on amd64 (target: <= 1.5x amd64; 6.4x before, all emulated)
  both      `envbuild build --push -t REG/bench/multi:cold` on an empty root: both images, checked, and the index
Prints every figure and the ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build import BASE, BIN, Storage, sh, timed  # noqa: E402 - the build bench's helpers
from tests.support.registry import Registry  # noqa: E402 - the same registry the tests use

ARM64 = os.environ.get("ENVBUILD_TEST_ARM64_IMAGE", "envbuild-ci/debian:bookworm-arm64")
REQUIREMENTS = ["numpy==1.26.4", "six==1.16.0", "idna==3.6"]


def bases(registry: Registry) -> str:
    """The amd64 and arm64 bases pushed, and an index of both: its reference."""
    amd64, arm64 = f"{registry.host}/debian:bookworm-amd64", f"{registry.host}/debian:bookworm-arm64"
    both = f"{registry.host}/debian:bookworm"
    sh(["docker", "tag", BASE, amd64])
    sh(["docker", "push", amd64])
    sh(["buildah", "push", "--quiet", "--tls-verify=false", ARM64, f"docker://{arm64}"])
    subprocess.run(["buildah", "manifest", "rm", "bench-multiarch"], capture_output=True, check=False)
    sh(["buildah", "manifest", "create", "bench-multiarch"])
    for reference in (amd64, arm64):
        sh(["buildah", "manifest", "add", "--tls-verify=false", "bench-multiarch", f"docker://{reference}"])
    sh(["buildah", "manifest", "push", "--all", "--tls-verify=false", "bench-multiarch", f"docker://{both}"])
    return both


def main() -> None:
    from envbuild.build.emulation import handler

    if shutil.which("buildah") is None or shutil.which("docker-registry") is None:
        raise SystemExit("bench/multiarch.py needs buildah and docker-registry (make provision)")
    if handler("linux/arm64") is None:
        raise SystemExit("no binfmt_misc handler for aarch64 (apt-get install qemu-user-static binfmt-support)")
    if subprocess.run(["buildah", "inspect", "--type", "image", ARM64], capture_output=True, check=False).returncode:
        raise SystemExit(f"the arm64 base {ARM64} is missing (make provision)")
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "registry").mkdir()
        with Registry(Path(scratch) / "registry", 6000 + os.getpid() % 1000) as registry:
            run(registry, Path(scratch))


def run(registry: Registry, scratch: Path) -> None:
    project = scratch / "multi"
    project.mkdir()
    (project / "envbuild.toml").write_text(
        f'[environment]\nname = "bench-multi"\nplatforms = ["linux/amd64", "linux/arm64"]\n'
        f'base-image = "{bases(registry)}"\npython = "3.11"\n\n[python]\nrequirements = {json.dumps(REQUIREMENTS)}\n\n'
        '[system]\npackages = ["git", "libgomp1"]\n')
    envbuild = [str(BIN / "envbuild")]
    sh([*envbuild, "lock"], cwd=project)
    build = [*envbuild, "build", "--engine", "buildah", "--no-verify"]
    warm = Storage()  # buildah's cache mounts (apt's .debs, uv's wheels) are shared by every root: warmed once
    try:
        sh([*build, "-q", "-t", "bench-multi:warm"], cwd=project, env=warm.env)
    finally:
        warm.close()
    figures: dict[str, float] = {}
    stages: list[str] = []
    for platform in ("linux/amd64", "linux/arm64"):
        storage = Storage()
        try:
            seconds, done = timed([*build, "--platform", platform, "-t", f"bench-multi:{platform[6:]}"],
                                  cwd=project, env=storage.env)
        finally:
            storage.close()
        figures[platform] = seconds
        stages += [f"{platform}: {line.strip()}" for line in done.stderr.splitlines()
                   if line.lstrip().startswith(("stage ", "emulated "))]
    storage = Storage()
    try:
        both, done = timed([*envbuild, "build", "--engine", "buildah", "--push", "-t",
                            f"{registry.host}/bench/multi:cold"], cwd=project, env=storage.env)
    finally:
        storage.close()
    pushed = next((line for line in done.stderr.splitlines() if line.startswith("Pushed")), "no index pushed")
    amd64, arm64 = figures["linux/amd64"], figures["linux/arm64"]
    print(json.dumps({"amd64_s": round(amd64, 1), "arm64_s": round(arm64, 1), "both_push_s": round(both, 1)}))
    print(f"[multi] amd64 image, cold        {amd64:7.1f} s")
    print(f"[multi] arm64 image, cold        {arm64:7.1f} s   = {arm64 / amd64:.2f}x amd64 (target <= 1.5x)")
    print(f"[multi] both, checked, one index {both:7.1f} s   ({pushed})")
    for line in stages:
        print(f"[multi]     {line}")


if __name__ == "__main__":
    main()
