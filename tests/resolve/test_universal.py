"""One Python resolution for every platform (uv's universal resolution), and each platform's part of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.lockfile import PythonFile, PythonPackage
from envbuild.resolve.universal import Universal, environments, pins, select
from envbuild.spec import Distro, load_spec, parse_distro
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex, make_wheel

AMD, ARM, MAC = "linux/amd64", "linux/arm64", "macos/arm64"
BOOKWORM = parse_distro("debian:bookworm")


def _package(name: str, version: str, *files: str) -> PythonPackage:
    records = tuple(PythonFile(f, f"https://files.example/{f}", f"sha256:{i:064x}") for i, f in enumerate(files))
    return PythonPackage(name, version, tuple(sorted({f.hash for f in records})), files=records)


def test_each_platform_takes_the_files_that_install_there() -> None:
    numpy = _package("numpy", "1.26.4", "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                     "numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                     "numpy-1.26.4-cp311-cp311-musllinux_1_1_x86_64.whl",
                     "numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                     "numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl", "numpy-1.26.4.tar.gz")
    legacy = _package("old", "1.0", "old-1.0-cp311-cp311-manylinux1_x86_64.whl")
    abi3 = _package("stable", "2.0", "stable-2.0-cp39-abi3-manylinux_2_28_aarch64.whl", "stable-2.0-py3-none-any.whl")
    universal = Universal((legacy, numpy, abi3), {("old", "1.0"): "platform_machine == 'x86_64'"})
    amd = {p.name: [f.name for f in p.files] for p in select(universal, AMD, BOOKWORM, "3.11.2") or ()}
    assert amd == {"numpy": ["numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                             "numpy-1.26.4.tar.gz"],
                   "old": ["old-1.0-cp311-cp311-manylinux1_x86_64.whl"],
                   "stable": ["stable-2.0-py3-none-any.whl"]}
    arm = {p.name: [f.name for f in p.files] for p in select(universal, ARM, BOOKWORM, "3.11.2") or ()}
    assert arm == {"numpy": ["numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                             "numpy-1.26.4.tar.gz"],
                   "stable": ["stable-2.0-cp39-abi3-manylinux_2_28_aarch64.whl", "stable-2.0-py3-none-any.whl"]}
    arm_numpy = next(p for p in select(universal, ARM, BOOKWORM, "3.11.2") or () if p.name == "numpy")
    assert set(arm_numpy.hashes) == {f.hash for f in arm_numpy.files}, "the hashes are those of its files there"
    mac = {p.name: [f.name for f in p.files] for p in select(universal, MAC, None, "3.11") or ()}
    assert mac["numpy"] == ["numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl", "numpy-1.26.4.tar.gz"]


def test_a_version_with_no_file_for_a_platform_is_not_that_platform_s_part() -> None:
    """What markers cannot say: a wheel for a newer glibc (or macOS release) than the target's, and no sdist."""
    newer = _package("kernel", "3.0", "kernel-3.0-cp311-cp311-manylinux_2_39_x86_64.whl",
                     "kernel-3.0-cp311-cp311-manylinux_2_17_aarch64.whl")
    universal = Universal((newer,), {})
    assert select(universal, AMD, BOOKWORM, "3.11.2") is None, "glibc 2.36 cannot load a manylinux_2_39 wheel"
    assert select(universal, AMD, Distro("ubuntu", "24.04", "noble", "2.39", "3.12"), "3.11.2") is not None
    assert select(universal, ARM, BOOKWORM, "3.11.2") is not None
    mac = Universal((_package("torch", "9.0", "torch-9.0-cp311-none-macosx_14_0_arm64.whl"),), {})
    assert select(mac, MAC, None, "3.11") is None, "uv's macOS release for aarch64-apple-darwin is 13.0"
    wheel, sha = "ext-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "sha256:" + "1" * 64
    local = PythonPackage("ext", "1.0", (sha,), path=f"wheels/{wheel}", files=(PythonFile(wheel, f"wheels/{wheel}",
                                                                                          sha),))
    assert select(Universal((local,), {}), AMD, BOOKWORM, "3.11.2") == (local,)
    assert select(Universal((local,), {}), ARM, BOOKWORM, "3.11.2") is None, "an x86_64 wheel of one's own"


def test_markers_say_which_platforms_install_a_package() -> None:
    universal = Universal((_package("a", "1", "a-1-py3-none-any.whl"), _package("b", "2", "b-2-py3-none-any.whl")),
                          {("b", "2"): "sys_platform == 'darwin' or python_full_version >= '3.11.4'"})
    assert [p.name for p in pins(universal, AMD, "3.11.2")] == ["a"]
    assert [p.name for p in pins(universal, AMD, "3.11.9")] == ["a", "b"]
    assert [p.name for p in pins(universal, MAC, "3.11")] == ["a", "b"]


