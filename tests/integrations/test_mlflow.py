"""The MLflow run context provider, against a real MLflow (from PyPI) with a local SQLite tracking store: a training
script that only calls mlflow.start_run() and logs a metric gets the envbuild.* tags of its environment."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.check.conftest import env  # noqa: F401 - the synced venv and its lock

pytest.importorskip("mlflow", reason="MLflow is not installed (pip install 'envbuild[mlflow]' mlflow)")

TRAIN = """
import mlflow
mlflow.set_tracking_uri("sqlite:///{db}")
with mlflow.start_run() as run:
    mlflow.log_metric("loss", 0.5)
print(run.info.run_id)
"""


def train(cwd: Path, db: Path, **variables: str) -> dict[str, str]:
    """Run the training script in CWD; the run's tags as MLflow stored them."""
    done = subprocess.run([sys.executable, "-c", TRAIN.format(db=db)],
                          cwd=cwd, capture_output=True, text=True, check=False, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONHASHSEED": "0",
                               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **variables})
    assert done.returncode == 0, done.stderr[-2000:]
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=f"sqlite:///{db}").get_run(done.stdout.strip().splitlines()[-1])
    return dict(run.data.tags)


def test_every_run_carries_its_environments_fingerprint(env: Path, tmp_path: Path) -> None:  # noqa: F811
    lock = env / "envbuild.lock"
    tags = train(env, tmp_path / "runs.db", ENVBUILD_LOCK=str(lock))
    assert tags["envbuild.lock.sha256"] == "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    assert tags["envbuild.lock.spec-hash"] == lockfile.read_lock(lock).spec_hash
    assert tags["envbuild.host.glibc"] and "envbuild.host.hostname" in tags
    # the check looks at the environment envbuild sync made beside the lock: clean
    assert tags["envbuild.ok"] == "true" and "envbuild.error" not in tags
    drifted = train(env, tmp_path / "runs.db", ENVBUILD_LOCK=str(lock), PYTHONHASHSEED="1")
    assert drifted["envbuild.ok"] == "false" and int(drifted["envbuild.findings.env"]) == 1


def test_without_a_lock_nothing_is_added_and_nothing_fails(tmp_path: Path) -> None:
    tags = train(tmp_path, tmp_path / "runs.db")
    assert not [k for k in tags if k.startswith("envbuild.")]
    off = train(tmp_path, tmp_path / "runs.db", ENVBUILD_LOCK=str(tmp_path / "missing.lock"), ENVBUILD_MLFLOW="1")
    assert "envbuild.error" in off, "a lock named but unreadable: said in a tag, the run goes on"


def test_the_opt_in_logs_the_lock_the_report_and_the_fingerprint(env: Path, tmp_path: Path) -> None:  # noqa: F811
    script = (f"import mlflow, sys\nmlflow.set_tracking_uri('sqlite:///{tmp_path / 'runs.db'}')\n"
              "from envbuild.integrations.mlflow import log_environment\n"
              "with mlflow.start_run() as run:\n    log_environment()\nprint(run.info.run_id)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=env, capture_output=True, text=True, check=False,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONHASHSEED": "0",
                                            "ENVBUILD_LOCK": str(env / "envbuild.lock")})
    assert done.returncode == 0, done.stderr[-2000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs.db'}")
    run_id = done.stdout.strip().splitlines()[-1]
    names = {a.path for a in client.list_artifacts(run_id, "envbuild")}
    assert names == {"envbuild/envbuild.lock", "envbuild/check.json", "envbuild/record.json"}
    local = Path(client.download_artifacts(run_id, "envbuild/envbuild.lock", str(tmp_path / "got")))
    assert local.read_bytes() == (env / "envbuild.lock").read_bytes()
