"""The README stays true to the code: its command table, its lock section, its Quick start and `make demo`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.compat import tomllib
from tests.conftest import envbuild

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's section TITLE (a heading line), up to the next heading of its level or above
    (a line in a fenced block is no heading)."""
    lines = README.splitlines()
    start = lines.index(title)
    level = len(title.split(" ", 1)[0])
    fenced = False
    for end in range(start + 1, len(lines)):
        if lines[end].startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", lines[end]):
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def table_rows() -> dict[str, str]:
    """command name -> its usage cell, from the command table."""
    rows = {}
    for line in section("## Commands").splitlines():
        match = re.match(r"\| `envbuild (\w+)([^`]*)` \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_command_is_in_the_table_with_flags_its_help_has() -> None:
    rows = table_rows()
    listed = envbuild("--help", cwd=ROOT).stdout.split("Commands:", 1)[1]
    commands = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert set(rows) == commands, "the table lists every command, and no other"
    for command, usage in rows.items():
        helped = envbuild(command, "--help", cwd=ROOT)
        assert helped.returncode == 0, helped.stderr
        for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helped.stdout), \
                f"README: envbuild {command} {flag}, which its --help does not know"


def test_the_lock_section_shows_today_s_lock() -> None:
    block = re.search(r"```toml\n(.*?)```", section("## The lock"), re.S)
    assert block is not None
    shown = tomllib.loads(block.group(1))
    assert shown["version"] == lockfile.LOCK_VERSION
    real = tomllib.loads((ROOT / "examples" / "trainer" / "envbuild.lock").read_text())
    assert set(shown) <= set(real) and set(shown["targets"][0]) <= set(real["targets"][0])
    for part in ("python", "system"):
        keys = {key for package in real[part]["packages"] for key in package}
        assert set(shown[part]["packages"][0]) <= keys, part
    assert set(shown["python"]) - {"packages"} <= set(real["python"])


def test_no_section_points_to_a_file_the_repository_lacks() -> None:
    for path in re.findall(r"`((?:envbuild|tests|contrib|bench|examples|fixtures|templates)/[\w./-]+)`", README):
        artefact = path.startswith("envbuild/") and path.endswith((".lock", ".json"))  # MLflow's names for them
        if "*" in path or "<" in path or path == "envbuild/templates" or artefact:
            continue  # a pattern, or the templates' place in the wheel
        assert (ROOT / path).exists(), f"README names {path}"
    assert "DESIGN.md" not in README and "design document" not in README


@pytest.mark.network
@pytest.mark.usefixtures("pypi_reachable")
def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    """The Quick start's first block, in a new folder: the spec it writes, then lock (what its comment says), sync
    and check; the lock's numbers are the ones the comment gives."""
    block = re.search(r"```sh\n(pip install envbuild.*?)```", section("## Quick start"), re.S)
    assert block is not None
    script = block.group(1).replace("pip install envbuild", "true", 1)
    bin_dir = Path(sys.executable).parent
    kept = ("_CERT_FILE", "_CA_BUNDLE", "PIP_CERT", "_proxy", "_PROXY", "_CACHE_DIR")  # the proxy, the caches
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(Path.home()),
           **{k: v for k, v in os.environ.items() if k.endswith(kept)}}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    said = re.search(r"Python (\S+) \(bookworm's\), (\d+) wheels and (\d+) \.debs.*?CUDA (\S+), cuDNN (\S+), "
                     r"NCCL (\S+), driver >= (\S+)", block.group(1), re.S)
    assert said is not None
    python, wheels, debs, cuda, cudnn, nccl, driver = said.groups()
    assert (f"Locked {wheels} Python packages and {debs} system packages for linux/amd64 (debian:12), "
            f"Python {python}") in done.stdout
    assert f"CUDA {cuda} (cuDNN {cudnn}, NCCL {nccl}): needs NVIDIA driver >= {driver}" in done.stdout
    assert "OK: " in done.stdout, "envbuild check of what sync made"


@pytest.mark.network
@pytest.mark.skipif(shutil.which("git") is None or shutil.which("make") is None, reason="needs git and make")
@pytest.mark.usefixtures("pypi_reachable")
def test_make_demo_leaves_the_checkout_clean(tmp_path: Path) -> None:
    """`make demo` in a fresh clone (what has been committed): it works, installs envbuild without the test tools,
    and `git status` is clean afterwards."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    done = subprocess.run(["make", "demo"], cwd=clone, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (clone / "build" / "demo" / "envbuild.lock").is_file() and (clone / "build/demo/requirements.txt").is_file()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == "", status.stdout
    installed = subprocess.run([str(clone / ".venv-demo/bin/python"), "-m", "pip", "list", "--format", "freeze"],
                               capture_output=True, text=True, check=True).stdout
    assert "envbuild==" in installed and "pytest==" not in installed and "mlflow==" not in installed
