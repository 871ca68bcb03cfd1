"""envbuild check end to end: real venvs from the loopback index, drift made on purpose."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from envbuild import lockfile
from envbuild.adapters import uv
from tests.check.conftest import HOST_PYTHON, check, statuses
from tests.conftest import envbuild
from tests.support.pypi import LocalIndex

NOT_ON_A_CLEAN_CHECK = ("click", "rich", "jinja2", "docker", "tomlkit", "requests", "packaging", "typing",
                        "dataclasses", "pathlib", "subprocess", "tomllib", "tomli", "re", "envbuild.cli",
                        "envbuild.resolve", "envbuild.spec", "envbuild.lockfile", "__future__")


def _loaded_by_check(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess,
                                                                                           list[str]]:
    """Run the console script's main() with ARGV and list the modules it loaded (of NOT_ON_A_CLEAN_CHECK)."""
    code = ("import sys\nfrom envbuild.entry import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n"
            f"    loaded = sorted(m for m in sys.modules if m.split('.')[0] in {NOT_ON_A_CLEAN_CHECK!r} or "
            f"m in {NOT_ON_A_CLEAN_CHECK!r})\n"
            "    sys.stderr.write(repr(loaded) + '\\n')\n    raise\n")
    done = subprocess.run([sys.executable, "-I", "-c", code, "check", *argv], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})}, check=False)
    return done, eval(done.stderr.strip().splitlines()[-1])  # noqa: S307 - our own repr of a list of names


def test_a_clean_check_loads_no_heavy_module(env: Path) -> None:
    """One check path, light by design: a clean check imports neither click nor rich, nor the spec model, the
    lock model or typing; with a warm cache it does not parse the lock or start the interpreter it checks."""
    python = str(env / ".venv/bin/python")
    done, _ = _loaded_by_check(env, "--python", python)  # the first run fills the caches
    assert done.returncode == 0, done.stderr
    done, loaded = _loaded_by_check(env, "--python", python)
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("OK: "), done.stdout
    assert loaded == []
    done, loaded = _loaded_by_check(env)  # plain: the .venv beside the lock
    assert done.returncode == 0 and loaded == [], (done.stderr, loaded)
    done, loaded = _loaded_by_check(env, "--json", "--junit", str(env / "j.xml"))
    assert json.loads(done.stdout)["ok"] is True and (env / "j.xml").is_file()
    assert {m.split(".")[0] for m in loaded} == {"re"}, "json needs re; nothing else heavy"
    (env / "envbuild.lock").write_text((env / "envbuild.lock").read_text() + "\n")  # another lock: parsed again
    done, loaded = _loaded_by_check(env)
    assert done.returncode == 0 and "envbuild.lockfile" in loaded and {"tomli", "tomllib"} & set(loaded)


def test_the_check_parses_its_own_options(env: Path) -> None:
    """The same parser behind `envbuild check` (the console script), the click group and envbuild-check."""
    helped = envbuild("check", "--help", cwd=env)
    assert helped.returncode == 0 and "Examples:" in helped.stdout and "$VIRTUAL_ENV" in helped.stdout
    from click.testing import CliRunner

    from envbuild.cli.app import cli

    via_click = CliRunner().invoke(cli, ["check", "--help"])
    assert via_click.exit_code == 0 and via_click.output == helped.stdout
    assert "check" in envbuild("--help", cwd=env).stdout
    for args, message in ((["--bogus"], "no such option: --bogus"), (["--lock"], "--lock requires an argument"),
                          (["--root", "nowhere"], "does not exist"), (["--json", "--json=1"], "given twice"),
                          (["--deep=yes"], "takes no value"), (["stray"], "unexpected argument"),
                          (["--python", ""], "non-empty")):
        done = envbuild("check", *args, cwd=env)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (args, done)
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_lock_in_another_toml_layout_is_still_checked_in_full(env: Path) -> None:
    """A lock edited into another TOML layout (an inline [env]) reads the same: the lock is parsed, not scanned."""
    path = env / "envbuild.lock"
    text = path.read_text().replace('[env]\nPYTHONHASHSEED = "0"\n', "")
    path.write_text(text.replace("\nspec-hash", '\nenv = {PYTHONHASHSEED = "0"}\nspec-hash', 1))
    assert lockfile.read_lock(path).env == (("PYTHONHASHSEED", "0"),)
    code, report = check(env, env={"PYTHONHASHSEED": "1"})
    assert code == 1 and ("env", "PYTHONHASHSEED", "changed") in statuses(report)


