"""Which environment a plain `envbuild check` looks at: the one `envbuild sync` made, not envbuild's own."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from envbuild import lockfile
from tests.check.conftest import HOST_PYTHON
from tests.conftest import REPO, write_spec
from tests.support.pypi import LocalIndex


def _separate_envbuild(tmp_path: Path) -> Path:
    """envbuild in a venv of its own, as pipx or `uv tool` install it (its packages reach that venv through a
    .pth file pointing at the test's own environment); returns its console script."""
    tool = tmp_path / "tool"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tool)], check=True)
    site = next((tool / "lib").glob("python3*/site-packages"))
    paths = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))] + [str(REPO)]
    (site / "envbuild-deps.pth").write_text("\n".join(paths) + "\n")
    script = tool / "bin" / "envbuild"
    script.write_text(f"#!{tool}/bin/python\nimport sys\nfrom envbuild.entry import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return script


def test_sync_then_check_agree_with_envbuild_installed_elsewhere(tmp_path: Path, index: LocalIndex) -> None:
    envbuild = _separate_envbuild(tmp_path)
    project = tmp_path / "project"
    write_spec(project, index.url, ["alpha", "gamma"])
    environ = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(envbuild), *args], cwd=project, capture_output=True, text=True,
                              env={**environ, **extra}, check=False, timeout=300)

    assert run("lock").returncode == 0
    path = project / "envbuild.lock"
    lock = lockfile.read_lock(path)  # for this host's interpreter, without the apt part (this host is no bookworm)
    path.write_text(lockfile.dumps(dataclasses.replace(
        lock, system=None, python=dataclasses.replace(lock.python, version=HOST_PYTHON))))
    assert run("sync").returncode == 0
    done = run("check")
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"Checked {project / '.venv'} ({project / '.venv/bin/python'}") and \
        "[.venv beside the lock]" in first, first
    # an active virtual environment comes first: here, envbuild's own, which holds none of the lock
    done = run("check", "--json", VIRTUAL_ENV=str(tmp_path / "tool"))
    assert done.returncode == 1 and '"why": "$VIRTUAL_ENV"' in done.stdout
    # neither: the python3 on PATH (a venv's bin/ on PATH, as images and job scripts often have it)
    (project / ".venv").rename(project / "moved")
    done = run("check", PATH=f"{project / 'moved' / 'bin'}:/usr/bin:/bin")
    assert done.returncode == 0 and "[python3 on PATH]" in done.stdout.splitlines()[0], done.stdout + done.stderr
    done = run("check", PATH=str(tmp_path / "empty"))
    assert done.returncode == 2 and "no Python environment to check" in done.stderr


def test_python_may_name_a_venv_and_must_exist(tmp_path: Path, index: LocalIndex) -> None:
    from tests.conftest import envbuild

    write_spec(tmp_path, index.url, ["alpha"])
    (tmp_path / "envbuild.lock").write_text(lockfile.dumps(lockfile.Lock(
        spec_hash="sha256:x", name="t", target=lockfile.Target("linux/amd64"),
        python=lockfile.PythonLock(requested=HOST_PYTHON, resolver="uv", index_url="x"))))
    done = envbuild("check", "--python", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2 and "does not exist" in done.stderr
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = envbuild("check", "--python", str(venv), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f'"python": "{venv}/bin/python"' in done.stdout
