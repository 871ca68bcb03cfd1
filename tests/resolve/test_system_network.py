"""Against the real Debian mirror (marked `network`): the closure envbuild pins is what apt installs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from envbuild.resolve.system import resolve_system
from envbuild.spec import parse_distro
from tests.conftest import skip_unless_reachable

pytestmark = pytest.mark.network
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


@pytest.fixture(scope="module")
def debian_reachable() -> None:
    skip_unless_reachable("http://deb.debian.org/debian/dists/bookworm/Release", "the Debian mirror")


@pytest.mark.usefixtures("debian_reachable")
def test_git_and_python_resolve_to_a_closure_apt_installs_as_pinned(tmp_path: Path) -> None:
    if shutil.which("apt-get") is None or not KEYRING.exists():
        pytest.skip("apt-get and the Debian archive keyring are needed to simulate the install")
    system, python = resolve_system(parse_distro("debian:bookworm"), "linux/amd64", ["git"], "3.11")
    pins = {p.name: p.version for p in system.packages}
    assert python.startswith("3.11.") and {"git", "git-man", "python3.11", "python3.11-venv", "libc6"} <= set(pins)
    assert all(len(p.sha256) == 64 for p in system.packages)

    # apt, on an empty dpkg status (nothing installed), with the same sources and signed indexes
    (tmp_path / "lists" / "partial").mkdir(parents=True)
    (tmp_path / "cache" / "archives" / "partial").mkdir(parents=True)
    (tmp_path / "status").write_text("")
    (tmp_path / "sources.list").write_text("".join(f"deb [signed-by={KEYRING}] {line}\n" for line in system.sources))
    options = []
    for key, value in {"Dir::Etc::SourceList": tmp_path / "sources.list", "Dir::Etc::SourceParts": "/dev/null",
                       "Dir::Etc::Preferences": "/dev/null", "Dir::Etc::PreferencesParts": "/dev/null",
                       "Dir::State::Lists": tmp_path / "lists", "Dir::State::status": tmp_path / "status",
                       "Dir::Cache": tmp_path / "cache", "Debug::NoLocking": "1", "APT::Architecture": "amd64",
                       "APT::Architectures": "amd64"}.items():
        options += ["-o", f"{key}={value}"]
    update = subprocess.run(["apt-get", *options, "update", "-qq"], capture_output=True, text=True, check=False)
    assert update.returncode == 0, update.stderr
    simulate = subprocess.run(["apt-get", *options, "install", "--simulate", "--no-install-recommends",
                               *(f"{n}={v}" for n, v in sorted(pins.items()))],
                              capture_output=True, text=True, check=False)
    assert simulate.returncode == 0, simulate.stdout[-2000:] + simulate.stderr
    planned = dict(re.findall(r"^Inst (\S+) \((\S+)", simulate.stdout, flags=re.MULTILINE))
    assert planned == pins, "apt would install something other than the pinned closure"


@pytest.mark.usefixtures("debian_reachable")
def test_the_real_debian_inrelease_verifies_against_the_shipped_keys() -> None:
    """deb.debian.org's bookworm and bookworm-security InRelease, checked with envbuild/data/keys (no apt needed)."""
    from envbuild.adapters.apt import release_index
    from envbuild.resolve.system import archive_keyring, sources_for

    shipped = set(archive_keyring("debian").fingerprints())
    for source in sources_for(parse_distro("debian:bookworm"), "linux/amd64"):
        files, facts = release_index(source, "amd64")
        assert files and facts.signer in shipped, (source.where, facts)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", facts.date)
