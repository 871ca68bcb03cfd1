"""The stdlib probe: dist-info directories, .pth files, RECORD verification, and running with nothing installed."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from envbuild.check import probe

CHECK_PACKAGE = Path(probe.__file__).parent


def test_the_probe_runs_with_the_standard_library_alone(tmp_path: Path) -> None:
    """As `envbuild check --image` runs it: envbuild's package mounted elsewhere (here, only the check core's files
    of it), under -I -S, its options parsed by envbuild.options."""
    from envbuild.render.checker import core_modules

    package = CHECK_PACKAGE.parent
    for name in core_modules(package):
        (tmp_path / "envbuild" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / name, tmp_path / "envbuild" / name)
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from envbuild.check.probe import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, "--env", "HOME,USER", "--cuda"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["schema"] == 1 and facts["interpreter"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["os"]["id"] and {"HOME", "USER"} <= set(facts["env"]) and facts["nvidia"] is None  # no GPU here
    bad = subprocess.run([sys.executable, "-I", "-S", "-c", code, "--bogus"], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and bad.stderr == "envbuild probe: error: no such option: --bogus\n"


def _dist(site: Path, name: str, version: str, *, direct_url: dict | None = None) -> Path:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    return info


def test_names_are_normalised_and_the_first_on_the_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "Foo.Bar_baz", "1.0")
    _dist(second, "foo-bar-baz", "2.0")
    _dist(second, "Other", "3.0", direct_url={"url": "file:///src", "dir_info": {"editable": True}})
    found = probe.distributions([str(first), str(second), str(tmp_path / "absent")])["packages"]
    assert {n: d["version"] for n, d in found.items()} == {"foo-bar-baz": "1.0", "other": "3.0"}
    assert found["other"]["direct_url"]["dir_info"] == {"editable": True}
    assert probe.normalise("A__b.-C") == "a-b-c"


_IMPORTLIB = ("import importlib.metadata as m, json, re\n"
              "seen = {}\n"
              "for d in m.distributions():\n"
              "    name = re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
              "    seen.setdefault(name, d.version)\n"
              "print(json.dumps(seen))")


def _views(python: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(what the check reads, what importlib.metadata reads) in the environment of PYTHON."""
    from envbuild.check import query

    info = query.describe(str(python))
    found = probe.distributions(info["path"])["packages"]
    ours = {name: dist["version"] for name, dist in found.items()}
    theirs = json.loads(subprocess.run([str(python), "-I", "-c", _IMPORTLIB], capture_output=True, text=True,
                                       check=True).stdout)
    return ours, theirs


def test_the_check_reads_what_importlib_metadata_reads(tmp_path: Path, monkeypatch: object) -> None:
    """A venv with what Python sees and a directory walk misses: a .pth added after the interpreter was asked
    (and cached), a hidden .pth and a .pth whose import line adds a folder (as that Python reads them), an
    egg-info folder and an egg-info file, a DIST-INFO in upper case, and two installs of one project."""
    import os

    os.environ["ENVBUILD_CACHE_DIR"] = str(tmp_path / "cache")  # this test's own interpreter cache
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    _dist(site, "alpha", "1.0")
    ours, theirs = _views(python)  # fills the cache
    assert ours == theirs == {"alpha": "1.0"}
    for folder, name in (("extra", "beta"), ("hidden", "gamma"), ("imported", "delta")):
        _dist(tmp_path / folder, name, "2.0")
    (site / "a.pth").write_text(f"# a comment\n{tmp_path / 'extra'}\n{tmp_path / 'gone'}\n\n")
    (site / ".hidden.pth").write_text(f"{tmp_path / 'hidden'}\n")
    (site / "b.pth").write_text(f"import sys; sys.path.append({str(tmp_path / 'imported')!r})\n")
    (site / "Eggy-3.0.egg-info").mkdir()
    (site / "Eggy-3.0.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Eggy\nVersion: 3.0\n")
    (site / "flat-4.0-py3.11.egg-info").write_text("Metadata-Version: 1.1\nName: flat\nVersion: 4.0\n")
    upper = _dist(site, "Shouty", "5.0")
    upper.rename(site / "Shouty-5.0.DIST-INFO")
    _dist(site, "twice", "1.0")
    _dist(site, "twice", "1.1")
    ours, theirs = _views(python)
    assert ours == theirs, "the check reads what importlib.metadata reads, after the cache was filled"
    assert {"beta", "delta", "eggy", "flat", "shouty", "twice"} <= set(ours)
    assert ("gamma" in ours) == (sys.version_info < (3, 13)), "a hidden .pth: read where that Python reads it"
    uv = json.loads(subprocess.run([sys.executable, "-m", "uv", "pip", "list", "--python", str(python), "--format",
                                    "json"], capture_output=True, text=True, check=True).stdout)
    uv_view = {probe.normalise(p["name"]): p["version"] for p in uv}
    duplicates = probe.distributions(_views_path(python))["duplicates"]
    assert [(d["name"], d["first_version"], d["version"]) for d in duplicates] == [("twice", "1.0", "1.1")]
    assert {k: v for k, v in uv_view.items() if k != "twice"}.items() <= ours.items(), "uv's view is in ours"
    assert uv_view["twice"] in ("1.0", "1.1"), "two installs of one project: uv and importlib may each take one"


