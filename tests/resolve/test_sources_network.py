"""The fine-tuning stack of issue 14 against the real PyPI (and the PyTorch index when it can be reached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, skip_unless_reachable

pytestmark = pytest.mark.network

STACK = ["torch==2.5.1", "transformers", "accelerate", "datasets", "peft", "bitsandbytes", "deepspeed==0.15.4", "wandb"]


def _spec(directory: Path, extra: str = "") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "envbuild.toml").write_text(f"""
[environment]
name = "finetune"
platform = "linux/amd64"
distro = "debian:bookworm"
python = "3.11"

[python]
requirements = {STACK!r}
{extra}""".replace("'", '"'))


def test_the_fine_tuning_stack_locks_and_deepspeed_is_reported_as_an_sdist(tmp_path: Path,
                                                                          pypi_reachable: None) -> None:
    _spec(tmp_path)
    done = envbuild("lock", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "sdist    deepspeed 0.15.4: built from its sdist at install time" in done.stdout
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    pins = lock.python.by_name()
    assert pins["torch"].version == "2.5.1" and pins["deepspeed"].built and not pins["torch"].built
    assert lock.cuda is not None and lock.cuda.runtime.startswith("12.4")
    strict = envbuild("lock", "--strict-wheels", cwd=tmp_path, timeout=600)
    assert strict.returncode == 2 and "deepspeed 0.15.4" in strict.stderr


def test_torch_comes_from_the_pytorch_cuda_index_and_nothing_else_does(tmp_path: Path, pypi_reachable: None) -> None:
    skip_unless_reachable("https://download.pytorch.org/whl/cu124/torch/", "the PyTorch index (download.pytorch.org)")
    _spec(tmp_path, 'indexes = [{name = "pytorch-cu124", url = "https://download.pytorch.org/whl/cu124", '
                    'explicit = true}]\nsources = {torch = "pytorch-cu124"}\n')
    done = envbuild("lock", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    torch = lock.python.by_name()["torch"]
    assert torch.version == "2.5.1+cu124" and torch.index == "pytorch-cu124"
    assert [p.name for p in lock.python.packages if p.index] == ["torch"]
    assert lock.cuda is not None and lock.cuda.runtime.startswith("12.4")
