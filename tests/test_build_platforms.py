"""One tag for x86 and Grace Hopper: a lock for linux/amd64 and linux/arm64 built by one `envbuild build --push`
into one OCI image index on the loopback registry (each platform's image built, the arm64 one under qemu, and
checked against its own lock), read back from the registry, and pulled by each platform, whose image checks itself.

Marked docker and network (python3 comes from deb.debian.org in the builds); skipped, with the reason, without
buildah, the arm64 base or a binfmt handler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import envbuild, skip_unless_reachable
from tests.support.pypi import LocalIndex
from tests.support.registry import Registry

MIRROR = "http://deb.debian.org/debian"
INDEX_TYPES = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"

pytestmark = [pytest.mark.docker, pytest.mark.network]


@pytest.fixture(params=["buildah", "docker"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.usefixtures("docker_engine")
def test_one_push_gives_one_tag_that_each_platform_pulls_and_checks(
        tmp_path: Path, index: LocalIndex, multiarch_base: str, registry: Registry, engine: str) -> None:
    import docker

    docker_client: Any = docker.from_env()  # the docker_engine fixture has found the engine reachable
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (python3 in the builds)")
    (tmp_path / "envbuild.toml").write_text(f"""
[environment]
name = "multi"
platforms = ["linux/amd64", "linux/arm64"]
base-image = "{multiarch_base}"
python = "3.11"

[system]
mirror = "{MIRROR}"

[python]
requirements = ["gamma", "alpha==1.0"]
index-url = "{index.url}"
""")
    locked = envbuild("lock", cwd=tmp_path, timeout=300)
    assert locked.returncode == 0, locked.stderr
    tag = f"{registry.host}/team/multi:{engine}"
    done = envbuild("build", "--engine", engine, "--push", "-t", tag, cwd=tmp_path, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr.count("Verified: OK:") == 2
    assert f"Image   {tag}-amd64" in done.stderr and f"Image   {tag}-arm64" in done.stderr
    assert "emulated linux/arm64 on this linux/amd64 machine: its programs run under emulation (qemu-aarch64)" \
        in done.stderr
    assert f"Pushed  {tag}@sha256:" in done.stderr

    answer = requests.get(f"http://{registry.host}/v2/team/multi/manifests/{engine}", headers={"Accept": INDEX_TYPES},
                          timeout=30)
    assert answer.status_code == 200, answer.text
    index_doc = json.loads(answer.content)
    platforms = sorted((m["platform"]["os"], m["platform"]["architecture"]) for m in index_doc["manifests"])
    assert platforms == [("linux", "amd64"), ("linux", "arm64")], index_doc

    for platform, machine in (("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")):
        image = docker_client.images.pull(f"{registry.host}/team/multi", tag=engine, platform=platform)
        site = "/opt/venv/lib/python3.11/site-packages"
        out = docker_client.containers.run(image.id, ["sh", "-c", (
            f"uname -m && envbuild-check && grep '^Tag:' {site}/gamma-1.0.dist-info/WHEEL && python -c "
            "'import gamma, alpha; print(gamma.__file__, alpha.__cached__)' && python -c "
            "'import marshal, importlib.util, alpha; data = open(alpha.__cached__, \"rb\").read(); "
            "print(marshal.loads(data[16:]).co_filename)'")], network_mode="none", remove=True).decode()
        lines = out.splitlines()
        assert lines[0] == machine, out
        assert f"Tag: py3-none-manylinux_2_17_{machine}" in out, out  # the platform's own wheel
        # the bytecode, compiled in the python stage for arm64, names the file where it lies in the image
        assert lines[-1] == f"{site}/alpha/__init__.py", out
    arm64 = done.stderr[done.stderr.index(f"Image   {tag}-arm64"):]
    python = next(line for line in arm64.splitlines() if line.strip().startswith("stage python"))
    print("\n".join(line for line in done.stderr.splitlines() if line.startswith(("Image", "  stage", "  emulated"))))
    assert "steps run" in python  # the arm64 image's Python layers were installed in the (native) python stage
