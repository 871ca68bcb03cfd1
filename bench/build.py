"""Benchmark: envbuild build (buildah, reproducible, layered) against a naive single-stage Dockerfile.

    make bench      # runs this after the others; or: .venv/bin/python bench/build.py [small|torch ...]

Two images, locked from the real PyPI (through the proxy, its CA as a build secret) on the CI base image (make
provision imports it; pushed to a docker-registry on 127.0.0.1), with git and libgomp1 from the Debian mirror:
  small   numpy, six, idna
  torch   torch, numpy, scipy, scikit-learn, pandas, idna (6 GB: the CUDA wheels)
For each, with buildah on storage roots of the bench's own (under /var/tmp; the download caches, buildah's cache
mounts, are warmed once first, as a team's CI runner has them):
  cold      `envbuild build` on an empty storage root (timed), then pushed (`build --push`: cached, then the push)
  again     the same lock on a second empty storage root, pushed: the same manifest digest in the registry?
  rebuild   idna 3.6 -> 3.7 in the spec, `envbuild lock`, `envbuild build` on the first root (timed), then pushed
            (targets: <= 10% of cold's time; new layers <= 5% of the image's compressed bytes)
  naive     FROM the same base; apt-get install the same pins; pip install -r requirements.txt (hash-checked),
            the pip cache a cache mount too (the pip of Debian's python3.11-venv wrote nothing into it here, so
            this build downloads its wheels each time); built with buildah on an empty root (targets: cold <= 0.6x
            its time, size <= 0.6x its size)
Prints every figure and each ratio.
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
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
BASE = os.environ.get("ENVBUILD_TEST_BASE_IMAGE", "envbuild-ci/debian:bookworm")
IMAGES = {"small": ["numpy==1.26.4", "six==1.16.0"],
          "torch": ["torch==2.5.1", "numpy<2", "scipy", "scikit-learn", "pandas"]}
sys.path.insert(0, str(ROOT))

from tests.support.registry import Registry  # noqa: E402 - the same registry the tests use

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sh(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:5])} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return done


def timed(argv: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = sh(argv, **kwargs)
    return time.perf_counter() - start, done


class Storage:
    """A buildah storage root of the bench's own (CONTAINERS_STORAGE_CONF), removed after."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="envbuild-bench-", dir="/var/tmp"))
        self.conf = self.path / "storage.conf"
        self.conf.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{self.path}/graph"\n'
                             f'runroot = "{self.path}/run"\n')
        self.env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(self.conf)}

    def close(self) -> None:
        for args in (["rm", "--all"], ["rmi", "--all", "--force"]):
            subprocess.run(["buildah", *args], env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)


def layers(registry: Registry, reference: str) -> list[dict[str, Any]]:
    import requests

    name, _, tag = reference.removeprefix(f"{registry.host}/").rpartition(":")
    manifest = requests.get(f"http://{registry.host}/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST},
                            timeout=60).json()
    return list(manifest["layers"])


def pushed_digest(done: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"Pushed\s+\S+@(sha256:[0-9a-f]{64})", done.stderr)
    return found.group(1) if found else "?"


def image_size(storage: Storage, tag: str) -> int:
    facts = json.loads(sh(["buildah", "inspect", "--type", "image", tag], env=storage.env).stdout)
    return sum(int(layer.get("size") or 0) for layer in json.loads(facts["Manifest"])["layers"])


