"""Building for another CPU: the binfmt handler is looked for before any work, its absence is one line naming what
to install, and a lock of several platforms is one build of each (what takes one platform's image says so)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from envbuild.build import emulation
from envbuild.errors import BuildError
from tests.conftest import FIXTURES, envbuild


def test_the_handler_is_the_enabled_qemu_entry_of_the_platforms_machine(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulation, "host", lambda: "linux/amd64")
    assert emulation.require("linux/amd64", tmp_path) is None  # natively: nothing to look for
    (tmp_path / "qemu-aarch64").write_text("disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n")
    with pytest.raises(BuildError, match=r"no binfmt_misc handler for aarch64 is there \(binfmt_misc is not "
                                         r"mounted\): apt-get install qemu-user-static binfmt-support"):
        emulation.require("linux/arm64", tmp_path)
    (tmp_path / "register").write_text("")
    with pytest.raises(BuildError, match="no binfmt_misc handler for aarch64 is registered"):
        emulation.require("linux/arm64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n")
    assert emulation.require("linux/arm64", tmp_path) == \
        "linux/arm64 on this linux/amd64 machine: its programs run under emulation (qemu-aarch64)"


def test_what_takes_one_platforms_image_asks_for_one_on_a_lock_of_several(tmp_path: Path) -> None:
    lock = tmp_path / "envbuild.lock"
    shutil.copy(FIXTURES / "golden" / "lock-sample-multi.toml", lock)
    for option in (["--check-reproducible"], ["--output", "oci-archive:x.tar"]):
        done = envbuild("build", "-l", str(lock), *option, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "takes one platform's image, and this lock has linux/amd64, linux/arm64: add --platform" \
            in done.stderr, done.stderr
    done = envbuild("build", "-l", str(lock), "--push", "-t", "team/app:v1", cwd=tmp_path)
    assert done.returncode == 2 and "--push needs a tag that names a registry" in done.stderr, done.stderr
