"""An Airflow DAG that refuses to train in a drifted environment and keeps the environment of the run.

    pip install 'envbuild[airflow]'
    cp examples/pipelines/airflow_dag.py "$AIRFLOW_HOME/dags/"
    ENVBUILD_LOCK=$PWD/examples/trainer/envbuild.lock airflow dags test envbuild_gated_training

On a worker that runs an envbuild image, leave the lock out: the image's /opt/envbuild/envbuild.lock is checked.
"""

import datetime

from airflow.sdk import DAG, task

from envbuild.integrations.airflow import EnvbuildCheckOperator, envbuild_checked

with DAG("envbuild_gated_training", start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False):
    # the worker's environment against the lock: drift fails this task (its log lists the findings), so training
    # never starts; the fingerprint (envbuild record's) is the task's XCom return_value
    check = EnvbuildCheckOperator(task_id="envbuild_check")

    @task
    def train(fingerprint: dict) -> str:
        print("training in the environment of", fingerprint["lock"]["sha256"])
        return fingerprint["lock"]["sha256"]  # e.g. a tag of the model version in the registry

    @task
    @envbuild_checked()  # the same gate inside a @task: the fingerprint goes to XCom under the key "envbuild"
    def evaluate(environment: str) -> None:
        print("evaluating the model trained in", environment)

    evaluate(train(check.output))
