"""envbuild check on a real Slurm (slurmctld + slurmd on 127.0.0.1), reports aggregated by envbuild report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, envbuild, free_port
from tests.support.slurm import Slurm, SlurmUnavailable

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An empty virtual environment (the training env under check): its python and its exact version."""
    from envbuild.adapters import uv

    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([uv.binary(), "venv", str(venv), "--python", sys.executable, "-q"], check=True)
    python = str(venv / "bin" / "python")
    version = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return python, version


def _lock(path: Path, version: str, env: str) -> Path:
    path.write_text(f'version = 1\nspec-hash = "sha256:x"\nname = "t"\n\n[target]\nplatform = "linux/amd64"\n\n'
                    f'[python]\nversion = "{version}"\nrequested = "{version}"\nresolver = "uv"\n'
                    'index-url = "https://pypi.org/simple"\nextra-index-urls = []\npackages = []\n\n'
                    f'[env]\n{env}\n\n[check]\nignore-extra = []\n')
    return path


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    try:
        with Slurm(tmp_path_factory.mktemp("slurm"), (free_port(), free_port())) as cluster:
            yield cluster
    except SlurmUnavailable as why:
        pytest.skip(f"Slurm cannot run here: {why}")


def test_srun_check_and_report(slurm: Slurm, tmp_path: Path, bare: tuple[str, str]) -> None:
    python, version = bare
    lock = _lock(tmp_path / "envbuild.lock", version, 'PYTHONHASHSEED = "0"')
    envbuild_cmd = [sys.executable, "-m", "envbuild"]
    reports = tmp_path / "reports"
    reports.mkdir()
    for node_env, name in (({"PYTHONHASHSEED": "0"}, "good"), ({"PYTHONHASHSEED": "1"}, "bad")):
        done = slurm.srun(*envbuild_cmd, "check", "-l", str(lock), "--python", python, "--json",
                          env={**node_env, "PYTHONPATH": str(REPO)})
        assert done.returncode in (0, 1), done.stderr
        report = json.loads(done.stdout)
        report["host"]["hostname"] = f"{report['host']['hostname']}-{name}"  # two "nodes" from one
        (reports / f"{name}.json").write_text(json.dumps(report))
    aggregate = envbuild("report", *sorted(map(str, reports.iterdir())), "--json", cwd=tmp_path)
    view = json.loads(aggregate.stdout)
    assert aggregate.returncode == 1
    drifting = [h["hostname"] for h in view["hosts"] if not h["ok"]]
    assert len(drifting) == 1 and drifting[0].endswith("-bad")
    env_finding = next(f for f in view["findings"] if f["kind"] == "env")
    assert (env_finding["name"], env_finding["status"], env_finding["found"]) == ("PYTHONHASHSEED", "changed", "1")


def test_the_prolog_script_names_the_failed_check(tmp_path: Path, bare: tuple[str, str]) -> None:
    python, version = bare
    lock = _lock(tmp_path / "envbuild.lock", version, 'NCCL_ALGO = "Ring"')
    shim = tmp_path / "envbuild"
    shim.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m envbuild \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "ENVBUILD": str(shim), "ENVBUILD_LOCK": str(lock), "ENVBUILD_PYTHON": python,
           "ENVBUILD_REPORTS": str(tmp_path)}
    prolog = str(REPO / "contrib/slurm/envbuild-prolog")
    bad = subprocess.run([prolog], env={**env, "NCCL_ALGO": "Tree"}, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "drifts from" in bad.stderr and "env NCCL_ALGO changed (expected Ring, found Tree)" in bad.stderr
    good = subprocess.run([prolog], env={**env, "NCCL_ALGO": "Ring"}, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["ok"] is True
