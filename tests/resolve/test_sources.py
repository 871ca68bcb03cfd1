"""[python] indexes/sources, local and direct archives, and sdists that need a locked package to build: locked
against real loopback indexes by the real uv."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from envbuild import lockfile
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex, make_sdist, make_wheel


@pytest.fixture
def pinned(tmp_path: Path) -> Iterator[LocalIndex]:
    """A second index, as download.pytorch.org/whl/cu124 is: a local-version build, and a beta nobody asked of it."""
    root = tmp_path / "pinned"
    with LocalIndex(root) as served:
        make_wheel(root, "torchy", "1.0+cu124")
        make_wheel(root, "beta", "7.0")
        yield served


def _append(spec: Path, text: str) -> None:
    spec.write_text(spec.read_text() + text)


def test_a_pinned_package_comes_from_its_index_and_a_same_name_decoy_never_appears(
        tmp_path: Path, index: LocalIndex, pinned: LocalIndex) -> None:
    index.publish(make_wheel(tmp_path / "decoy", "torchy", "9.0"), make_wheel(tmp_path / "decoy", "torchy", "1.0"))
    spec = write_spec(tmp_path / "p", index.url, ["alpha", "beta", "torchy==1.0"])
    _append(spec, f'indexes = [{{name = "cu124", url = "{pinned.url}", explicit = true}}]\n'
                  'sources = {torchy = "cu124"}\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(spec.parent / "envbuild.lock")
    pins = lock.python.by_name()
    assert pins["torchy"].version == "1.0+cu124" and pins["torchy"].index == "cu124"
    assert all(f.url.startswith(pinned.url.removesuffix("/simple")) for f in pins["torchy"].files)
    assert pins["beta"].version == "1.1" and pins["beta"].index is None  # explicit: the index serves torchy only
    text = (spec.parent / "envbuild.lock").read_text()
    assert "torchy-9.0" not in text and "torchy-1.0-py3" not in text and "beta-7.0" not in text
    assert [(i.name, i.explicit) for i in lock.python.indexes] == [("cu124", True)]
    assert not any("decoy" in p for p in index.requests if "torchy" in p)


def test_a_local_wheel_is_locked_relative_to_the_spec_and_the_lock_moves_with_the_project(
        tmp_path: Path, index: LocalIndex) -> None:
    project = tmp_path / "a" / "project"
    make_wheel(project / "wheels", "six", "1.16.0")
    spec = write_spec(project, index.url, ["alpha", "six @ ./wheels/six-1.16.0-py3-none-any.whl"])
    done = envbuild("lock", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "envbuild.lock").read_text()
    six = lockfile.read_lock(project / "envbuild.lock").python.by_name()["six"]
    assert six.path == "wheels/six-1.16.0-py3-none-any.whl" and six.direct_url is None
    assert str(tmp_path) not in text and "file:" not in text
    moved = tmp_path / "elsewhere" / "deeper" / "project"
    shutil.copytree(project, moved)
    (moved / "envbuild.lock").unlink()
    assert envbuild("lock", cwd=moved).returncode == 0
    assert (moved / "envbuild.lock").read_text() == text
    assert spec.exists()


def test_a_local_file_outside_the_project_is_refused_and_the_lock_kept(tmp_path: Path, index: LocalIndex) -> None:
    make_wheel(tmp_path / "outside", "six", "1.16.0")
    spec = write_spec(tmp_path / "p", index.url, ["alpha"])
    assert envbuild("lock", cwd=spec.parent).returncode == 0
    before = (spec.parent / "envbuild.lock").read_text()
    spec.write_text(spec.read_text().replace('["alpha"]', '["alpha", "six @ ../outside/six-1.16.0-py3-none-any.whl"]'))
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 2 and "outside the project" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert (spec.parent / "envbuild.lock").read_text() == before


def test_a_direct_wheel_url_is_locked_with_its_url_and_hash(tmp_path: Path, index: LocalIndex) -> None:
    wheel = make_wheel(tmp_path / "release-assets", "flashy", "2.7.0", ["beta"])
    index.publish(wheel)  # served under /files/, as a release asset would be, and named directly
    url = f"{index.url.removesuffix('/simple')}/files/{wheel.path.name}"
    spec = write_spec(tmp_path / "p", index.url, [f"flashy @ {url}"])
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    flashy = lockfile.read_lock(spec.parent / "envbuild.lock").python.by_name()["flashy"]
    assert flashy.direct_url == url and flashy.hashes == (f"sha256:{wheel.sha256}",)


def test_an_sdist_that_imports_a_locked_package_fails_short_with_a_hint_then_locks_once_declared(
        tmp_path: Path, index: LocalIndex) -> None:
    index.publish(make_wheel(tmp_path / "w", "torchy", "2.5.1"))
    make_sdist(index.root, "flashy", "0.1", needs="torchy")
    spec = write_spec(tmp_path / "p", index.url, ["flashy", "torchy==2.5.1"])
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and len(line) < 500, line
    assert "flashy" in line and "No module named 'torchy'" in line
    assert 'build-dependencies = {flashy = ["torchy"]}' in line
    verbose = envbuild("lock", "-v", cwd=spec.parent)
    assert verbose.returncode == 2 and "Traceback (most recent call last)" in verbose.stderr
    assert not (spec.parent / "envbuild.lock").exists()

    _append(spec, 'build-dependencies = {flashy = ["torchy"]}\nbuild-env = {MAX_JOBS = "2"}\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    assert "sdist    flashy 0.1: built from its sdist at install time, with its locked build group" in done.stdout
    assert "build    group of 1 locked package (torchy 2.5.1), installed only in the image's kernels stage " \
        in done.stdout
    lock = lockfile.read_lock(spec.parent / "envbuild.lock")
    assert lock.python.build_dependencies == (("flashy", ("torchy",)),)
    assert [(p.name, p.version) for p in lock.python.build_packages] == [("torchy", "2.5.1")]
    assert lock.python.build_packages[0].hashes == lock.python.by_name()["torchy"].hashes
    assert lock.python.build_env == (("MAX_JOBS", "2"),)
    assert lock.python.by_name()["flashy"].built

    kept = (spec.parent / "envbuild.lock").read_text()
    strict = envbuild("lock", "--strict-wheels", cwd=spec.parent)
    assert strict.returncode == 2 and "--strict-wheels" in strict.stderr and "flashy 0.1" in strict.stderr
    assert (spec.parent / "envbuild.lock").read_text() == kept


def test_the_build_group_is_locked_apart_at_the_runtimes_versions_and_stays_out_of_the_runtime(
        tmp_path: Path, index: LocalIndex) -> None:
    """needsix's build imports beta, which the runtime does not need: beta is locked in the build group only; the
    build group's torchy is the runtime's 2.5.1, not the index's newest (uv's match-runtime)."""
    index.publish(make_wheel(tmp_path / "w", "torchy", "2.5.1"), make_wheel(tmp_path / "w", "torchy", "2.6.0"))
    make_sdist(index.root, "flashy", "0.1", needs="torchy")
    make_sdist(index.root, "needsix", "0.2", needs="beta", runtime=False)
    spec = write_spec(tmp_path / "p", index.url, ["flashy", "needsix", "torchy==2.5.1"])
    _append(spec, 'build-dependencies = {flashy = ["torchy"], needsix = ["beta"]}\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(spec.parent / "envbuild.lock")
    assert [(p.name, p.version) for p in lock.python.build_packages] == [("beta", "1.1"), ("torchy", "2.5.1")]
    assert all(p.hashes and p.requested for p in lock.python.build_packages)
    assert sorted(lock.python.by_name()) == ["flashy", "needsix", "torchy"]  # beta is for building only
    text = (spec.parent / "envbuild.lock").read_text()
    assert text.count("[[python.build-packages]]") == 2 and "version = 6" in text

    kept = text
    spec.write_text(spec.read_text().replace('flashy = ["torchy"]', 'flashy = ["torchy>=2.6"]'))
    clash = envbuild("lock", cwd=spec.parent)
    assert clash.returncode == 2 and "Traceback" not in clash.stderr
    assert "[python] build-dependencies, at the runtime's versions" in clash.stderr, clash.stderr
    assert (spec.parent / "envbuild.lock").read_text() == kept


def test_sync_installs_the_pinned_index_the_local_wheel_and_builds_the_sdist_against_the_venv(
        tmp_path: Path, index: LocalIndex, pinned: LocalIndex) -> None:
    index.publish(make_wheel(tmp_path / "decoy", "torchy", "1.0"))
    make_sdist(index.root, "flashy", "0.1", needs="torchy")
    project = tmp_path / "p"
    make_wheel(project / "wheels", "six", "1.16.0")
    spec = write_spec(project, index.url, ["flashy", "torchy==1.0", "six @ ./wheels/six-1.16.0-py3-none-any.whl"])
    _append(spec, f'indexes = [{{name = "cu124", url = "{pinned.url}", explicit = true}}]\n'
                  'sources = {torchy = "cu124"}\nbuild-dependencies = {flashy = ["torchy"]}\n'
                  'build-env = {MAX_JOBS = "5"}\n')
    assert envbuild("lock", cwd=project).returncode == 0
    done = envbuild("sync", "--venv", str(tmp_path / "venv"), cwd=project, timeout=300)
    assert done.returncode == 0, done.stderr
    python = tmp_path / "venv" / "bin" / "python"
    import subprocess

    out = subprocess.run([str(python), "-c", "import flashy, six, torchy; print(flashy.BUILT_AGAINST, flashy.MAX_JOBS,"
                          " torchy.__version__, six.__version__)"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.0+cu124", "5", "1.0+cu124", "1.16.0"]
    check = envbuild("check", "--python", str(python), cwd=project)
    assert check.returncode in (0, 1) and check.stdout.startswith("Checked "), check.stderr
    assert "flashy" not in check.stdout and "six" not in check.stdout and "torchy" not in check.stdout, check.stdout


def test_exports_keep_the_index_the_direct_url_and_the_local_path(tmp_path: Path, index: LocalIndex,
                                                                   pinned: LocalIndex) -> None:
    import tomllib

    wheel = make_wheel(tmp_path / "assets", "flashy", "2.7.0")
    index.publish(wheel)
    url = f"{index.url.removesuffix('/simple')}/files/{wheel.path.name}"
    project = tmp_path / "p"
    make_wheel(project / "wheels", "six", "1.16.0")
    spec = write_spec(project, index.url, [f"flashy @ {url}", "torchy", "six @ ./wheels/six-1.16.0-py3-none-any.whl"])
    _append(spec, f'indexes = [{{name = "cu124", url = "{pinned.url}", explicit = true}}]\n'
                  'sources = {torchy = "cu124"}\n')
    assert envbuild("lock", cwd=project).returncode == 0
    req = envbuild("export", "--format", "requirements", cwd=project)
    assert req.returncode == 0, req.stderr
    assert f"--extra-index-url {pinned.url}" in req.stdout and f"flashy @ {url}" in req.stdout
    assert f"six @ file://{project.resolve()}/wheels/six-1.16.0-py3-none-any.whl" in req.stdout
    pylock = envbuild("export", "--format", "pylock", cwd=project)
    assert pylock.returncode == 0, pylock.stderr
    packages = {p["name"]: p for p in tomllib.loads(pylock.stdout)["packages"]}
    assert packages["torchy"]["index"] == pinned.url
    assert packages["flashy"]["archive"]["url"] == url and "index" not in packages["flashy"]
    assert packages["six"]["archive"]["path"] == "wheels/six-1.16.0-py3-none-any.whl"


def test_a_git_requirement_is_locked_to_its_commit_synced_exported_and_rendered(tmp_path: Path,
                                                                                index: LocalIndex) -> None:
    from dataclasses import replace

    import tomllib

    from envbuild.errors import RenderError
    from envbuild.lockfile import SystemPackage
    from envbuild.render.python import python_context
    from tests.support.vcs import GitServer

    with GitServer(tmp_path / "git") as git:
        commit = git.publish("gitpkg", "0.3")
        project = tmp_path / "p"
        write_spec(project, index.url, ["alpha", f"gitpkg @ git+{git.url('gitpkg')}@v0.3"])
        done = envbuild("lock", cwd=project)
        assert done.returncode == 0, done.stderr
        assert f"gitpkg 0.3: built from git commit {commit[:12]} at install time" in done.stdout
        lock = lockfile.read_lock(project / "envbuild.lock")
        assert lock.python.by_name()["gitpkg"].vcs == f"git+{git.url('gitpkg')}@{commit}"

        synced = envbuild("sync", "--venv", str(tmp_path / "venv"), cwd=project, timeout=300)
        assert synced.returncode == 0, synced.stderr
        check = envbuild("check", "--python", str(tmp_path / "venv" / "bin" / "python"), cwd=project)
        assert check.stdout.startswith("Checked ") and "gitpkg" not in check.stdout, check.stdout

    req = envbuild("export", "--format", "requirements", cwd=project).stdout
    assert f"# vcs: gitpkg @ git+{git.url('gitpkg')}@{commit}" in req and "alpha==1.1" in req
    pylock = {p["name"]: p for p in tomllib.loads(envbuild("export", "--format", "pylock", cwd=project).stdout)[
        "packages"]}
    assert pylock["gitpkg"]["vcs"] == {"type": "git", "url": git.url("gitpkg"), "commit-id": commit}
    with pytest.raises(RenderError, match='needs git: add "git" to'):
        python_context(lock)
    assert lock.system is not None
    git_deb = SystemPackage("git", "1:2.39.5-0+deb12u2", "amd64", "0" * 64)
    with_git = replace(lock, system=replace(lock.system, packages=(*lock.system.packages, git_deb)))
    [built] = python_context(with_git)["sdists"]
    assert built["name"] == "gitpkg" and "--require-hashes" not in built["flags"]


@pytest.mark.parametrize(("extra", "says"), [
    ('sources = {torchy = "nowhere"}\n', "[python] -> sources -> torchy: 'nowhere' is not in [python] indexes"),
    ('indexes = [{name = "a", url = "https://u:p@x/simple"}]\n', "[python] -> indexes[0] -> url: holds credentials"),
    ('indexes = [{name = "a", url = "https://x/simple", explicit = "yes"}]\n', "explicit: must be true or false"),
    ('build-dependencies = {flashy = "torchy"}\n', "[python] -> build-dependencies -> flashy: must be a non-empty"),
    ('build-env = {MAX_JOBS = 4}\n', '[python] -> build-env -> MAX_JOBS: must be a string (quote it: MAX_JOBS = "4")'),
    ('no-build-isolation = "flashy"\n', "[python] -> no-build-isolation: must be a list of strings"),
])
def test_bad_build_and_index_keys_are_one_line_with_the_key_path(tmp_path: Path, extra: str, says: str) -> None:
    spec = write_spec(tmp_path, "http://127.0.0.1:9/simple", ["torchy"])
    _append(spec, extra)
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "envbuild.lock").exists()


def test_a_gpu_kernel_sdist_with_nowhere_to_compile_is_said_in_one_line_at_lock_time(
        tmp_path: Path, index: LocalIndex) -> None:
    index.publish(make_wheel(tmp_path / "w", "torchy", "2.5.1"))
    make_sdist(index.root, "flash-attn", "2.7.4", needs="torchy")
    spec = write_spec(tmp_path / "p", index.url, ["flash-attn", "torchy==2.5.1"])
    _append(spec, 'build-dependencies = {flash-attn = ["torchy"]}\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    said = [line for line in (done.stdout + done.stderr).splitlines() if "nowhere to compile" in line]
    assert len(said) == 1 and "flash-attn 2.7.4: its build compiles CUDA kernels (nvcc)" in said[0], said
    assert "[python] build-image" in said[0]


def test_a_build_image_without_build_dependencies_is_refused_with_its_key(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path / "p", index.url, ["alpha"])
    _append(spec, 'build-image = "nvidia/cuda:12.4.1-devel-ubuntu22.04"\n')
    done = envbuild("lock", cwd=spec.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "[python] -> build-image: is where the sdists of build-dependencies compile" in done.stderr, done.stderr
    assert not (spec.parent / "envbuild.lock").exists()


def test_sync_builds_an_sdist_with_its_build_group_and_keeps_the_group_out_of_the_venv(
        tmp_path: Path, index: LocalIndex) -> None:
    import subprocess

    make_sdist(index.root, "needsix", "0.2", needs="beta", runtime=False)
    spec = write_spec(tmp_path / "p", index.url, ["needsix", "gamma"])
    _append(spec, 'build-dependencies = {needsix = ["beta==1.0"]}\nbuild-env = {MAX_JOBS = "3"}\n')
    assert envbuild("lock", cwd=spec.parent).returncode == 0
    done = envbuild("sync", "--venv", str(tmp_path / "venv"), cwd=spec.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    python = tmp_path / "venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import importlib.util, gamma, needsix; print(needsix.BUILT_AGAINST, "
                          "needsix.MAX_JOBS, importlib.util.find_spec('beta') is None)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.0", "3", "True"], out.stdout  # built with the group's beta, which stays out
    check = envbuild("check", "--python", str(python), cwd=spec.parent)
    assert check.returncode == 0, check.stdout + check.stderr
