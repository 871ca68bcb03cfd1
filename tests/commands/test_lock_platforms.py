"""One lock for several platforms: linux/amd64 and linux/arm64 clusters and macOS laptops, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from envbuild import lockfile
from tests.conftest import envbuild, write_spec
from tests.support.pypi import LocalIndex, make_wheel

AMD, ARM, MAC = "linux/amd64", "linux/arm64", "macos/arm64"


def test_one_lock_holds_each_platform_s_wheels_debs_and_interpreter(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma", "delta; platform_machine == 'x86_64'"], system=["libgomp1"],
               platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"for {AMD}, {ARM} (debian:12), Python 3.11.2" in done.stdout
    assert f"  {ARM}: 3 Python packages" in done.stdout and "no CUDA" in done.stdout
    whole = lockfile.read_lockfile(tmp_path / "envbuild.lock")
    assert whole.version == lockfile.LOCK_VERSION and whole.platforms == (AMD, ARM)
    assert {t.platform: t.python_platform for t in whole.targets} == {AMD: "x86_64-manylinux_2_36",
                                                                      ARM: "aarch64-manylinux_2_36"}
    assert {t.python_version for t in whole.targets} == {"3.11.2"}
    records = {(p.name, p.version): p for p in whole.python.packages}
    assert set(records) == {("alpha", "1.1"), ("beta", "1.1"), ("gamma", "1.0"), ("delta", "1.0")}
    assert records[("delta", "1.0")].platforms == (AMD,), "a marker keeps it off arm64"
    assert records[("alpha", "1.1")].platforms == () and len(records[("alpha", "1.1")].files) == 1
    gamma = {f.name: f.platforms for f in records[("gamma", "1.0")].files}
    assert gamma == {"gamma-1.0-py3-none-manylinux_2_17_aarch64.whl": (ARM,),
                     "gamma-1.0-py3-none-manylinux_2_17_x86_64.whl": (AMD,)}
    assert whole.system is not None
    libgomp = {p.architecture: p.platforms for p in whole.system if p.name == "libgomp1"}
    assert libgomp == {"amd64": (AMD,), "arm64": (ARM,)}
    arm = whole.view(ARM)
    assert "delta" not in arm.python.by_name() and arm.system is not None
    assert {p.architecture for p in arm.system.packages} <= {"arm64", "all"}
    exported = envbuild("export", "--format", "requirements", "--platform", ARM, cwd=tmp_path)
    assert exported.returncode == 0 and "delta" not in exported.stdout
    gamma_arm = next(f for f in records[("gamma", "1.0")].files if f.platforms == (ARM,))
    assert gamma_arm.hash in exported.stdout
    pylock = envbuild("export", "--format", "pylock", "--platform", AMD, cwd=tmp_path)
    assert pylock.returncode == 0 and "manylinux_2_17_aarch64" not in pylock.stdout
    again = envbuild("lock", cwd=tmp_path)
    assert again.returncode == 0 and "is unchanged" in again.stdout, "deterministic: byte-identical"
    assert envbuild("lock", "--check", cwd=tmp_path).returncode == 0


def test_platforms_keep_one_version_where_the_spec_allows_it(tmp_path: Path, index: LocalIndex) -> None:
    """Adding arm64 to an amd64 lock: arm64 takes amd64's pin, not the newest release, where both can."""
    index.publish(make_wheel(tmp_path / "w", "omega", "1.0"))
    write_spec(tmp_path, index.url, ["omega"], platforms=[AMD])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    index.publish(make_wheel(tmp_path / "w", "omega", "1.1"))
    write_spec(tmp_path, index.url, ["omega"], platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    whole = lockfile.read_lockfile(tmp_path / "envbuild.lock")
    assert [(p.name, p.version, p.platforms) for p in whole.python.packages] == [("omega", "1.0", ())]
    # where one platform cannot have the other's version, each gets its own, both recorded
    index.publish(make_wheel(tmp_path / "w", "split", "1.0", tag="py3-none-any"),
                  make_wheel(tmp_path / "w", "split", "2.0", tag="py3-none-manylinux_2_17_x86_64"))
    write_spec(tmp_path, index.url, ["omega", "split"], platforms=[AMD, ARM])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    split = {p.version: p.platforms for p in lockfile.read_lockfile(tmp_path / "envbuild.lock").python.packages
             if p.name == "split"}
    assert split == {"2.0": (AMD,), "1.0": (ARM,)}
    assert "split 1.0, 2.0" in done.stdout, done.stdout


def test_a_laptop_platform_is_its_python_part(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma"], system=["libgomp1"], platforms=[AMD, MAC])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    whole = lockfile.read_lockfile(tmp_path / "envbuild.lock")
    mac = whole.target(MAC)
    assert (mac.distro, mac.apt_sources, mac.python_version, mac.python_platform) == (
        None, None, None, "aarch64-apple-darwin")
    view = whole.view(MAC)
    assert view.system is None and view.python.target_version == "3.11"
    assert [f.name for f in view.python.by_name()["gamma"].files] == ["gamma-1.0-py3-none-macosx_11_0_arm64.whl"]
    assert whole.system is not None and all(p.platforms == (AMD,) for p in whole.system)


def test_a_multi_platform_lock_is_checked_for_this_host_or_the_platform_named(tmp_path: Path,
                                                                              index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"], platforms=[AMD, ARM])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("check", "--json", cwd=tmp_path)
    report = json.loads(done.stdout)
    assert report["lock"]["platform"] == AMD, "this host is linux/amd64"
    done = envbuild("check", "--json", "--platform", ARM, cwd=tmp_path)
    assert json.loads(done.stdout)["lock"]["platform"] == ARM
    done = envbuild("check", "--platform", MAC, cwd=tmp_path)
    assert done.returncode == 2 and "has no platform 'macos/arm64'" in done.stderr
    done = envbuild("render", "--platform", MAC, cwd=tmp_path)
    assert done.returncode == 2 and "has no platform" in done.stderr


def test_spec_errors_about_platforms_name_the_key(tmp_path: Path, index: LocalIndex) -> None:
    cases = [({"platforms": [AMD], "platform": AMD}, "give platform or platforms, not both"),
             ({"platforms": []}, "[environment] -> platforms: lists no platform"),
             ({"platforms": [AMD, "linux/s390x"]}, "[environment] -> platforms[1]: 'linux/s390x' is not supported"),
             ({"platforms": [AMD, "linux/x86_64"]}, "[environment] -> platforms[1]: 'linux/amd64' is listed twice"),
             ({"platforms": [MAC], "distro": "debian:bookworm"}, "[environment] -> distro: applies to Linux"),
             ({"platforms": [MAC], "distro": None, "system": ["git"]}, "[system] -> packages: apt packages need a")]
    for environment, message in cases:
        system = environment.pop("system", None)
        spec = write_spec(tmp_path, index.url, ["alpha"], system=system, **environment)
        if "platform" in environment and "platforms" in environment:
            spec.write_text(spec.read_text().replace("[environment]\n", f'[environment]\nplatform = "{AMD}"\n'))
        done = envbuild("lock", cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (message, done)


def test_a_version_1_lock_is_rewritten_in_the_current_version_with_the_same_pins(tmp_path: Path,
                                                                                index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha", "gamma"])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    path = tmp_path / "envbuild.lock"
    import dataclasses

    old = lockfile.read_lock(path)
    path.write_text(lockfile.dumps(dataclasses.replace(old, version=1)))
    assert "[target]" in path.read_text()
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0 and "no pin changed" in done.stdout, done.stdout
    assert lockfile.read_lock(path).version == lockfile.LOCK_VERSION and "[[targets]]" in path.read_text()
