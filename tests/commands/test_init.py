"""`envbuild init`: a spec written from what a team has (files, a live environment), locked, never overwriting."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envbuild import lockfile
from envbuild.compat import tomllib
from tests.conftest import envbuild, write_spec
from tests.support.apt import AptMirror
from tests.support.pypi import LocalIndex, make_wheel
from tests.support.registry import DEBIAN_12, Registry, dpkg_status, layer


def sources(index: LocalIndex, apt_mirror: AptMirror) -> list[str]:
    """The options that point init at the loopback index and apt mirror (never the Internet)."""
    return ["--index-url", index.url, "--mirror", f"{apt_mirror.url}/debian",
            "--security-mirror", f"{apt_mirror.url}/debian-security", "--signed-by", str(apt_mirror.key_file)]


def spec_of(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "envbuild.toml").read_text())


def test_a_plain_requirements_file_is_referenced_and_locked(tmp_path: Path, index: LocalIndex,
                                                            apt_mirror: AptMirror) -> None:
    project = tmp_path / "fraud-model"
    project.mkdir()
    (project / "requirements.txt").write_text("alpha>=1.0  # the app\ngamma\n")
    done = envbuild("init", "--from", "requirements.txt", *sources(index, apt_mirror), cwd=project)
    assert done.returncode == 0, done.stderr
    spec = spec_of(project)
    assert spec["environment"]["name"] == "fraud-model", "the project's folder, not 'default'"
    assert spec["python"]["requirements-files"] == ["requirements.txt"], "the team keeps editing its file"
    assert spec["environment"]["distro"] == "debian:bookworm" and spec["environment"]["python"] == "3.11"
    lock = lockfile.read_lock(project / "envbuild.lock")
    assert {p.name for p in lock.python.packages} == {"alpha", "beta", "gamma"}
    assert envbuild("lock", "--check", cwd=project).returncode == 0, "the lock is the spec's"
    assert "Locked 3 Python packages" in done.stdout


def test_pip_options_are_moved_to_the_spec_or_said(tmp_path: Path, index: LocalIndex, apt_mirror: AptMirror) -> None:
    (tmp_path / "base.txt").write_text("gamma==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    (tmp_path / "requirements.txt").write_text(
        f"-i {index.url}\n-r base.txt\nalpha==1.0\n-e ./src/mine\n--find-links ./wheels\n"
        "six @ https://example.invalid/six-1.16.0-py2.py3-none-any.whl\n")
    done = envbuild("init", "--from", "requirements.txt", "--mirror", f"{apt_mirror.url}/debian",
                    "--security-mirror", f"{apt_mirror.url}/debian-security", "--signed-by",
                    str(apt_mirror.key_file), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = spec_of(tmp_path)
    assert spec["python"]["requirements"] == ["alpha==1.0", "gamma==1.0"], "copied in, hashes dropped"
    assert spec["python"]["index-url"] == index.url
    text = (tmp_path / "envbuild.toml").read_text()
    for what in ("-e ./src/mine: not captured, an editable install", "--find-links ./wheels: not captured",
                 "six @ https://example.invalid/six-1.16.0-py2.py3-none-any.whl: not captured, a direct URL"):
        assert what in " ".join(line.lstrip("# ") for line in text.splitlines()), what
        assert what.split(":")[0] in done.stderr, "each is a warning too"


def test_a_pyproject_gives_its_dependencies_and_python(tmp_path: Path, index: LocalIndex,
                                                       apt_mirror: AptMirror) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "My Trainer"\nrequires-python = ">=3.10"\ndependencies = ["alpha"]\n'
        '[project.optional-dependencies]\ndev = ["gamma"]\n')
    done = envbuild("init", "--from", "pyproject.toml", *sources(index, apt_mirror), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = spec_of(tmp_path)
    assert spec["environment"]["name"] == "My-Trainer" and spec["python"]["requirements"] == ["alpha"]
    assert "optional dependencies (dev) are not included" in (tmp_path / "envbuild.toml").read_text()
    (tmp_path / "envbuild.toml").unlink()
    (tmp_path / "envbuild.lock").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.12"\n'
                                             'dependencies = ["alpha"]\n')
    done = envbuild("init", "--from", "pyproject.toml", "--no-lock", cwd=tmp_path)
    assert done.returncode == 0 and spec_of(tmp_path)["environment"]["python"] == "3.12"
    assert "excludes the distro's Python 3.11: set base-image to an image with Python 3.12" in done.stderr


def test_an_environment_yml_gives_conda_and_pip_in_conda(tmp_path: Path, index: LocalIndex, apt_mirror: AptMirror,
                                                        conda_channel: Any) -> None:
    (tmp_path / "environment.yml").write_text(
        f"name: trainer\nchannels:\n  - {conda_channel.url}\n  - nodefaults\ndependencies:\n  - python=3.11\n"
        "  - libb >=2\n  - pip:\n    - alpha\n    - -e .\n")
    done = envbuild("init", "--from", "environment.yml", *sources(index, apt_mirror), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = spec_of(tmp_path)
    assert spec["conda"] == {"channels": [conda_channel.url], "packages": ["python=3.11", "libb >=2", "pip"]}
    assert spec["python"]["requirements"] == ["alpha"] and spec["environment"]["name"] == "trainer"
    assert "environment.yml pip: line 2: -e .: not captured" in done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert (lock.python.version, lock.python.source) == ("3.11.9", "conda")
    assert lock.conda is not None and {"libb", "liba", "python", "pip"} <= set(lock.conda.by_name())


def test_init_never_overwrites_and_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("alpha\n")
    (tmp_path / "envbuild.toml").write_text("# mine\n")
    done = envbuild("init", "--from", "requirements.txt", cwd=tmp_path)
    assert done.returncode == 2 and "already exists; init never overwrites a spec" in done.stderr
    assert (tmp_path / "envbuild.toml").read_text() == "# mine\n"
    (tmp_path / "envbuild.toml").unlink()
    (tmp_path / "envbuild.lock").write_text("version = 2\n# a good lock\n")
    done = envbuild("init", "--from", "requirements.txt", cwd=tmp_path)
    assert done.returncode == 2 and "never replaces a lock" in done.stderr
    assert (tmp_path / "envbuild.lock").read_text() == "version = 2\n# a good lock\n"
    assert not (tmp_path / "envbuild.toml").exists()
    for args, message in ((["--from", "missing.txt"], "--from missing.txt: no such file"),
                          (["--from", "requirements.txt", "--from-image", "x"], "give one of --from FILE"),
                          ([], "give one of --from FILE")):
        done = envbuild("init", "--no-lock", *args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    (tmp_path / "environment.yml").write_text("dependencies: [python=3.11\n")
    done = envbuild("init", "--no-lock", "--from", "environment.yml", cwd=tmp_path)
    assert done.returncode == 2 and "environment.yml: cannot read" in done.stderr and "Traceback" not in done.stderr


def _venv(path: Path, index: LocalIndex, *requirements: str, python: str) -> Path:
    subprocess.run([sys.executable, "-m", "uv", "venv", "-q", "--python", python, str(path)], check=True)
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(path / "bin/python"),
                    "--index-url", index.url, *requirements], check=True,
                   env={**os.environ, "UV_INDEX_URL": index.url})
    return path / "bin" / "python"


def host_root(path: Path) -> Path:
    """A host's files as init reads them: Debian bookworm, git and curl installed on purpose, libgomp1 and liberror
    as their dependencies (apt marked them), vim from a repository the mirror does not have, and a required one."""
    (path / "etc").mkdir(parents=True)
    (path / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    (path / "var/lib/dpkg").mkdir(parents=True)
    (path / "var/lib/apt").mkdir(parents=True)
    stanzas = [("git", "amd64", "optional"), ("curl", "amd64", "optional"), ("libgomp1", "amd64", "optional"),
               ("private-vim", "amd64", "optional"), ("bash", "amd64", "required"),
               ("libc6", "i386", "optional"), ("removed-one", "amd64", "optional"), ("python3.11", "amd64", "optional")]
    (path / "var/lib/dpkg/status").write_text("\n".join(
        f"Package: {name}\nStatus: {'deinstall ok config-files' if name == 'removed-one' else 'install ok installed'}"
        f"\nPriority: {priority}\nArchitecture: {arch}\nVersion: 1\n" for name, arch, priority in stanzas))
    (path / "var/lib/apt/extended_states").write_text("".join(
        f"Package: {name}\nArchitecture: amd64\nAuto-Installed: 1\n\n" for name in ("libgomp1", "python3.11")))
    return path


def test_a_captured_environment_checks_clean_against_its_own_lock(tmp_path: Path, index: LocalIndex,
                                                                  apt_mirror: AptMirror) -> None:
    """alpha 1.0 (not the newest) and its beta 1.0 are kept; a package from an index init cannot see, and an apt
    package from another repository, are said and left out; the environment then checks clean, but for those."""
    from envbuild.commands.init import Source, init

    if not Path("/usr/bin/python3").exists():
        pytest.skip("needs the distro's /usr/bin/python3 to make a venv of a Debian interpreter")
    other = tmp_path / "other"
    other.mkdir()
    private = make_wheel(tmp_path / "private", "private-tool", "2.0")
    with LocalIndex(other) as elsewhere:
        elsewhere.publish(private)
        python = _venv(tmp_path / "venv", index, "alpha==1.0", "beta==1.0", "gamma", python="/usr/bin/python3")
        subprocess.run([sys.executable, "-m", "uv", "pip", "install", "-q", "--python", str(python), "--index-url",
                        elsewhere.url, "private-tool"], check=True)
    project = tmp_path / "project"
    project.mkdir()
    source = Source(python=str(python), index_url=index.url, mirror=f"{apt_mirror.url}/debian",
                    security_mirror=f"{apt_mirror.url}/debian-security", signed_by=str(apt_mirror.key_file),
                    root=host_root(tmp_path / "root"))
    result = init(source, project / "envbuild.toml")
    spec = spec_of(project)
    assert spec["python"]["requirements"] == ["alpha==1.0", "gamma==1.0"], "top-level, at the installed versions"
    assert spec["system"]["packages"] == ["curl", "git"], "installed on purpose, and in the mirror"
    warnings = "\n".join(result.draft.warnings)
    assert "private-tool==2.0: left out, the index has no such version" in warnings
    assert "private-vim: left out, not in the target's apt sources" in warnings
    assert "libc6:i386: not captured, packages of another architecture" in warnings
    assert "not the distro's" not in warnings, "the venv's interpreter is the distro's python3.11"
    text = " ".join(line.lstrip("# ") for line in (project / "envbuild.toml").read_text().splitlines())
    assert "private-tool==2.0: left out" in text and "private-vim: left out" in text, "said in the spec too"
    lock = lockfile.read_lock(project / "envbuild.lock")
    assert {(p.name, p.version) for p in lock.python.packages} == {("alpha", "1.0"), ("beta", "1.0"),
                                                                   ("gamma", "1.0")}, "beta 1.1 exists; 1.0 is kept"
    assert lock.system is not None and {"git", "curl", "python3.11"} <= set(lock.system.by_name())
    # the check of the captured interpreter: clean, but for what init said it left out
    assert result.verdict is not None and result.findings[0] == \
        "python private-tool: extra (not in the lock, here 2.0)", result.findings
    assert all(line.startswith("system:") for line in result.findings[1:]), "apt: this host is not the fixture's"
    again = envbuild("lock", cwd=project)  # "envbuild init --from-host && envbuild lock": the same lock
    assert again.returncode == 0 and "is unchanged" in again.stdout, again.stdout + again.stderr


def test_init_from_host_on_the_command_line(tmp_path: Path, index: LocalIndex) -> None:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("needs the distro's /usr/bin/python3 to make a venv of a Debian interpreter")
    python = _venv(tmp_path / ".venv", index, "alpha==1.0", python="/usr/bin/python3")
    done = envbuild("init", "--from-host", "--no-lock", cwd=tmp_path, env={"VIRTUAL_ENV": str(tmp_path / ".venv")})
    assert done.returncode == 0, done.stderr
    assert f"Wrote envbuild.toml from the Python environment of {python}" in done.stdout
    spec = spec_of(tmp_path)
    assert spec["python"]["requirements"] == ["alpha==1.0"] and spec["environment"]["platform"] == "linux/amd64"
    assert "--from-host" in (tmp_path / "envbuild.toml").read_text() and not (tmp_path / "envbuild.lock").exists()


def test_a_package_installed_from_git_is_captured_at_its_commit_and_locks(tmp_path: Path, index: LocalIndex) -> None:
    """A package pip or uv installed from git (PEP 610's direct_url.json) is captured as a direct reference at the
    commit installed, not by its version (which no index has), and that requirement locks to the same commit."""
    if not Path("/usr/bin/python3").exists():
        pytest.skip("needs the distro's /usr/bin/python3 to make a venv of a Debian interpreter")
    from tests.support.vcs import GitServer

    with GitServer(tmp_path / "git") as git:
        commit = git.publish("gitpkg", "0.3")
        python = _venv(tmp_path / ".venv", index, "alpha==1.0", f"gitpkg @ git+{git.url('gitpkg')}@v0.3",
                       python="/usr/bin/python3")
        done = envbuild("init", "--from-host", "--no-lock", cwd=tmp_path,
                        env={"VIRTUAL_ENV": str(python.parent.parent)})
        assert done.returncode == 0, done.stderr
        captured = spec_of(tmp_path)["python"]["requirements"]
        assert captured == ["alpha==1.0", f"gitpkg @ git+{git.url('gitpkg')}@{commit}"], captured
        assert "gitpkg" not in done.stderr, "nothing said of it: it was captured"
        project = tmp_path / "project"
        write_spec(project, index.url, captured)
        locked = envbuild("lock", cwd=project)
        assert locked.returncode == 0, locked.stderr
        assert lockfile.read_lock(project / "envbuild.lock").python.by_name()["gitpkg"].vcs == \
            f"git+{git.url('gitpkg')}@{commit}"


def test_the_gpu_is_recorded_and_gives_conda_its_cuda(tmp_path: Path, index: LocalIndex) -> None:
    """NVML answers (a C stand-in for libnvidia-ml.so.1, found through LD_LIBRARY_PATH as the real one is)."""
    from tests.check.test_gpu import build_nvml

    nvml = build_nvml(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "environment.yml").write_text("channels: [conda-forge]\ndependencies: [python=3.11, pytorch]\n")
    done = envbuild("init", "--from", "environment.yml", "--no-lock", cwd=project,
                    env={"LD_LIBRARY_PATH": str(nvml)})
    assert done.returncode == 0, done.stderr
    text = (project / "envbuild.toml").read_text()
    assert spec_of(project)["conda"]["cuda"] == "12.8", "the __cuda of this host's driver: CUDA builds are chosen"
    assert "# NVIDIA driver 570.86.10, CUDA 12.8: NVIDIA A10 (sm 8.6), NVIDIA GeForce RTX 5090 (sm 12.0)." in text
    if Path("/usr/bin/python3").exists():
        _venv(project / ".venv", index, "alpha==1.0", python="/usr/bin/python3")
        done = envbuild("init", "--from-host", "--no-lock", "-o", "host.toml", cwd=project,
                        env={"LD_LIBRARY_PATH": str(nvml)})
        assert done.returncode == 0, done.stderr
        assert "NVIDIA driver 570.86.10" in (project / "host.toml").read_text()


def test_an_interpreter_that_is_not_the_distros_is_pinned_through_an_image_that_has_it(
        tmp_path: Path, index: LocalIndex, apt_mirror: AptMirror, registry: Registry) -> None:
    """A venv on pyenv's (or uv's) Python of another release than the distro's: the spec pins that release exactly,
    through a base image that has it (the official python image of this Debian release by default, or the one named
    by --python-image), init says which, and the captured environment checks clean against its own lock."""
    from envbuild.commands.init import Source, init

    version = platform.python_version()
    if os.path.realpath(sys.executable).startswith("/usr/bin/") or version == "3.11.2":
        pytest.skip("the test's interpreter is the distro's release; this needs another (pyenv, uv)")
    python = _venv(tmp_path / ".venv", index, "alpha==1.0", python=sys.executable)
    root = host_root(tmp_path / "root")  # bookworm, whose python3.11 is 3.11.2
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace("Package: python3.11\nStatus: install ok installed\nPriority: "
                                                 "optional\nArchitecture: amd64\nVersion: 1",
                                                 "Package: python3.11\nStatus: install ok installed\nPriority: "
                                                 "optional\nArchitecture: amd64\nVersion: 3.11.2-6+deb12u6"))
    drafted = init(Source(python=str(python), root=root), tmp_path / "default.toml", lock=False)
    default = f"docker.io/library/python:{version}-slim-bookworm"
    assert [w for w in drafted.draft.warnings if "interpreter" in w] == [
        f"the interpreter ({os.path.realpath(sys.executable)}) is Python {version}, and the distro's python3.11 is "
        f"3.11.2: pinned through the base image {default}, which has it (--python-image REF names another)"]
    written = tomllib.loads((tmp_path / "default.toml").read_text())["environment"]
    assert (written["python"], written["base-image"], "distro" in written) == (version, default, False)
    assert "(init did not lock it: --no-lock)" in (tmp_path / "default.toml").read_text()

    image = f"{registry.host}/library/python:{version}-slim-bookworm"
    registry.image("library/python", f"{version}-slim-bookworm", [layer({
        "etc/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status({"libc6": "2.36-9+deb12u14"}),
        "usr/local/bin/python3.11": b"\x7fELF"})], env={"PYTHON_VERSION": version})
    project = tmp_path / "project"
    project.mkdir()
    result = init(Source(python=str(python), root=root, python_image=image, index_url=index.url,
                         mirror=f"{apt_mirror.url}/debian", security_mirror=f"{apt_mirror.url}/debian-security",
                         signed_by=str(apt_mirror.key_file)), project / "envbuild.toml")
    lock = lockfile.read_lock(project / "envbuild.lock")
    assert (lock.python.version, lock.python.source) == (version, "image")
    assert lock.base_image is not None and lock.base_image.reference == image
    assert result.verdict is not None and not [f for f in result.findings if f.startswith("interpreter")], \
        result.findings


def test_an_unreachable_default_image_falls_back_to_the_distro_s_python_and_says_so(
        tmp_path: Path, index: LocalIndex) -> None:
    """The official image init chose cannot be reached (offline, or no such tag): the spec is locked on the
    distro's Python instead, and init says the interpreter then differs.  An image the user named must be used."""
    from envbuild.capture import Draft
    from envbuild.commands.init import _lock

    spec = write_spec(tmp_path, index.url, ["alpha"], distro=None, python="3.11.7",
                      base_image="127.0.0.1:9/library/python:3.11.7-slim-bookworm")
    draft = Draft(source="a test", python="3.11.7", base_image="127.0.0.1:9/library/python:3.11.7-slim-bookworm",
                  distro_fallback="debian:bookworm", requirements=("alpha",), index_url=index.url)
    draft, _ = _lock(draft, spec, None)
    assert (draft.base_image, draft.distro, draft.python) == (None, "debian:bookworm", "3.11")
    assert draft.warnings[-1].startswith("127.0.0.1:9/library/python:3.11.7-slim-bookworm: not used (") and \
        draft.warnings[-1].endswith("the lock pins the distro's Python 3.11 instead of the host's 3.11.7, so the "
                                    "interpreter differs from this host's: give --python-image REF")
    assert lockfile.read_lock(tmp_path / "envbuild.lock").python.version == "3.11.2"
    (tmp_path / "named").mkdir()
    named = envbuild("init", "--python", sys.executable, "--python-image", "127.0.0.1:9/python:3.11.7-slim",
                     "--index-url", index.url, cwd=tmp_path / "named")
    assert named.returncode == 2 and "locking it failed: 127.0.0.1:9/python:3.11.7-slim" in named.stderr
    done = envbuild("init", "--from", "reqs.txt", "--python-image", "y", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == (
        "envbuild: error: --python-image pins the interpreter of --from-host (or --python); give one of them")