def test_changed_missing_and_extra_packages_are_drift(env: Path, index: LocalIndex) -> None:
    python = str(env / ".venv/bin/python")
    subprocess.run([uv.binary(), "pip", "install", "--python", python, "--index-url", index.url, "beta==1.0",
                    "delta==1.0"], check=True, capture_output=True)
    subprocess.run([uv.binary(), "pip", "uninstall", "--python", python, "gamma"], check=True, capture_output=True)
    code, report = check(env)
    assert code == 1 and report["ok"] is False
    assert statuses(report) == {("python", "beta", "changed"), ("python", "gamma", "missing"),
                                ("python", "delta", "extra")}
    beta = next(f for f in report["findings"] if f["name"] == "beta")
    assert (beta["expected"], beta["found"]) == ("1.1", "1.0")


def test_ignore_extra_and_an_editable_install(env: Path, tmp_path: Path, index: LocalIndex) -> None:
    lock_path = env / "envbuild.lock"
    lock = lockfile.read_lock(lock_path)
    lock_path.write_text(lockfile.dumps(dataclasses.replace(lock, ignore_extra=("delta",))))
    # what pip or uv leave for `install -e /src` (PEP 610): the same dist-info plus direct_url.json
    site = next((env / ".venv/lib").glob("python3*/site-packages"))
    (site / "alpha-1.1.dist-info" / "direct_url.json").write_text(
        json.dumps({"url": f"file://{tmp_path}/src", "dir_info": {"editable": True}}))
    subprocess.run([uv.binary(), "pip", "install", "--python", str(env / ".venv/bin/python"), "--index-url",
                    index.url, "delta==1.0"], check=True, capture_output=True)
    code, report = check(env)
    alpha = next(f for f in report["findings"] if f["name"] == "alpha")
    assert code == 1 and alpha["status"] == "changed" and alpha["found"].startswith("1.1 (editable: file://")
    assert not any(f["name"] == "delta" for f in report["findings"]), "delta is in [check] ignore-extra"


