"""The packages ML teams install, in a real image build: an sdist that imports a locked package while it builds
(as flash-attn imports torch) is compiled with its locked build group (the runtime's torchy), a local wheel is
copied in from the project, a git requirement is built at its locked commit (from a loopback git server), and a
rebuild after an unrelated pin change reuses the built wheels.

Marked docker and network (python3.11-venv comes from deb.debian.org in the build); each skips with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import envbuild, skip_unless_reachable
from tests.support.pypi import LocalIndex, make_sdist, make_wheel
from tests.support.vcs import GitServer

MIRROR = "http://deb.debian.org/debian"
SIX = "six-1.16.0-py3-none-any.whl"
REUSED = "envbuild: gitpkg: the wheel built before (/root/.cache/envbuild-wheels/gitpkg-"  # what the build echoes
COMPILED = "Building wheel for flashy"  # what pip says when it builds flashy (in the kernels stage)

pytestmark = [pytest.mark.docker, pytest.mark.network]


def _spec(directory: Path, base: str, index: LocalIndex, alpha: str, git: str) -> None:
    (directory / "envbuild.toml").write_text(f"""
[environment]
name = "sdists"
platform = "linux/amd64"
base-image = "{base}"
python = "3.11"

[system]
mirror = "{MIRROR}"
packages = ["git"]

[python]
requirements = {json.dumps(["flashy", "torchy==2.5.1", f"alpha=={alpha}", "six @ ./wheels/" + SIX,
                            f"gitpkg @ git+{git}@v0.3"])}
index-url = "{index.url}"
build-dependencies = {{flashy = ["torchy"]}}
build-env = {{MAX_JOBS = "3"}}
""")


def _run(image: str, docker_engine: Any, code: str) -> str:
    return str(docker_engine.containers.run(image, ["python", "-c", code], network_mode="none", remove=True).decode())


def test_an_sdist_builds_against_the_locked_environment_and_its_wheel_is_reused(
        tmp_path: Path, index: LocalIndex, python_base_image: str, docker_engine: Any) -> None:
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (python3.11-venv in the build)")
    index.publish(make_wheel(tmp_path / "w", "torchy", "2.5.1"), make_wheel(tmp_path / "w", "torchy", "2.6.0"))
    make_sdist(index.root, "flashy", "0.1", needs="torchy")
    project = tmp_path / "project"
    make_wheel(project / "wheels", "six", "1.16.0")
    with GitServer(tmp_path / "git") as server:
        server.publish("gitpkg", "0.3")
        _built(project, index, python_base_image, docker_engine, server.url("gitpkg"))


def _built(project: Path, index: LocalIndex, python_base_image: str, docker_engine: Any, git: str) -> None:
    _spec(project, python_base_image, index, "1.0", git)
    locked = envbuild("lock", cwd=project, timeout=300)
    assert locked.returncode == 0, locked.stderr
    assert "flashy 0.1: built from its sdist at install time, with its locked build group" in locked.stdout

    started = time.monotonic()
    first = envbuild("build", "--engine", "docker", "-t", "envbuild-sdists:1", cwd=project, timeout=600)
    first_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Verified: OK:" in first.stderr
    # built against the locked torchy (2.5.1, not the index's newest), with build-env's MAX_JOBS
    assert _run("envbuild-sdists:1", docker_engine, "import flashy, gitpkg, six; print(flashy.BUILT_AGAINST, "
                "flashy.MAX_JOBS, six.__version__, gitpkg.FROM_SOURCE)").split() == ["2.5.1", "3", "1.16.0", "True"]
    assert REUSED not in first.stderr

    _spec(project, python_base_image, index, "1.1", git)  # an unrelated pin change
    assert envbuild("lock", cwd=project, timeout=300).returncode == 0
    started = time.monotonic()
    second = envbuild("build", "--engine", "docker", "-t", "envbuild-sdists:2", cwd=project, timeout=600)
    second_seconds = time.monotonic() - started
    assert second.returncode == 0, second.stderr[-3000:]
    # the builder stage (whose requirements changed) takes gitpkg's wheel from the cache mount; flashy's kernels
    # stage depends on nothing that changed, so it does not even run
    assert REUSED in second.stderr and COMPILED not in second.stderr, second.stderr[-3000:]
    assert "Verified: OK:" in second.stderr
    assert _run("envbuild-sdists:2", docker_engine, "import alpha, flashy; print(alpha.__version__, "
                                                    "flashy.BUILT_AGAINST)").split() == ["1.1", "2.5.1"]
    print(f"first build {first_seconds:.1f} s, rebuild after an unrelated pin change {second_seconds:.1f} s")