def _views_path(python: Path) -> list[str]:
    from envbuild.check import query

    return list(query.describe(str(python))["path"])


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def test_rewritten_shebangs_and_hashless_entries_are_not_tampering(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "tool-1.0.dist-info"
    (site / "tool").mkdir(parents=True)
    info.mkdir()
    (tmp_path / "bin").mkdir()
    script_as_shipped = b"#!python\nimport tool\n"
    (tmp_path / "bin" / "tool").write_bytes(b"#!/opt/venv/bin/python3\nimport tool\n")  # rewritten by pip
    (site / "tool" / "__init__.py").write_bytes(b"x = 1\n")
    (info / "METADATA").write_text("Name: tool\nVersion: 1.0\n")
    (info / "RECORD").write_text("\n".join([
        _record_line("tool/__init__.py", b"x = 1\n"), _record_line("../bin/tool", script_as_shipped),
        "tool/__pycache__/__init__.cpython-311.pyc,,", "tool-1.0.dist-info/RECORD,,"]) + "\n")
    packages = probe.distributions([str(site)])["packages"]
    assert probe.verify_records(packages) == []
    (site / "tool" / "__init__.py").write_bytes(b"x = 2\n")
    assert probe.verify_records(packages) == [
        {"package": "tool", "path": str(site / "tool" / "__init__.py"), "status": "modified"}]


def test_deep_leaves_distro_installed_packages_to_the_distro(tmp_path: Path) -> None:
    info = tmp_path / "yaml-6.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: PyYAML\nVersion: 6.0\n")
    (info / "INSTALLER").write_text("debian\n")
    (info / "RECORD").write_text(_record_line("yaml/_yaml.so", b"unstripped") + "\n")
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "_yaml.so").write_bytes(b"stripped by dh_strip")
    packages = probe.distributions([str(tmp_path)])["packages"]
    assert probe.installer(packages["pyyaml"]["path"]) == "debian"
    assert probe.verify_records(packages) == []
    (info / "INSTALLER").write_text("pip\n")
    assert probe.verify_records(probe.distributions([str(tmp_path)])["packages"])[0]["status"] == "modified"


def test_read_gives_none_for_what_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 3000000)
    assert probe._read(str(tmp_path / "f"), 10) == b"x" * 10
    assert probe._read(str(tmp_path / "f")) == b"x" * 3000000
    assert probe._read(str(tmp_path)) is None and probe._read(str(tmp_path / "absent")) is None


def test_the_dpkg_status_is_reread_when_dpkg_replaces_it(tmp_path: Path) -> None:
    """The host's dpkg facts are cached by the status file's identity; dpkg writes a new file and renames it over
    the old one, so every change is seen (and a damaged cache entry costs a re-read, never a wrong answer)."""
    from envbuild import cache
    from envbuild.check.evaluate import cached_dpkg_status

    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)

    def install(version: str) -> None:
        new = status.with_name("status-new")
        new.write_text(f"Package: git\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n")
        new.replace(status)

    install("1:2.39.5-0+deb12u1")
    first = cached_dpkg_status(str(tmp_path))
    assert first == {"git": "1:2.39.5-0+deb12u1"}
    assert cached_dpkg_status(str(tmp_path)) == first
    install("1:2.39.5-0+deb12u2")
    assert cached_dpkg_status(str(tmp_path)) == {"git": "1:2.39.5-0+deb12u2"}
    entry = Path(cache._path(f"dpkg-{cache.slug(str(status))}"))
    entry.write_bytes(b"\x00garbage")
    assert cached_dpkg_status(str(tmp_path)) == {"git": "1:2.39.5-0+deb12u2"}
    status.unlink()
    assert cached_dpkg_status(str(tmp_path)) is None


def test_cache_names_are_file_names() -> None:
    from envbuild import cache

    assert cache.slug("/opt/x%y/envbuild.lock") == "%2Fopt%2Fx%25y%2Fenvbuild.lock"
    long = cache.slug("/a" * 200)
    assert len(long) <= 150 and "/" not in long