def test_env_vars_must_hold_the_locked_values(env: Path) -> None:
    code, report = check(env, env={"PYTHONHASHSEED": "1"})
    assert code == 1 and statuses(report) == {("env", "PYTHONHASHSEED", "changed")}
    done = envbuild("check", "--python", str(env / ".venv/bin/python"), "--json", cwd=env,
                    env={k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"} | {"PYTHONHASHSEED": ""})
    assert done.returncode == 1


def test_deep_finds_edited_and_deleted_files(env: Path) -> None:
    site = next((env / ".venv/lib").glob("python3*/site-packages"))
    assert check(env, "--deep")[0] == 0
    (site / "alpha" / "__init__.py").write_text("print('tampered')\n")
    (site / "gamma" / "__init__.py").unlink()
    code, report = check(env, "--deep")
    files = {(Path(f["name"]).relative_to(site).as_posix(), f["status"]) for f in report["findings"]
             if f["kind"] == "file"}
    assert code == 1 and files == {("alpha/__init__.py", "modified"), ("gamma/__init__.py", "missing")}


def test_broken_metadata_is_unverifiable_not_a_crash(env: Path) -> None:
    site = next((env / ".venv/lib").glob("python3*/site-packages"))
    (site / "empty-1.0.dist-info").mkdir()
    (site / "empty-1.0.dist-info" / "METADATA").write_text("")
    (site / "dangling-2.0.dist-info").mkdir()
    (site / "latin-1.0.dist-info").mkdir()
    (site / "latin-1.0.dist-info" / "METADATA").write_bytes(b"Name: latin\nVersion: 1.0\nSummary: caf\xe9\n")
    code, report = check(env)
    assert code == 1, "latin is an extra: drift"
    unverifiable = {Path(f["name"]).name for f in report["findings"] if f["status"] == "unverifiable"}
    assert {"empty-1.0.dist-info", "dangling-2.0.dist-info"} <= unverifiable
    assert ("python", "latin", "extra") in statuses(report), "a bad encoding still yields its name and version"


def test_junit_has_a_testcase_per_checked_item(env: Path, index: LocalIndex) -> None:
    subprocess.run([uv.binary(), "pip", "install", "--python", str(env / ".venv/bin/python"), "--index-url",
                    index.url, "beta==1.0"], check=True, capture_output=True)
    done = envbuild("check", "--python", str(env / ".venv/bin/python"), "--junit", "junit.xml", cwd=env,
                    env={"PYTHONHASHSEED": "0"})
    assert done.returncode == 1
    assert "DRIFT" in done.stdout and "beta" in done.stdout
    suite = ET.parse(env / "junit.xml").getroot()  # noqa: S314 - our own file
    names = {(case.get("classname"), case.get("name")) for case in suite}
    assert {("envbuild.python", "alpha"), ("envbuild.python", "beta"), ("envbuild.python", "gamma"),
            ("envbuild.interpreter", "python"), ("envbuild.env", "PYTHONHASHSEED")} <= names
    assert suite.get("failures") == "1" and suite.get("tests") == str(len(names))


def test_a_mounted_root_dpkg_and_os(tmp_path: Path, env: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="11"\n')
    lock = lockfile.read_lock(env / "envbuild.lock")
    system = lockfile.SystemLock(sources=(), packages=(
        lockfile.SystemPackage("git", "1:2.39.5-0+deb12u3", "amd64", "0" * 64),
        lockfile.SystemPackage("zlib1g", "1:1.2.13.dfsg-1", "amd64", "1" * 64)))
    (env / "root.lock").write_text(lockfile.dumps(dataclasses.replace(lock, system=system)))
    (root / "var/lib/dpkg/status").write_text(
        "Package: git\nStatus: install ok installed\nVersion: 1:2.39.2-1\nArchitecture: amd64\n\n"
        "Package: vim\nStatus: install ok installed\nVersion: 2:9.0\nArchitecture: amd64\n\n"
        "Package: zlib1g\nStatus: deinstall ok config-files\nVersion: 1:1.2.13.dfsg-1\n")
    done = envbuild("check", "-l", "root.lock", "--root", str(root), "--json", "--strict", cwd=env)
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert {("system", "git", "changed"), ("system", "zlib1g", "missing"), ("system", "vim", "extra"),
            ("os", "debian:12", "changed")} <= statuses(report)


def test_an_unreadable_lock_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "envbuild.lock").write_text("version = 9\n")
    done = envbuild("check", cwd=tmp_path)
    assert done.returncode == 2 and "lock version 9" in done.stderr


def test_report_aggregates_hosts_and_groups_findings(tmp_path: Path) -> None:
    def write(host: str, findings: list[dict]) -> Path:
        path = tmp_path / f"{host}.json"
        ok = not any(f["severity"] == "error" for f in findings)
        path.write_text(json.dumps({"schema": 1, "ok": ok, "lock": {"path": "envbuild.lock", "spec-hash": "x"},
                                    "host": {"hostname": host}, "findings": findings}))
        return path

    numpy = {"kind": "python", "name": "numpy", "status": "changed", "expected": "1.26.4", "found": "1.26.3",
             "severity": "error"}
    files = [write("node1", [numpy]), write("node2", [numpy]), write("node3", [])]
    done = envbuild("report", *map(str, files), "--json", cwd=tmp_path)
    view = json.loads(done.stdout)
    assert done.returncode == 1 and view["ok"] is False
    assert view["findings"] == [{**numpy, "hosts": ["node1", "node2"]}]
    assert envbuild("report", str(files[2]), cwd=tmp_path).returncode == 0
    (tmp_path / "junk.json").write_text("{")
    bad = envbuild("report", str(tmp_path / "junk.json"), cwd=tmp_path)
    assert bad.returncode == 2 and "not a readable check report" in bad.stderr


@pytest.mark.docker
def test_check_inside_an_image(tmp_path: Path, docker_engine: Any) -> None:
    import docker.errors

    image = os.environ.get("ENVBUILD_TEST_IMAGE", "envbuild-ci/python3:bookworm")
    try:
        docker_engine.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.skip(f"no image {image} with a python3 (make provision builds it; or set ENVBUILD_TEST_IMAGE)")
    lock = tmp_path / "envbuild.lock"
    lock.write_text('version = 1\nspec-hash = "sha256:x"\nname = "t"\n\n[target]\nplatform = "linux/amd64"\n\n'
                    '[python]\nrequested = "3"\nresolver = "uv"\nindex-url = "x"\nextra-index-urls = []\n'
                    'packages = []\n\n[env]\nENVBUILD_IMAGE_CHECK = "yes"\n\n[check]\nignore-extra = []\n')
    done = envbuild("check", "--image", image, "--json", cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert report["host"]["python"].startswith("3.") and report["host"]["os"]
    assert {(f["kind"], f["name"], f["status"]) for f in report["findings"]} >= {
        ("env", "ENVBUILD_IMAGE_CHECK", "missing")}, "the variable is set nowhere in the image"
    human = envbuild("check", "--image", image, cwd=tmp_path)
    assert human.stdout.splitlines()[-1].startswith(f"DRIFT: the image {image} departs from "), "not the container"
    local = envbuild("check", "--image", f"docker-daemon:{image}", "--json", cwd=tmp_path)
    assert local.returncode == 1 and json.loads(local.stdout)["findings"] == report["findings"], local.stderr
    gone = envbuild("check", "--image", "docker-daemon:envbuild-test-nothing:1", cwd=tmp_path)
    assert gone.returncode == 2 and gone.stderr.strip() == (
        "envbuild: error: docker-daemon:envbuild-test-nothing:1: the local Docker engine has no such image")


def test_image_without_an_engine_is_a_clear_error(env: Path) -> None:
    done = envbuild("check", "--image", "trainer:1", cwd=env, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert done.returncode == 2
    assert done.stderr.startswith("envbuild: error: cannot reach the Docker engine")
    missing_root = envbuild("check", "--root", str(env / "no-such-root"), cwd=env)
    assert missing_root.returncode == 2 and "does not exist" in missing_root.stderr
    both = envbuild("check", "--image", "x", "--root", str(env), cwd=env)
    assert both.returncode == 2 and "give one of them" in both.stderr


def test_another_interpreter_release_is_drift(env: Path) -> None:
    path = env / "envbuild.lock"
    lock = lockfile.read_lock(path)
    path.write_text(lockfile.dumps(dataclasses.replace(lock, python=dataclasses.replace(lock.python,
                                                                                        version="3.11.1"))))
    code, report = check(env, "--scope", "host")
    finding = next(f for f in report["findings"] if f["kind"] == "interpreter")
    assert code == 1 and (finding["status"], finding["expected"], finding["found"]) == (
        "changed", "3.11.1", HOST_PYTHON)
    code, report = check(env)  # the venv sync made: sync said the interpreter differs, and the wheels run on it
    finding = next(f for f in report["findings"] if f["kind"] == "interpreter")
    assert code == 0 and report["checked"]["scope"] == "venv" and (finding["status"], finding["severity"]) == (
        "changed", "warning")
    other_minor = dataclasses.replace(lock, python=dataclasses.replace(lock.python, version="3.12.1"))
    path.write_text(lockfile.dumps(other_minor))
    assert check(env)[0] == 1, "another minor release runs other wheels: drift in any scope"


def test_a_broken_or_unwritable_cache_is_not_used(env: Path, tmp_path: Path) -> None:
    """The cache only saves work: garbage in it, or no place to write it, and the check still runs right."""
    cache = tmp_path / "cache"
    assert check(env, env={"ENVBUILD_CACHE_DIR": str(cache)})[0] == 0
    entries = list((cache / "check").iterdir())
    assert len(entries) == 2, entries  # the lock's view and the interpreter's answer
    for entry in entries:
        entry.write_bytes(b"\x00garbage")
    assert check(env, env={"ENVBUILD_CACHE_DIR": str(cache)})[0] == 0
    (tmp_path / "a-file").write_text("")
    assert check(env, env={"ENVBUILD_CACHE_DIR": str(tmp_path / "a-file")})[0] == 0


def test_a_recreated_venv_is_asked_again(env: Path, tmp_path: Path) -> None:
    """The interpreter's answer is cached by its binary and pyvenv.cfg: a venv made again with another Python is
    seen as such, not as the cached one."""
    import shutil

    other = Path("/usr/bin/python3")
    if not other.exists() or subprocess.run([str(other), "-c", "import sys; print(sys.version_info[:3] != "
                                             f"{tuple(sys.version_info[:3])})"], capture_output=True, text=True,
                                            check=False).stdout.strip() != "True":
        pytest.skip("needs a second Python 3 release at /usr/bin/python3")
    venv = tmp_path / "v"
    cache = {"ENVBUILD_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    first = envbuild("check", "--python", str(venv / "bin/python"), "--json", cwd=env, env=cache)
    assert json.loads(first.stdout)["host"]["python"] == HOST_PYTHON
    shutil.rmtree(venv)
    subprocess.run([str(other), "-m", "venv", "--without-pip", str(venv)], check=True)
    second = envbuild("check", "--python", str(venv / "bin/python"), "--json", cwd=env, env=cache)
    assert json.loads(second.stdout)["host"]["python"] != HOST_PYTHON
    assert ("interpreter", "python", "changed") in statuses(json.loads(second.stdout))
