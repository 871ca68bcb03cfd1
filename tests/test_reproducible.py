"""Images for training clusters, end to end with buildah: the same lock gives the same digest on two storage roots;
each normalisation of what the steps leave behind holds in the image; a small pin change rewrites only the small
layer (the large layers keep their digests in the registry); --output writes an OCI archive; a step that writes
something different every time makes --check-reproducible exit 1 naming the layer and the path.

Marked docker and network (apt in the build fetches .debs from deb.debian.org; the wheels come from a loopback
index, and uv is the one envbuild runs with); each skips with the reason (no buildah: apt-get install buildah)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import envbuild, skip_unless_reachable
from tests.support.pypi import LocalIndex, make_wheel

MIRROR = "http://deb.debian.org/debian"
TIMEOUT = 900
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

pytestmark = [pytest.mark.docker, pytest.mark.network]


@dataclass
class Built:
    directory: Path
    env: dict[str, str]
    registry: Any
    first: Any  # the completed `envbuild build --check-reproducible --push --output`
    layout: Path  # the OCI layout --output wrote
    epoch: int

    def run(self, *args: str) -> Any:
        return envbuild(*args, cwd=self.directory, env=self.env, timeout=TIMEOUT)

    def spec(self, base: str, small: str) -> None:
        (self.directory / "envbuild.toml").write_text(f"""
[environment]
name = "repro"
platform = "linux/amd64"
base-image = "{base}"
python = "3.11"

[python]
requirements = ["nvidia-fakelib==12.0", "torch==2.0", "{small}"]
index-url = "http://127.0.0.1:{self.env['INDEX_PORT']}/simple"

