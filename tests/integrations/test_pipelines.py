"""Pipelines gated on the lock: a real Airflow (its SQLite metadata database, `airflow dags test`) and the real KFP
v2 SDK (a compiled pipeline), each from `pip install envbuild[airflow,kubeflow]` in a venv of their own (the dev
venv holds neither: Airflow alone is some 150 distributions).  Marked network: the extras come from the real PyPI;
where they cannot be installed, the tests skip and say why."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.check.conftest import env  # noqa: F401 - the synced venv and its lock

pytestmark = pytest.mark.network
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv with envbuild[airflow,kubeflow] installed (this checkout, editable)."""
    if os.environ.get("ENVBUILD_TEST_PIPELINES_PYTHON"):
        return Path(os.environ["ENVBUILD_TEST_PIPELINES_PYTHON"])
    venv = tmp_path_factory.mktemp("pipelines") / "venv"
    uv = Path(sys.executable).parent / "uv"
    made = subprocess.run([str(uv), "venv", "-q", str(venv), "--python", sys.executable], capture_output=True,
                          text=True, check=False)
    installed = made.returncode == 0 and subprocess.run(
        [str(uv), "pip", "install", "-q", "-e", f"{ROOT}[airflow,kubeflow]"], capture_output=True, text=True,
        check=False, timeout=900, env={**os.environ, "VIRTUAL_ENV": str(venv)})
    if not installed or installed.returncode != 0:
        why = (made.stderr if made.returncode else installed.stderr if installed else "").strip().splitlines()
        pytest.skip(f"envbuild[airflow,kubeflow] could not be installed from PyPI: {why[-1] if why else '?'}")
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def airflow_home(pipelines: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An Airflow home with its SQLite metadata database migrated and a DAG folder: the environment to run it."""
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    variables = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                 "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": f"{pipelines.parent}:{os.environ['PATH']}",
                 "PYTHONHASHSEED": "0"}
    done = subprocess.run([str(pipelines.parent / "airflow"), "db", "migrate"], capture_output=True, text=True,
                          env=variables, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    yield variables


DAG = '''
import datetime

from airflow.sdk import DAG, task

from envbuild.integrations.airflow import EnvbuildCheckOperator, envbuild_checked

with DAG("{dag_id}", start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    check = EnvbuildCheckOperator(task_id="envbuild_check", lock="{lock}", python="{python}")

    @task
    def train(fingerprint):
        print("TRAINED ON", fingerprint["lock"]["sha256"])
        return fingerprint["lock"]["sha256"]

    @task
    @envbuild_checked(lock="{lock}", python="{python}")
    def evaluate():
        print("EVALUATED")

    check >> train(check.output) >> evaluate()
'''


def dag_test(airflow: dict[str, str], dag_id: str, lock: Path, python: Path) -> subprocess.CompletedProcess[str]:
    dags = Path(airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    (dags / f"{dag_id}.py").write_text(DAG.format(dag_id=dag_id, lock=lock, python=python))
    binary = str(Path(airflow["PATH"].split(":", 1)[0]) / "airflow")
    done = subprocess.run([binary, "dags", "reserialize"], capture_output=True, text=True, env=airflow, check=False,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return subprocess.run([binary, "dags", "test", dag_id], capture_output=True, text=True, env=airflow,
                          check=False, timeout=600)


def test_an_airflow_task_runs_only_in_the_locked_environment_and_keeps_its_fingerprint(
        env: Path, airflow_home: dict[str, str]) -> None:  # noqa: F811
    lock, python = env / "envbuild.lock", env / ".venv" / "bin" / "python"
    sha = "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    done = dag_test(airflow_home, "gate_clean", lock, python)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert f"TRAINED ON {sha}" in out, "the next task read the fingerprint from XCom"
    assert "EVALUATED" in out and "state=success" in out
    # drift: a locked package gone from the venv; the check task fails with the finding, training never starts
    removed = subprocess.run([str(Path(sys.executable).parent / "uv"), "pip", "uninstall", "--python", str(python),
                              "gamma"], capture_output=True, text=True, check=False)
    assert removed.returncode == 0, removed.stderr
    done = dag_test(airflow_home, "gate_drifted", lock, python)
    out = done.stdout + done.stderr
    assert "DRIFT:" in out and "gamma" in out, out[-3000:]
    assert "TRAINED ON" not in out and "state=failed" in out, out[-3000:]


def test_airflow_lists_envbuild_as_a_provider(airflow_home: dict[str, str]) -> None:
    binary = str(Path(airflow_home["PATH"].split(":", 1)[0]) / "airflow")
    done = subprocess.run([binary, "providers", "list", "-o", "json"], capture_output=True, text=True,
                          env=airflow_home, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "envbuild" in [p["package_name"] for p in json.loads(done.stdout)], done.stdout[-2000:]


PIPELINE = '''
import sys

from kfp import compiler, dsl

from envbuild.integrations.kubeflow import checked


@dsl.container_component
def train(epochs: int):
    return dsl.ContainerSpec(image="registry.example/team/train:1", command=["python", "-m", "train"],
                             args=["--epochs", epochs])


@dsl.component(base_image="registry.example/team/eval:2")
def evaluate() -> float:
    return 0.5


@dsl.pipeline(name="gated")
def gated():
    step = train(epochs=3)
    checked(step)
    checked(evaluate().after(step), lock="/srv/lock/envbuild.lock")


compiler.Compiler().compile(gated, sys.argv[1])
'''


def test_a_kubeflow_pipeline_checks_each_step_s_image_first(pipelines: Path, tmp_path: Path) -> None:
    import yaml

    (tmp_path / "pipeline.py").write_text(PIPELINE)
    done = subprocess.run([str(pipelines), "pipeline.py", "gated.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    spec = yaml.safe_load((tmp_path / "gated.yaml").read_text())
    executors = spec["deploymentSpec"]["executors"]
    tasks = spec["root"]["dag"]["tasks"]
    checks = {name: task for name, task in tasks.items() if name.startswith("envbuild-check")}
    assert len(checks) == 2
    for step, image, lock in (("train", "registry.example/team/train:1", "/opt/envbuild/envbuild.lock"),
                              ("evaluate", "registry.example/team/eval:2", "/srv/lock/envbuild.lock")):
        (name, check), = [(n, t) for n, t in checks.items() if t["taskInfo"]["name"] == f"envbuild check: {step}"]
        assert name in tasks[step]["dependentTasks"], "the step runs after its check"
        assert check["cachingOptions"] == {}, "never cached: a cached check checks nothing"
        container = executors[spec["components"][check["componentRef"]["name"]]["executorLabel"]]["container"]
        assert container["image"] == image and container["command"] == ["envbuild-check"]
        assert container["args"] == ["--lock", lock, "--fingerprint", "{{$.outputs.artifacts['fingerprint'].path}}"]
        outputs = spec["components"][check["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
        assert list(outputs) == ["fingerprint"]
