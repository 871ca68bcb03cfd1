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

from envbuild.check.record import find_lock, flat, record


class EnvbuildRunContext(RunContextProvider):
    def in_context(self) -> bool:
        return os.environ.get("ENVBUILD_MLFLOW", "1") != "0" and find_lock() is not None

    def tags(self) -> dict[str, str]:
        try:
            return flat(record())
        except Exception as exc:
            return {"envbuild.error": f"{type(exc).__name__}: {exc}"[:500]}