def naive(kind: str, project: Path, base: str, scratch: Path) -> tuple[float, int]:
    """The naive single-stage image of the same lock, built cold with buildah (its pip cache mount warmed once):
    its build time and size."""
    envbuild = [str(BIN / "envbuild")]
    naive = scratch / f"naive-{kind}"
    naive.mkdir()
    lock = (project / "envbuild.lock").read_text()
    pins = re.findall(r'\[\[system\.packages\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock)
    digest = re.search(r'digest = "(sha256:[0-9a-f]+)"', lock)
    assert digest
    sh([*envbuild, "export", "--format", "requirements", "-o", str(naive / "requirements.txt")], cwd=project)
    from envbuild.lockfile import loads
    from envbuild.render import apt_source_lines

    (naive / "sources.list").write_text("".join(f"{line}\n" for line in apt_source_lines(loads(lock))))
    (naive / "Dockerfile").write_text(
        f"FROM {base}@{digest.group(1)}\n"
        "COPY sources.list /etc/apt/sources.list\n"
        f"RUN apt-get update && apt-get install -y {' '.join(f'{n}={v}' for n, v in pins)}\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        "RUN --mount=type=cache,id=bench-naive-pip,target=/root/.cache/pip --mount=type=secret,id=ca \\\n"
        "    python3.11 -m venv /opt/venv && PIP_CERT=/run/secrets/ca /opt/venv/bin/pip install "
        "-r /tmp/requirements.txt\n")
    naive_build = ["buildah", "build", "--layers", "--network", "host", "--tls-verify=false",
                   "--secret", f"id=ca,src={os.environ.get('SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt')}",
                   "-t", f"bench-naive-{kind}", str(naive)]
    warm = Storage()
    try:
        sh(naive_build, env=warm.env)  # the pip cache mount, warmed once
    finally:
        warm.close()
    storage = Storage()
    try:
        naive_cold, _ = timed(naive_build, env=storage.env)
        return naive_cold, image_size(storage, f"bench-naive-{kind}")
    finally:
        storage.close()


def bench(kind: str, registry: Registry, base: str, scratch: Path) -> dict[str, Any]:
    project = scratch / kind
    project.mkdir()
    envbuild = [str(BIN / "envbuild")]

    def spec(idna: str) -> None:
        requirements = json.dumps([*IMAGES[kind], f"idna=={idna}"])
        (project / "envbuild.toml").write_text(
            f'[environment]\nname = "bench-{kind}"\nplatform = "linux/amd64"\nbase-image = "{base}"\n'
            f'python = "3.11"\n\n[python]\nrequirements = {requirements}\n\n'
            '[system]\npackages = ["git", "libgomp1"]\n')

    spec("3.6")
    sh([*envbuild, "lock"], cwd=project)
    build = [*envbuild, "build", "--engine", "buildah", "-q", "--no-verify", "--push"]
    warm = Storage()  # the download caches (buildah's cache mounts are shared by every root) warmed once
    try:
        sh([*build, "-t", f"{registry.host}/bench/{kind}:warm"], cwd=project, env=warm.env)
    finally:
        warm.close()
    first, second = Storage(), Storage()
    quiet = [*envbuild, "build", "--engine", "buildah", "--no-verify"]  # the build alone: no push
    try:
        cold, done = timed([*quiet, "-t", f"bench-{kind}:cold"], cwd=project, env=first.env)
        stages = [line.strip() for line in done.stderr.splitlines() if line.lstrip().startswith("stage ")]
        digest_cold = pushed_digest(sh([*build, "-t", f"{registry.host}/bench/{kind}:cold"], cwd=project,
                                       env=first.env))
        digest_again = pushed_digest(sh([*build, "-t", f"{registry.host}/bench/{kind}:again"], cwd=project,
                                        env=second.env))
        size = image_size(first, f"bench-{kind}:cold")
        spec("3.7")
        sh([*envbuild, "lock"], cwd=project)
        rebuild, done = timed([*quiet, "-t", f"bench-{kind}:rebuild"], cwd=project, env=first.env)
        stages += [f"rebuild: {line.strip()}" for line in done.stderr.splitlines()
                   if line.lstrip().startswith(("stage ", "Image "))]
        sh([*build, "-t", f"{registry.host}/bench/{kind}:rebuild"], cwd=project, env=first.env)
    finally:
        first.close()
        second.close()
    before = {layer["digest"] for layer in layers(registry, f"{registry.host}/bench/{kind}:cold")}
    after = layers(registry, f"{registry.host}/bench/{kind}:rebuild")
    compressed = sum(layer["size"] for layer in after)
    new_bytes = sum(layer["size"] for layer in after if layer["digest"] not in before)

    naive_cold, naive_size = naive(kind, project, base, scratch)
    return {"image": kind, "cold_s": round(cold, 1), "rebuild_s": round(rebuild, 1),
            "naive_cold_s": round(naive_cold, 1), "size_mb": round(size / 1e6, 1),
            "naive_size_mb": round(naive_size / 1e6, 1), "compressed_mb": round(compressed / 1e6, 1),
            "new_layers_mb": round(new_bytes / 1e6, 2), "digest_cold": digest_cold, "digest_again": digest_again,
            "stages": stages}


def main() -> None:
    kinds = sys.argv[1:] or list(IMAGES)
    if shutil.which("buildah") is None or shutil.which("docker-registry") is None:
        raise SystemExit("bench/build.py needs buildah and docker-registry (make provision)")
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True, check=False).returncode != 0:
        raise SystemExit(f"the base image {BASE} is missing (make provision)")
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "registry").mkdir()
        with Registry(Path(scratch) / "registry", 5000 + os.getpid() % 1000) as registry:
            run(kinds, registry, Path(scratch))


def run(kinds: list[str], registry: Registry, scratch: Path) -> None:
    base = f"{registry.host}/debian:bookworm"
    sh(["docker", "tag", BASE, base])
    sh(["docker", "push", base])
    for kind in kinds:
        r = bench(kind, registry, base, scratch)
        print(json.dumps(r))
        same = "same" if r["digest_cold"] == r["digest_again"] else "DIFFERENT"
        print(f"[{kind}] two clean builds (two storage roots): {same} digest {r['digest_cold']}")
        print(f"[{kind}] cold build            {r['cold_s']:7.1f} s   naive single stage {r['naive_cold_s']:.1f} s"
              f" = {r['cold_s'] / r['naive_cold_s']:.2f}x (target <= 0.6x)")
        print(f"[{kind}] rebuild, idna moved   {r['rebuild_s']:7.1f} s   = {r['rebuild_s'] / r['cold_s']:.0%} "
              "of cold (target <= 10%)")
        print(f"[{kind}] new layers after it   {r['new_layers_mb']:7.2f} MB  = "
              f"{r['new_layers_mb'] / r['compressed_mb']:.2%} of {r['compressed_mb']:.1f} MB compressed "
              "(target <= 5%)")
        print(f"[{kind}] image size            {r['size_mb']:7.1f} MB  naive {r['naive_size_mb']:.1f} MB = "
              f"{r['size_mb'] / r['naive_size_mb']:.2f}x (target <= 0.6x)")
        for line in r["stages"]:
            print(f"[{kind}]     {line}")


if __name__ == "__main__":
    main()
