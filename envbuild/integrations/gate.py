"""The gate every pipeline integration shares (Airflow's operator, Kubeflow's component): check this environment
against its lock, as ``envbuild check`` does, and fingerprint it, as ``envbuild record`` does, in one pass.

Standard library and envbuild's check core only, like the check: it runs at the start of a pipeline step, in the
step's own environment.  The lock is LOCK, else ``$ENVBUILD_LOCK``, else the image's ``/opt/envbuild/envbuild.lock``,
else ``./envbuild.lock``; inside an envbuild image its own lock is checked as its ``envbuild-check`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from envbuild.errors import EnvbuildError
from envbuild.paths import IMAGE_LOCK


@dataclass(frozen=True)
class Gate:
    """The verdict (OK: no drift), the check's report (``envbuild check --json``), the fingerprint (``envbuild
    record --json``) and the report as a person reads it (a step's log)."""

    ok: bool
    report: dict[str, Any]
    fingerprint: dict[str, Any]
    text: str


def gate(lock: str | None = None, python: str | None = None) -> Gate:
    """Check the environment of PYTHON (default: this interpreter's, or the image's) against LOCK and fingerprint
    it.  No lock found, or one that cannot be read, raises ``EnvbuildError`` (a step configured wrong fails at
    once); drift does not raise: the caller decides (an operator fails its task)."""
    from envbuild import lockview
    from envbuild.check.evaluate import evaluate
    from envbuild.check.record import find_lock, record
    from envbuild.check.report import plain, subject

    path = find_lock(lock)
    if path is None:
        raise EnvbuildError(f"no lock to check against: name one, set $ENVBUILD_LOCK, or run in an image that holds "
                            f"{IMAGE_LOCK}")
    in_image = os.path.abspath(path) == IMAGE_LOCK and python is None
    options: dict[str, Any] = {"lock": path, **({"python": python} if python else {})}
    report, outcome = evaluate(options, read_lock=lockview.read, in_image=in_image)
    fingerprint = record(path, python, read_lock=lockview.read, report=report)
    return Gate(ok=outcome.ok, report=report, fingerprint=fingerprint, text=f"{subject(report)}\n{plain(report)}")
