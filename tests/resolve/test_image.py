"""Base images from a real OCI registry (docker-registry on 127.0.0.1) and from disk."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.adapters.registry import RegistryError, parse_reference
from envbuild.errors import EnvbuildError
from envbuild.resolve.image import resolve_image
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex
from tests.support.registry import DEBIAN_12, AuthProxy, Registry, digest_of, dpkg_status, layer

BASE_DPKG = {"libc6": "2.36-9+deb12u14", "zlib1g": "1:1.2.13.dfsg-1", "python3.11": "3.11.2-6+deb12u9"}


def push_base(registry: Registry, repo: str = "envbuild/base", tag: str = "bookworm",
              env: dict[str, str] | None = None) -> tuple[str, str]:
    """A two-platform image (amd64 and arm64 differ by a file); returns the two manifest digests."""
    digests = {}
    for arch in ("amd64", "arm64"):
        bottom = layer({"etc/os-release": b"ID=debian\nVERSION_ID=11\n", f"arch-{arch}": arch.encode()})
        top = layer({"usr/lib/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status(BASE_DPKG)},
                    symlinks={"etc/os-release": "../usr/lib/os-release"})
        digests[arch] = registry.image(repo, None, [bottom, top], env=env, arch=arch)
    registry.index(repo, tag, [(d, s, a) for a, (d, s) in digests.items()])
    return digests["amd64"][0], digests["arm64"][0]


def test_references_are_parsed_as_docker_does() -> None:
    hub = parse_reference("debian:bookworm-slim")
    assert (hub.registry, hub.repository, hub.tag) == ("registry-1.docker.io", "library/debian", "bookworm-slim")
    nv = parse_reference("nvcr.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
    assert (nv.registry, nv.repository, nv.tag) == ("nvcr.io", "nvidia/cuda", "12.4.1-cudnn-runtime-ubuntu22.04")
    local = parse_reference("127.0.0.1:5000/x/y:z")
    assert local.base_url == "http://127.0.0.1:5000/v2/x/y" and nv.base_url.startswith("https://")
    pinned = parse_reference("debian@sha256:" + "a" * 64)
    assert pinned.digest == "sha256:" + "a" * 64 and pinned.tag is None
    with pytest.raises(RegistryError, match="is not a valid repository name"):
        parse_reference("Bad Name:1")


def test_a_manifest_list_resolves_to_the_platform_manifest(registry: Registry) -> None:
    amd64, arm64 = push_base(registry)
    facts = resolve_image(f"{registry.host}/envbuild/base:bookworm", "linux/amd64")
    assert facts.digest == amd64
    assert facts.distro.name == "debian:12", "the top layer's os-release (through its symlink) wins"
    assert dict(facts.installed) == BASE_DPKG
    assert resolve_image(f"{registry.host}/envbuild/base:bookworm", "linux/arm64").digest == arm64
    # a reference that already has a digest is kept as it is
    assert resolve_image(f"{registry.host}/envbuild/base@{amd64}", "linux/amd64").digest == amd64


def test_a_missing_tag_and_a_missing_platform_are_clear(registry: Registry) -> None:
    push_base(registry, repo="envbuild/only")
    with pytest.raises(RegistryError, match=r"envbuild/only:nope: not found in 127.0.0.1:\d+ \(no such tag"):
        resolve_image(f"{registry.host}/envbuild/only:nope", "linux/amd64")
    registry.index("envbuild/only", "amd-only", [(registry.image("envbuild/only", None, [layer({})])[0], 1, "amd64")])
    with pytest.raises(RegistryError, match=r"no manifest for linux/arm64 \(it offers linux/amd64\)"):
        resolve_image(f"{registry.host}/envbuild/only:amd-only", "linux/arm64")


def test_bearer_token_auth_with_docker_config_credentials(registry: Registry, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    amd64, _ = push_base(registry, repo="envbuild/private")
    with AuthProxy(registry.host, "bearer") as proxy:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        with pytest.raises(RegistryError, match=r"the token server http://127\.0\.0\.1:\d+/token answered HTTP 401"):
            resolve_image(f"{proxy.host}/envbuild/private:bookworm", "linux/amd64")
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(json.dumps(
            {"auths": {proxy.host: {"auth": proxy.basic.removeprefix("Basic ")}}}))
        facts = resolve_image(f"{proxy.host}/envbuild/private:bookworm", "linux/amd64")
        assert facts.digest == amd64
        assert any(path.startswith("/token") and status == 200 for _, path, status in proxy.log)


def test_anonymous_bearer_tokens_as_docker_hub_gives_them(registry: Registry) -> None:
    amd64, _ = push_base(registry, repo="envbuild/public")
    with AuthProxy(registry.host, "bearer-anonymous") as proxy:
        assert resolve_image(f"{proxy.host}/envbuild/public:bookworm", "linux/amd64").digest == amd64
        statuses = [(path.split("?")[0], status) for _, path, status in proxy.log]
        assert ("/token", 200) in statuses and any(status == 401 for _, status in statuses)


def test_a_pinned_digest_that_is_gone_says_so(registry: Registry) -> None:
    gone = "sha256:" + "0" * 64
    with pytest.raises(RegistryError, match="the digest is gone: registries delete old images"):
        resolve_image(f"{registry.host}/envbuild/base@{gone}", "linux/amd64")


def test_basic_auth_from_docker_config(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    amd64, _ = push_base(registry, repo="envbuild/basic")
    with AuthProxy(registry.host, "basic") as proxy:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        with pytest.raises(RegistryError, match="refused access anonymously"):
            resolve_image(f"{proxy.host}/envbuild/basic:bookworm", "linux/amd64")
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(json.dumps(
            {"auths": {f"http://{proxy.host}": {"username": "bob", "password": "hunter2"}}}))
        assert resolve_image(f"{proxy.host}/envbuild/basic:bookworm", "linux/amd64").digest == amd64


def test_a_5xx_is_retried_and_a_second_resolve_downloads_no_layer(registry: Registry) -> None:
    amd64, _ = push_base(registry, repo="envbuild/flaky")
    with AuthProxy(registry.host, "none", fail_once=True) as proxy:
        facts = resolve_image(f"{proxy.host}/envbuild/flaky:bookworm", "linux/amd64")
        assert facts.digest == amd64
        assert any(status == 503 for _, _, status in proxy.log), "the proxy never failed: the test proves nothing"
        before = len(proxy.log)
        again = resolve_image(f"{proxy.host}/envbuild/flaky:bookworm", "linux/amd64")
        assert again == facts
        assert not any("/blobs/" in path for _, path, _ in proxy.log[before:]), "the cache by digest was not used"


def test_a_cold_resolve_asks_for_each_manifest_once(registry: Registry) -> None:
    amd64, _ = push_base(registry, repo="envbuild/once")
    with AuthProxy(registry.host, "none") as proxy:
        assert resolve_image(f"{proxy.host}/envbuild/once:bookworm", "linux/amd64").digest == amd64
        manifests = [path for _, path, _ in proxy.log if "/manifests/" in path]
        assert sorted(manifests) == sorted(["/v2/envbuild/once/manifests/bookworm",
                                            f"/v2/envbuild/once/manifests/{amd64}"])


def test_layers_stop_being_read_once_the_files_are_found(registry: Registry) -> None:
    bottom = layer({"big": os.urandom(1 << 20), "etc/os-release": b"ID=debian\nVERSION_ID=11\n"})
    top = layer({"etc/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status(BASE_DPKG)})
    registry.image("envbuild/lazy", "1", [bottom, top])
    with AuthProxy(registry.host, "none") as proxy:
        resolve_image(f"{proxy.host}/envbuild/lazy:1", "linux/amd64")
        blobs = [path for _, path, _ in proxy.log if "/blobs/" in path]
        assert digest_of(bottom) not in " ".join(blobs), "the bottom layer was downloaded for nothing"


def test_a_whiteout_hides_the_dpkg_status_of_a_lower_layer(registry: Registry) -> None:
    bottom = layer({"etc/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status(BASE_DPKG)})
    top = layer({}, whiteouts=("var/lib/dpkg/status",))
    registry.image("envbuild/whiteout", "1", [bottom, top])
    facts = resolve_image(f"{registry.host}/envbuild/whiteout:1", "linux/amd64")
    assert facts.installed == ()


def test_images_on_disk_oci_layout_and_docker_archive(tmp_path: Path) -> None:
    top = layer({"etc/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status(BASE_DPKG),
                 "usr/local/bin/python3.11": b"\x7fELF"})
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {"Env": ["PYTHON_VERSION=3.11.9"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(top)]}}).encode()  # the tar as saved
    # OCI layout
    blobs = tmp_path / "oci" / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for data in (top, config):
        (blobs / digest_of(data).split(":")[1]).write_bytes(data)
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": digest_of(config), "size": len(config)},
                           "layers": [{"digest": digest_of(top), "size": len(top)}]}).encode()
    (blobs / digest_of(manifest).split(":")[1]).write_bytes(manifest)
    entry = {"digest": digest_of(manifest), "size": len(manifest),
             "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    (tmp_path / "oci" / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    facts = resolve_image(f"oci-layout:{tmp_path / 'oci'}:v1", "linux/amd64")
    assert facts.digest == digest_of(manifest) and facts.distro.name == "debian:12"
    assert facts.python_version == "3.11.9"
    with pytest.raises(RegistryError, match="no image tagged 'v2'"):
        resolve_image(f"oci-layout:{tmp_path / 'oci'}:v2", "linux/amd64")
    # docker save archive
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        saved_manifest = json.dumps([{"Config": "config.json", "Layers": ["layer.tar"]}]).encode()
        for name, data in (("config.json", config), ("layer.tar", top), ("manifest.json", saved_manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    saved = resolve_image(f"docker-archive:{archive}", "linux/amd64")
    assert saved.digest == digest_of(config) and dict(saved.installed) == BASE_DPKG


def test_an_image_without_os_release_asks_for_the_distro(registry: Registry) -> None:
    registry.image("envbuild/bare", "1", [layer({"hello": b"x"})])
    with pytest.raises(EnvbuildError, match=r"has no /etc/os-release.*set \[environment\] distro"):
        resolve_image(f"{registry.host}/envbuild/bare:1", "linux/amd64")


def test_lock_on_a_base_image_pins_its_digest_and_leaves_out_what_it_has(registry: Registry, tmp_path: Path,
                                                                       index: LocalIndex) -> None:
    amd64, _ = push_base(registry, repo="envbuild/trainer-base")
    write_spec(tmp_path, index.url, ["alpha"], system=["git"], distro=None,
               base_image=f"{registry.host}/envbuild/trainer-base:bookworm")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert lock.base_image is not None and lock.base_image.digest == amd64
    assert lock.target.distro == "debian:12" and lock.target.python_platform == "x86_64-manylinux_2_36"
    names = {p.name for p in lock.system.packages} if lock.system else set()
    assert "git" in names and "libc6" not in names and "zlib1g" not in names, "the image has those already"
    assert "python3.11" not in names and lock.python.version == "3.11.2", "the image's python3.11 is the one"
    assert lock.python.source == "system"


def test_python_and_cuda_from_an_official_style_image(registry: Registry, tmp_path: Path, index: LocalIndex) -> None:
    env = {"PYTHON_VERSION": "3.11.9", "CUDA_VERSION": "12.4.1", "NV_CUDNN_VERSION": "9.1.0.70",
           "NCCL_VERSION": "2.21.5"}
    registry.image("envbuild/cuda", "12.4.1", [layer({"etc/os-release": DEBIAN_12,
                                                      "usr/local/bin/python3.11": b"\x7fELF"})], env=env)
    write_spec(tmp_path, index.url, ["alpha"], distro=None, base_image=f"{registry.host}/envbuild/cuda:12.4.1")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert (lock.python.version, lock.python.source) == ("3.11.9", "image")
    assert lock.cuda is not None and (lock.cuda.runtime, lock.cuda.cudnn, lock.cuda.min_driver) == (
        "12.4.1", "9.1.0.70", "525.60.13")
    assert "python3.11" not in {p.name for p in lock.system.packages} if lock.system else True
    # a spec that asks for another Python than the image has fails clearly
    spec = tmp_path / "envbuild.toml"
    spec.write_text(spec.read_text().replace('python = "3.11"', 'python = "3.12"'))
    bad = envbuild("lock", cwd=tmp_path)
    assert bad.returncode == 2 and "provides Python 3.11.9 (PYTHON_VERSION)" in bad.stderr


def test_an_image_whose_config_promises_a_python_it_does_not_hold_is_refused(registry: Registry, tmp_path: Path,
                                                                              index: LocalIndex) -> None:
    """PYTHON_VERSION in the config, and no interpreter on the PATH a build runs it by: one line at lock time,
    naming the image, instead of `python3.11: not found` minutes into a build.  A link to it counts, across
    layers; a whiteout above it does not."""
    env = {"PYTHON_VERSION": "3.11.7", "PATH": "/opt/py/bin:/usr/bin"}
    registry.image("envbuild/hollow", "1", [layer({"etc/os-release": DEBIAN_12})], env=env)
    write_spec(tmp_path, index.url, ["alpha"], distro=None, base_image=f"{registry.host}/envbuild/hollow:1")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and not (tmp_path / "envbuild.lock").exists()
    assert done.stderr == (f"envbuild: error: {registry.host}/envbuild/hollow:1: its config promises Python 3.11.7 "
                           "(PYTHON_VERSION), but no python3.11 is on its PATH (/opt/py/bin/python3.11, "
                           "/usr/bin/python3.11), so a build could not run it; use an image that has it\n")
    bottom = layer({"etc/os-release": DEBIAN_12, "opt/py/lib/python3.11": b"\x7fELF"})
    registry.image("envbuild/linked", "1", [bottom, layer({}, symlinks={"opt/py/bin/python3.11": "../lib/python3.11"})],
                   env=env)
    facts = resolve_image(f"{registry.host}/envbuild/linked:1", "linux/amd64")
    assert facts.python_path == "/opt/py/bin/python3.11"
    registry.image("envbuild/removed", "1", [bottom, layer({"usr/bin/python3.11": b"\x7fELF"}),
                                             layer({}, whiteouts=("usr/bin/python3.11",))], env=env)
    assert resolve_image(f"{registry.host}/envbuild/removed:1", "linux/amd64").python_path is None


@pytest.mark.docker
def test_an_image_in_the_local_engine(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure means: no engine here
        pytest.skip(f"no Docker engine answers here: {exc}")
    rootfs = io.BytesIO()
    with tarfile.open(fileobj=rootfs, mode="w") as tar:
        for name, data in (("etc/os-release", DEBIAN_12), ("var/lib/dpkg/status", dpkg_status(BASE_DPKG))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    api = docker.APIClient()
    result = api.import_image_from_data(rootfs.getvalue(), repository="envbuild-test/daemon", tag="1")
    assert result
    facts = resolve_image("docker-daemon:envbuild-test/daemon:1", "linux/amd64")
    assert facts.distro.name == "debian:12" and dict(facts.installed) == BASE_DPKG


@pytest.mark.parametrize("what", ["manifest", "index", "config"])
def test_a_registry_that_serves_other_content_than_its_digest_gives_no_lock(registry: Registry, tmp_path: Path,
                                                                           index: LocalIndex, what: str) -> None:
    """Every blob and manifest read whole is checked against the digest it was asked by (or, for a tag, the
    digest the registry itself announces)."""
    push_base(registry, repo="envbuild/liar")
    with AuthProxy(registry.host, "none", tamper=what) as proxy:
        reference = f"{proxy.host}/envbuild/liar:bookworm"
        with pytest.raises(RegistryError, match="does not match its digest") as info:
            resolve_image(reference, "linux/amd64")
        wanted = {"manifest": "the manifest", "index": "the manifest", "config": "the config blob"}[what]
        assert wanted in str(info.value)


def test_a_tampered_layer_read_whole_is_refused_and_init_writes_nothing(registry: Registry, tmp_path: Path) -> None:
    push_base(registry, repo="envbuild/layers")
    with AuthProxy(registry.host, "none", tamper="layer") as proxy:
        done = envbuild("init", "--from-image", f"{proxy.host}/envbuild/layers:bookworm", "--no-lock", cwd=tmp_path)
    assert done.returncode == 2 and "does not match its digest" in done.stderr and "layer sha256:" in done.stderr
    assert not (tmp_path / "envbuild.toml").exists() and len(done.stderr.strip().splitlines()) == 1


def test_facts_read_through_a_lying_registry_are_refused_and_never_cached(registry: Registry) -> None:
    """A proxy that answers a layer's digest with another layer (Ubuntu's os-release, other packages): the lock
    reads that layer whole, finds it is not what its digest names, and caches nothing, so the genuine registry's
    facts are the ones a later lock gets."""
    push_base(registry, repo="envbuild/poisoned")
    lie = layer({"etc/os-release": b"ID=ubuntu\nVERSION_ID=22.04\n", "var/lib/dpkg/status": dpkg_status({"x": "1"})})
    with AuthProxy(registry.host, "none", tamper="swap", swap=lie) as proxy, \
            pytest.raises(RegistryError, match="does not match its digest"):
        resolve_image(f"{proxy.host}/envbuild/poisoned:bookworm", "linux/amd64")
    genuine = resolve_image(f"{registry.host}/envbuild/poisoned:bookworm", "linux/amd64")
    assert genuine.distro.name == "debian:12" and dict(genuine.installed) == BASE_DPKG


def test_a_whiteout_at_the_top_of_a_layer_hides_a_folder_and_all_below(registry: Registry) -> None:
    bottom = layer({"etc/os-release": DEBIAN_12, "opt/py/bin/python3.11": b"\x7fELF"})
    env = {"PYTHON_VERSION": "3.11.7", "PATH": "/opt/py/bin:/usr/bin"}
    registry.image("envbuild/gone-opt", "1", [bottom, layer({}, whiteouts=("opt",))], env=env)  # .wh.opt
    assert resolve_image(f"{registry.host}/envbuild/gone-opt:1", "linux/amd64").python_path is None
    registry.image("envbuild/kept-opt", "1", [bottom, layer({"opt/.wh.other": b""})], env=env)
    assert resolve_image(f"{registry.host}/envbuild/kept-opt:1", "linux/amd64").python_path == "/opt/py/bin/python3.11"


def test_a_file_too_large_to_read_is_refused_before_it_is_read(registry: Registry, tmp_path: Path) -> None:
    """A 65 MiB dpkg status is a 65 KB gzip layer: refused by its size, never inflated into memory."""
    from envbuild.adapters.layers import MAX_FILE

    huge = layer({"etc/os-release": DEBIAN_12, "var/lib/dpkg/status": bytes(MAX_FILE + 1)})
    assert len(huge) < 1 << 20
    registry.image("envbuild/bomb", "1", [huge])
    with pytest.raises(RegistryError, match=r"/var/lib/dpkg/status in the image is \d+ bytes, more than envbuild "
                                            r"reads \(64 MiB\)"):
        resolve_image(f"{registry.host}/envbuild/bomb:1", "linux/amd64")


def test_an_oci_layout_names_blobs_by_digest_only(tmp_path: Path) -> None:
    """A digest that is a path (sha256:../..) reads nothing outside the layout, and a blob that is a FIFO is
    refused without a read that would hang."""
    layout = tmp_path / "oci"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (tmp_path / "secret").write_text('{"schemaVersion": 2}')
    entry = {"digest": "sha256:../../../secret", "size": 1}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    with pytest.raises(RegistryError, match="is not a sha256 digest of a blob"):
        resolve_image(f"oci-layout:{layout}", "linux/amd64")
    fifo = "sha256:" + "f" * 64
    os.mkfifo(layout / "blobs" / "sha256" / ("f" * 64))
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{"digest": fifo, "size": 1}]}))
    with pytest.raises(RegistryError, match="is not a regular file"):
        resolve_image(f"oci-layout:{layout}", "linux/amd64")


def test_a_docker_archive_s_layers_are_checked_against_its_diff_ids(tmp_path: Path) -> None:
    top = layer({"etc/os-release": DEBIAN_12})
    other = layer({"etc/os-release": b"ID=ubuntu\nVERSION_ID=22.04\n"})
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(top)]}}).encode()
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        saved_manifest = json.dumps([{"Config": "config.json", "Layers": ["layer.tar"]}]).encode()
        for name, data in (("config.json", config), ("layer.tar", other), ("manifest.json", saved_manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(RegistryError, match="does not match its digest"):
        resolve_image(f"docker-archive:{archive}", "linux/amd64")


def test_opaque_whiteouts_hide_the_lower_layers_os_release_and_dpkg_status(registry: Registry) -> None:
    lower = layer({"etc/os-release": b"ID=debian\nVERSION_ID=11\n", "var/lib/dpkg/status": dpkg_status({"old": "1"})})
    upper = layer({"etc/.wh..wh..opq": b"", "usr/lib/os-release": DEBIAN_12,
                   "var/lib/dpkg/.wh..wh..opq": b"", "var/lib/dpkg/status": dpkg_status({"new": "2"})})
    registry.image("envbuild/opaque", "v1", [lower, upper])
    facts = resolve_image(f"{registry.host}/envbuild/opaque:v1", "linux/amd64")
    # etc/ was replaced whole: its os-release is gone, so the other place os-release may be is read
    assert facts.distro.name == "debian:12" and dict(facts.installed) == {"new": "2"}