def test_the_environments_name_each_target(tmp_path: Path) -> None:
    write_spec(tmp_path, "http://127.0.0.1:9/simple", ["alpha"], platforms=[AMD, ARM, MAC])
    spec = load_spec(tmp_path / "envbuild.toml")
    assert environments(spec) == (
        "sys_platform == 'linux' and platform_machine == 'x86_64' and python_version == '3.11'",
        "sys_platform == 'linux' and platform_machine == 'aarch64' and python_version == '3.11'",
        "sys_platform == 'darwin' and platform_machine == 'arm64' and python_version == '3.11'")


def _python_of(path: Path, platform: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    view = lockfile.read_lockfile(path).view(platform)
    return [(p.name, p.version, p.hashes, tuple(f.name for f in p.files)) for p in view.python.packages]


def test_several_platforms_resolve_once_and_each_gets_what_it_alone_would(tmp_path: Path, index: LocalIndex) -> None:
    index.publish(make_wheel(tmp_path / "w", "kernel", "1.0", tag="cp311-cp311-manylinux_2_17_aarch64"),
                  make_wheel(tmp_path / "w", "kernel", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
                  make_wheel(tmp_path / "w", "kernel", "1.0", tag="py3-none-any"),
                  make_wheel(tmp_path / "w", "kernel", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
                  make_wheel(tmp_path / "w", "kernel", "2.0", tag="cp311-cp311-manylinux_2_39_aarch64"))
    requirements = ["alpha", "gamma", "kernel", "delta; platform_machine == 'x86_64'"]
    alone = {}
    for platform in (AMD, ARM):
        write_spec(tmp_path / platform.replace("/", "-"), index.url, requirements, platforms=[platform])
        done = envbuild("lock", cwd=tmp_path / platform.replace("/", "-"))
        assert done.returncode == 0, done.stderr
        alone[platform] = _python_of(tmp_path / platform.replace("/", "-") / "envbuild.lock", platform)
    write_spec(tmp_path / "both", index.url, requirements, platforms=[AMD, ARM])
    done = envbuild("lock", "-v", cwd=tmp_path / "both")
    assert done.returncode == 0, done.stderr
    assert "python (uv, every platform at once)" in done.stdout + done.stderr
    for platform in (AMD, ARM):
        assert _python_of(tmp_path / "both" / "envbuild.lock", platform) == alone[platform], platform
    kernel = {p.version: p.platforms for p in lockfile.read_lockfile(tmp_path / "both" / "envbuild.lock").python
              .packages if p.name == "kernel"}
    assert kernel == {"2.0": (AMD,), "1.0": (ARM,)}, "arm64's glibc cannot load kernel 2.0: its own version"


def test_the_user_s_uv_settings_do_not_reach_the_resolution(tmp_path: Path, index: LocalIndex,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """uv reads a universal resolution's environments from the project file only, so envbuild cannot pass
    --no-config; the user's and the system's uv.toml stay out all the same."""
    config = tmp_path / "xdg" / "uv"
    config.mkdir(parents=True)
    (config / "uv.toml").write_text('index-url = "http://127.0.0.1:9/nowhere"\nexclude-newer = "2001-01-01"\n')
    write_spec(tmp_path / "p", index.url, ["alpha"], platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path / "p", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                                                    "XDG_CONFIG_DIRS": str(tmp_path / "xdg")})
    assert done.returncode == 0, done.stderr
    assert [p.name for p in lockfile.read_lockfile(tmp_path / "p" / "envbuild.lock").python.packages] == [
        "alpha", "beta"]


def test_a_wheel_of_one_s_own_for_another_platform_is_said_at_lock_time(tmp_path: Path, index: LocalIndex) -> None:
    """uv takes a wheel named by path as given, whatever its tags; the lock says it will not install there."""
    wheel = make_wheel(tmp_path / "p" / "wheels", "ext", "1.0", tag="py3-none-manylinux_2_17_x86_64")
    write_spec(tmp_path / "p", index.url, ["alpha", f"ext @ ./wheels/{wheel.path.name}"], platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path / "p")
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"{wheel.path.name} does not install on {ARM}" in done.stderr, done.stderr
    assert not (tmp_path / "p" / "envbuild.lock").exists()
    write_spec(tmp_path / "p", index.url, ["alpha", f"ext @ ./wheels/{wheel.path.name} ; platform_machine == 'x86_64'"],
               platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path / "p")
    assert done.returncode == 0, done.stderr
    ext = [p for p in lockfile.read_lockfile(tmp_path / "p" / "envbuild.lock").python.packages if p.name == "ext"]
    assert [p.platforms for p in ext] == [(AMD,)]
