"""An MLflow run context provider (MLflow's ``mlflow.run_context_provider`` entry point): every
``mlflow.start_run()`` gets ``envbuild.*`` tags (the lock's sha256 and spec-hash, the drift verdict and its counts,
the driver and GPUs), without a line of user code, once envbuild is installed beside MLflow.

It looks for a lock as ``envbuild record`` does ($ENVBUILD_LOCK, the image's /opt/envbuild/envbuild.lock,
./envbuild.lock), and does nothing when there is none.  It never fails a run: anything that goes wrong becomes an
``envbuild.error`` tag (MLflow's own git provider takes the same care).  ``ENVBUILD_MLFLOW=0`` turns it off.
"""

from __future__ import annotations

import os

from mlflow.tracking.context.abstract_context import RunContextProvider

from envbuild import lockview
from envbuild.check.record import find_lock, flat, record


class EnvbuildRunContext(RunContextProvider):
    def in_context(self) -> bool:
        return os.environ.get("ENVBUILD_MLFLOW", "1") != "0" and find_lock() is not None

    def tags(self) -> dict[str, str]:
        try:
            return flat(record(read_lock=lockview.read))
        except Exception as exc:
            return {"envbuild.error": f"{type(exc).__name__}: {exc}"[:500]}


def log_environment(lock: str | None = None, artifact_path: str = "envbuild") -> dict[str, str]:
    """The opt-in: log the lock, the drift check's report and the fingerprint as artefacts of the active MLflow run
    (``envbuild/envbuild.lock``, ``envbuild/check.json``, ``envbuild/record.json``), beside the tags every run
    gets.  Call it once the run has started::

        with mlflow.start_run():
            envbuild.integrations.mlflow.log_environment()

    Returns the tags it also sets.  Raises only when there is no active run (a mistake in the calling code)."""
    import json

    import mlflow

    from envbuild.check.evaluate import evaluate

    if mlflow.active_run() is None:
        raise RuntimeError("log_environment() needs an active MLflow run (call it inside mlflow.start_run())")
    path = find_lock(lock)
    fingerprint = record(path, read_lock=lockview.read)
    tags = flat(fingerprint)
    mlflow.set_tags(tags)
    mlflow.log_dict(fingerprint, f"{artifact_path}/record.json")
    if path is not None and os.path.isfile(path):
        mlflow.log_artifact(path, artifact_path)
        try:
            report, _ = evaluate({"lock": path}, read_lock=lockview.read)
        except Exception as exc:
            report = {"error": str(exc)}
        mlflow.log_text(json.dumps(report, indent=2), f"{artifact_path}/check.json")
    return tags
