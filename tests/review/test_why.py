"""envbuild why: the chains from the spec to a locked package, from the edges a real lock keeps (uv's own "via",
the apt closure's parents, conda's depends), for Python, apt and conda packages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envbuild import lockfile
from tests.commands.test_conda import conda_lock
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex


def test_python_and_apt_chains_come_from_a_real_lock(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma"], system=["git"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("why", "beta", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "python  alpha==1.1 -> beta==1.1\n", done.stdout
    assert envbuild("why", "Alpha", cwd=tmp_path).stdout == "python  alpha==1.1   (the spec asks for it)\n"
    apt = envbuild("why", "libldap-2.5-0", cwd=tmp_path)
    assert apt.returncode == 0 and "system  git -> libcurl3-gnutls -> libldap-2.5-0\n" in apt.stdout, apt.stdout
    libc = envbuild("why", "libc6", cwd=tmp_path).stdout.splitlines()  # every package that needs it, not one
    assert libc[0] == "system  git -> libc6" and "system  git -> zlib1g -> libc6" in libc, libc
    assert "system  git -> libcurl3-gnutls -> libc6" in libc and len(libc) == 20, "the 20 shortest of many chains"
    as_json = json.loads(envbuild("why", "beta", "--json", cwd=tmp_path).stdout)
    assert as_json == {"schema": 1, "name": "beta", "platform": "linux/amd64",
                       "chains": [{"part": "python", "steps": ["alpha==1.1", "beta==1.1"]}]}
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    beta = lock.python.by_name()["beta"]
    assert beta.via == ("alpha",) and not beta.requested and lock.python.by_name()["alpha"].requested
    assert lock.system is not None and lock.system.by_name()["git"].requested


def test_an_unknown_name_and_an_old_lock_are_one_line_errors(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("why", "betta", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == ("envbuild: error: betta is not in the lock for linux/amd64 "
                                                    "(did you mean beta?)\n")
    text = (tmp_path / "envbuild.lock").read_text().replace(f"version = {lockfile.LOCK_VERSION}\n", "version = 3\n", 1)
    (tmp_path / "old.lock").write_text(text.replace("requested = true\n", "").replace('via = ["alpha"]\n', ""))
    old = envbuild("why", "beta", "-l", "old.lock", cwd=tmp_path)
    assert old.returncode == 2 and "keeps no dependency edges; run envbuild lock" in old.stderr


def test_conda_chains_follow_depends_from_the_specs_packages(tmp_path: Path, index: LocalIndex,
                                                             conda_channel: Any) -> None:
    done = conda_lock(tmp_path, index, conda_channel, ["libb", "pure"])
    assert done.returncode == 0, done.stderr
    why = envbuild("why", "liba", cwd=tmp_path)
    assert why.returncode == 0 and why.stdout.startswith("conda   libb=2.0 -> liba="), why.stdout
    assert envbuild("why", "libb", cwd=tmp_path).stdout == "conda   libb=2.0   (the spec asks for it)\n"


def test_a_build_group_package_is_explained_by_the_sdist_that_builds_with_it(tmp_path: Path,
                                                                           index: LocalIndex) -> None:
    from tests.support.pypi import make_sdist

    make_sdist(index.root, "needsix", "0.2", needs="alpha", runtime=False)
    spec = write_spec(tmp_path, index.url, ["needsix", "gamma"])
    spec.write_text(spec.read_text() + 'build-dependencies = {needsix = ["alpha"]}\n')
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("why", "beta", cwd=tmp_path)  # alpha's dependency, in the build group only
    assert done.returncode == 0 and done.stdout == "build   needsix (its build) -> alpha==1.1 -> beta==1.1\n", \
        done.stdout
    assert envbuild("why", "alpha", cwd=tmp_path).stdout == "build   needsix (its build) -> alpha==1.1\n"
