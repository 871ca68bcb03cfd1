"""envbuild check --fingerprint: the fingerprint of what was checked, written beside the verdict (what a Kubeflow
step's check writes as its output artifact: the image runs envbuild-check --lock L --fingerprint F, the same core)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.check.conftest import env  # noqa: F401 - the synced venv and its lock
from tests.conftest import envbuild


def test_the_kubeflow_check_s_command_passes_clean_and_fails_drifted(env: Path, tmp_path: Path) -> None:  # noqa: F811
    """What the component runs in the step's container (envbuild-check --lock L --fingerprint F: the image's stdlib
    check core), run here by the host's entry to the same core against a synced venv: clean, then drifted."""
    lock, python = env / "envbuild.lock", env / ".venv" / "bin" / "python"
    out = tmp_path / "fingerprint.json"
    done = envbuild("check", "--lock", str(lock), "--python", str(python), "--fingerprint", str(out), cwd=env,
                    env={"PYTHONHASHSEED": "0"})
    assert done.returncode == 0, done.stdout + done.stderr
    fingerprint = json.loads(out.read_text())
    assert fingerprint["lock"]["sha256"] == "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    assert fingerprint["verdict"] == {"ok": True, "findings": {}}
    done = envbuild("check", "--lock", str(lock), "--python", str(python), "--fingerprint", str(out), cwd=env,
                    env={"PYTHONHASHSEED": "1"})
    assert done.returncode == 1 and "DRIFT" in done.stdout
    assert json.loads(out.read_text())["verdict"]["ok"] is False
