"""Airflow: refuse to train in a drifted environment, and record the environment of the run.

Installed with ``pip install envbuild[airflow]``; Airflow finds it as a provider (the ``apache_airflow_provider``
entry point, ``envbuild.integrations.airflow_provider``).  Nothing of envbuild imports this module: only a DAG does.
One line in front of the training task::

    from envbuild.integrations.airflow import EnvbuildCheckOperator

    check = EnvbuildCheckOperator(task_id="envbuild_check")      # the worker's environment against its lock
    check >> train

The operator runs ``envbuild check`` for the lock (``lock=``, else ``$ENVBUILD_LOCK``, else the image's
``/opt/envbuild/envbuild.lock``, else ``./envbuild.lock``) in the worker's environment (``python=`` another
interpreter's), logs the report, fails the task on drift (no retry: drift does not go away by waiting), and returns
``envbuild record``'s fingerprint, which Airflow keeps as the task's XCom (``return_value``) for later tasks and the
model registry.  For a ``@task`` function, ``envbuild_checked`` does the same inside the task itself::

    @task
    @envbuild_checked()
    def train(): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

try:  # Airflow 3: the task SDK
    from airflow.sdk import BaseOperator, get_current_context
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.operators.python import get_current_context  # type: ignore[no-redef]

from envbuild.errors import EnvbuildError
from envbuild.integrations.gate import Gate, gate

XCOM_KEY = "envbuild"  # where envbuild_checked pushes the fingerprint (the operator's is its return_value)
F = TypeVar("F", bound=Callable[..., Any])


def _checked(lock: str | None, python: str | None, log: Any) -> Gate:
    try:
        result = gate(lock, python)
    except EnvbuildError as exc:  # no lock, an unreadable one: the DAG is wrong, retrying will not help
        raise AirflowFailException(f"envbuild: {exc}") from None
    for line in result.text.splitlines():
        (log.info if result.ok else log.error)("%s", line)
    if not result.ok:
        raise AirflowFailException(result.text.splitlines()[-1])
    return result


class EnvbuildCheckOperator(BaseOperator):
    """Check the worker's environment against LOCK: the task fails on drift (with the findings in its log), else
    returns the environment's fingerprint (its XCom ``return_value``)."""

    template_fields: Sequence[str] = ("lock", "python")
    ui_color = "#e8f4e8"

    def __init__(self, *, lock: str | None = None, python: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = lock
        self.python = python

    def execute(self, context: Any) -> dict[str, Any]:
        return _checked(self.lock, self.python, self.log).fingerprint


def envbuild_checked(lock: str | None = None, python: str | None = None) -> Callable[[F], F]:
    """A decorator for a ``@task`` function: the environment is checked first (drift fails the task before the
    function runs) and its fingerprint is pushed to XCom under the key ``envbuild``."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            import logging

            result = _checked(lock, python, logging.getLogger("envbuild"))
            get_current_context()["ti"].xcom_push(key=XCOM_KEY, value=result.fingerprint)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