[system]
packages = ["libgomp1"]
mirror = "{MIRROR}"
""")


def _layers(built: Built, reference: str) -> list[dict[str, Any]]:
    """The manifest's layers of REFERENCE in the loopback registry, each with what made it (from the Dockerfile
    render writes for the lock as it is now: the images keep no history)."""
    from envbuild.build.compare import made_by

    registry = built.registry
    name, _, tag = reference.removeprefix(f"{registry.host}/").rpartition(":")
    manifest = requests.get(f"http://{registry.host}/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST},
                            timeout=30).json()
    rendered = built.run("render", "-o", str(built.directory / "rendered"))
    assert rendered.returncode == 0, rendered.stderr
    steps = made_by((built.directory / "rendered" / "Dockerfile").read_text(), len(manifest["layers"]))
    return [{**layer, "step": step} for layer, step in zip(manifest["layers"], steps, strict=True)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, base_image: str, registry: Any) -> Iterator[Built]:
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (apt-get install buildah; make provision installs it)")
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (apt in the build needs it)")
    root = tmp_path_factory.mktemp("repro")
    # A storage root of the tests' own, as a new machine has: the default one may hold the CI base under the name of
    # an earlier session's registry port, and buildah annotates the image with the name it finds.  Under /var/tmp:
    # buildah 1.28 drops cache-mount points from layers with a storage root under /tmp (see envbuild.build).
    storage = Path(tempfile.mkdtemp(prefix="envbuild-test-storage-", dir="/var/tmp"))
    (storage / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{storage}/graph"\n'
                                          f'runroot = "{storage}/run"\n')
    wheels = root / "index"
    for name, version in (("nvidia-fakelib", "12.0"), ("torch", "2.0"), ("tqdm", "1.0"), ("tqdm", "1.1")):
        make_wheel(wheels, name, version, module_text=f"# {name} {version}\n" + "x = 1\n" * 20000)
    with LocalIndex(wheels) as index:
        env = {"INDEX_PORT": str(index.port), "ENVBUILD_CACHE_DIR": str(root / "cache"),
               "UV_CACHE_DIR": str(root / "uv-cache"), "CONTAINERS_STORAGE_CONF": str(storage / "storage.conf")}
        project = Built(root / "proj", env, registry, None, root / "layout", 0)
        project.directory.mkdir()
        project.spec(base_image, "tqdm==1.0")
        locked = project.run("lock")
        assert locked.returncode == 0, locked.stderr
        project.first = project.run("build", "--engine", "buildah", "--check-reproducible", "--push",
                                    "-t", f"{registry.host}/e2e/repro:one", "--output", f"oci:{project.layout}")
        assert project.first.returncode == 0, project.first.stderr[-4000:]
        found = re.search(r"SOURCE_DATE_EPOCH (\d+)", project.first.stderr)
        assert found, project.first.stderr[-2000:]
        project.epoch = int(found.group(1))
        try:
            yield project
        finally:
            for args in (["rm", "--all"], ["rmi", "--all", "--force"]):
                subprocess.run(["buildah", *args], env={**os.environ, **env}, capture_output=True, check=False)
            shutil.rmtree(storage, ignore_errors=True)


def test_the_same_lock_gives_the_same_digest_on_a_second_storage_root(built: Built) -> None:
    err = built.first.stderr
    assert "engine buildah (--timestamp" in err
    digests = re.findall(r"reproducible: both builds are (sha256:[0-9a-f]{64})", err)
    assert digests, err[-2000:]
    written = re.search(r"Wrote\s+oci:\S+ \((sha256:[0-9a-f]{64})\)", err)
    assert written and written.group(1) == digests[0], err[-2000:]  # what --output wrote is what was compared
    assert "Verified:" in err  # the image's own check passed


def test_a_clean_rebuild_pushes_the_same_manifest_digest(built: Built) -> None:
    first = re.search(r"Pushed\s+\S+@(sha256:[0-9a-f]{64})", built.first.stderr)
    again = built.run("build", "--engine", "buildah", "--no-cache", "--no-verify", "-q", "--push",
                      "-t", f"{built.registry.host}/e2e/repro:again")
    assert again.returncode == 0, again.stderr[-3000:]
    second = re.search(r"Pushed\s+\S+@(sha256:[0-9a-f]{64})", again.stderr)
    assert first and second and first.group(1) == second.group(1), (first, second)


def _our_layers(layout: Path) -> list[tuple[str, tarfile.TarFile]]:
    """(its index, its tar) for each layer above the base, from the OCI layout --output wrote."""
    index = json.loads((layout / "index.json").read_text())
    blob = lambda d: layout / "blobs" / d.replace(":", "/")  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
    base_layers = 1  # the CI base is one imported layer
    return [(f"layer {i + 1}", tarfile.open(blob(layer["digest"])))
            for i, layer in enumerate(manifest["layers"]) if i >= base_layers]


NORMALISED = [
    ("apt's logs", re.compile(r"^var/log/apt/.+")),
    ("dpkg's log", re.compile(r"^var/log/(dpkg|alternatives)\.log$")),
    ("ldconfig's aux-cache (inodes, ctimes)", re.compile(r"^var/cache/ldconfig/aux-cache$")),
    ("dpkg's and debconf's -old copies", re.compile(r"^var/(lib/dpkg|cache/debconf)/[^/]+-old$")),
    ("bytecode compiled by a step outside the venv", re.compile(r"^(?!opt/venv/).*\.py[co]$")),
    ("the stamp of a step", re.compile(r"^tmp/\.envbuild-step$")),
    ("lastlog and faillog entries of the new user", re.compile(r"^var/log/(lastlog|faillog)$")),
]


@pytest.mark.parametrize(("what", "pattern"), NORMALISED, ids=[w for w, _ in NORMALISED])
def test_no_layer_of_ours_keeps(built: Built, what: str, pattern: re.Pattern[str]) -> None:
    found = [(step[:60], m.name) for step, tar in _our_layers(built.layout) for m in tar
             if pattern.match(m.name) and not m.name.rsplit("/", 1)[-1].startswith(".wh.")]
    assert not found, f"{what}: {found[:5]}"


def test_the_venv_s_bytecode_is_checked_hash(built: Built) -> None:
    """Each installed module has its .pyc (the image's user cannot write one), hash-based (PEP 552 flags 0b11: no
    time in it), so the same lock gives the same bytes."""
    pycs = {m.name: tar.extractfile(m).read()[:16] for _, tar in _our_layers(built.layout) for m in tar  # type: ignore[union-attr]
            if m.name.startswith("opt/venv/") and m.name.endswith(".pyc")}
    assert any("/tqdm/__pycache__/__init__.cpython-311.pyc" in name for name in pycs), sorted(pycs)[:5]
    assert all(int.from_bytes(head[4:8], "little") == 0b11 for head in pycs.values())


def test_every_file_of_our_layers_has_the_lock_s_epoch(built: Built) -> None:
    odd = [(m.name, m.mtime) for _, tar in _our_layers(built.layout) for m in tar if int(m.mtime) != built.epoch]
    assert not odd, odd[:5]


def test_useradd_s_password_date_is_the_lock_s_epoch(built: Built) -> None:
    days = None
    for _, tar in _our_layers(built.layout):
        for m in tar:
            if m.name == "etc/shadow":
                data = tar.extractfile(m).read().decode()  # type: ignore[union-attr]
                days = next(line.split(":")[2] for line in data.splitlines() if line.startswith("app:"))
    assert days == str(built.epoch // 86400)


def test_layer_members_are_in_one_order(built: Built) -> None:
    """The engine writes a layer's files in the order of their paths (its whiteouts after them), not in the order
    a step wrote them or the file system lists them."""
    for step, tar in _our_layers(built.layout):
        names = [m.name.rstrip("/") for m in tar if ".wh." not in m.name]
        assert names == sorted(names, key=lambda n: n.split("/")), step[:80]


def test_the_plan_puts_each_group_in_a_layer_of_its_own(built: Built) -> None:
    layers = _layers(built, f"{built.registry.host}/e2e/repro:one")
    steps = [layer["step"] for layer in layers]
    for group in ("cuda", "frameworks", "packages"):
        assert sum(f"layers/{group}.txt" in step for step in steps) == 1, steps
    # uv ran in the build and is in no layer
    assert not [m.name for _, tar in _our_layers(built.layout) for m in tar if m.name.endswith(("bin/uv", "-uv"))]


def test_a_small_pin_change_keeps_the_large_layers_and_ships_little(built: Built) -> None:
    built.spec(_base(built), "tqdm==1.1")
    assert built.run("lock").returncode == 0
    second = built.run("build", "--engine", "buildah", "--push", "-t", f"{built.registry.host}/e2e/repro:two")
    assert second.returncode == 0, second.stderr[-3000:]
    one = _layers(built, f"{built.registry.host}/e2e/repro:one")
    two = _layers(built, f"{built.registry.host}/e2e/repro:two")
    kept = {layer["digest"] for layer in one}
    new = [layer for layer in two if layer["digest"] not in kept]
    by_group = {g: [layer["digest"] for layer in two if f"layers/{g}.txt" in layer["step"]] for g in
                ("cuda", "frameworks", "packages")}
    assert by_group["cuda"][0] in kept and by_group["frameworks"][0] in kept
    assert by_group["packages"][0] not in kept
    assert all("layers/packages.txt" in layer["step"] or "envbuild.lock" in layer["step"] for layer in new), \
        [layer["step"][:80] for layer in new]
    total = sum(layer["size"] for layer in two)
    assert sum(layer["size"] for layer in new) <= 0.05 * total, (new, total)


def _base(built: Built) -> str:
    text = (built.directory / "envbuild.toml").read_text()
    return re.search(r'base-image = "([^"]+)"', text).group(1)  # type: ignore[union-attr]


def test_a_step_that_differs_each_time_is_named_by_check_reproducible(built: Built, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "Dockerfile.j2").write_text('{% extends "builtin/Dockerfile.j2" %}{% block final %}'
                                             "RUN date +%s%N > /opt/stamp\n{{ super() }}{% endblock %}")
    done = built.run("build", "--engine", "buildah", "--check-reproducible", "--no-verify", "-q",
                     "--templates", str(templates), "-t", "repro-odd:1")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "not reproducible" in done.stderr
    assert re.search(r"layer \d+ of \d+ differs first, made by: .*date \+%s%N > /opt/stamp", done.stderr), done.stderr
    assert "/opt/stamp: " in done.stderr and "content" in done.stderr


def test_without_engine_an_installed_buildah_is_picked_over_docker_20(built: Built) -> None:
    done = built.run("build", "--no-verify", "-q", "-t", "repro-auto:1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("engine buildah (--timestamp: the same lock gives the same image digest; the Docker engine here cannot "
            "build reproducibly)") in done.stderr
