"""envbuild as an Airflow provider: what Airflow's ProvidersManager reads from the ``apache_airflow_provider`` entry
point (``airflow providers list`` shows it).  It imports no Airflow: Airflow imports it."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    from envbuild.about import __version__

    return {
        "package-name": "envbuild",
        "name": "envbuild",
        "description": "Gate a task on the environment its lock describes (drift fails the task) and record the "
                       "environment of the run (its fingerprint as XCom).",
        "versions": [__version__],
        "integrations": [{"integration-name": "envbuild", "external-doc-url": "https://pypi.org/project/envbuild/",
                          "tags": ["software"]}],
        "operators": [{"integration-name": "envbuild", "python-modules": ["envbuild.integrations.airflow"]}],
    }
