"""The wheels an image built from sdists: built.py records them in the build step (run as a script by the image's
interpreter, importing nothing of envbuild), and the image's check holds the installed distributions to the record:
a wheel of the same version built again, differently, is drift."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envbuild.check import built, compare
from envbuild.errors import EnvbuildError

SCRIPT = Path(built.__file__)


def _venv(tmp_path: Path, record: str) -> Path:
    venv = tmp_path / "venv"
    info = venv / "lib" / "python3.11" / "site-packages" / "flash_attn-2.7.4.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flash_attn\nVersion: 2.7.4\n")
    (info / "RECORD").write_text(record)
    return venv


def _wheel(tmp_path: Path) -> Path:
    path = tmp_path / "wheels" / "flash_attn-2.7.4-cp311-cp311-linux_x86_64.whl"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("flash_attn/__init__.py", "")
    return path


def test_the_build_step_records_each_wheel_and_what_its_install_wrote(tmp_path: Path) -> None:
    venv, wheel = _venv(tmp_path, "flash_attn/__init__.py,sha256=abc,0\n"), _wheel(tmp_path)
    out = tmp_path / "built.json"
    done = subprocess.run([sys.executable, "-I", "-B", str(SCRIPT), str(out), str(venv), str(wheel)],
                          capture_output=True, text=True, check=True)  # -I: envbuild is not importable
    entries = json.loads(out.read_text())
    assert entries == [built.record(str(venv), [str(wheel)])[0]]
    entry = entries[0]
    assert (entry["name"], entry["version"], entry["wheel"]) == ("flash-attn", "2.7.4", wheel.name)
    assert entry["sha256"].startswith("sha256:") and entry["record"].startswith("sha256:")
    assert f"envbuild: built {wheel.name} {entry['sha256']}" in done.stdout

    missing = subprocess.run([sys.executable, "-I", "-B", str(SCRIPT), str(out), str(tmp_path / "empty-venv-x"),
                              str(wheel)], capture_output=True, text=True, check=False)
    assert missing.returncode != 0


def test_a_distribution_rebuilt_differently_is_drift_and_the_same_one_is_not(tmp_path: Path) -> None:
    venv, wheel = _venv(tmp_path, "flash_attn/__init__.py,sha256=abc,0\n"), _wheel(tmp_path)
    entries = built.record(str(venv), [str(wheel)])
    (tmp_path / "lock").mkdir()
    (tmp_path / "lock" / "built.json").write_text(json.dumps(entries))
    loaded = built.load(str(tmp_path / "lock" / "envbuild.lock"))
    assert loaded == entries
    info = venv / "lib" / "python3.11" / "site-packages" / "flash_attn-2.7.4.dist-info"
    packages = {"flash-attn": {"version": "2.7.4", "path": str(info), "direct_url": None}}

    def findings() -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        compare._built({"built": built.installed(entries, packages)}, out, [])  # type: ignore[arg-type]
        return out

    assert findings() == []
    (info / "RECORD").write_text("flash_attn/__init__.py,sha256=other,0\n")  # another build's install
    [drift] = findings()
    assert drift["kind"] == "python" and drift["name"] == "flash-attn" and drift["status"] == "changed"
    assert "another build" in str(drift["found"]) and wheel.name in str(drift["expected"])
    assert built.installed(entries, {})[0]["found"] is None  # not installed: the package's own finding says so
    assert built.load(str(tmp_path / "envbuild.lock")) is None  # a host: nothing was built
    (tmp_path / "built.json").write_text("{")
    with pytest.raises(EnvbuildError, match="cannot read the records of the built wheels"):
        built.load(str(tmp_path / "envbuild.lock"))
