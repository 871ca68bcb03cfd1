"""[conda] end to end: a real channel built and indexed by the tests, served on 127.0.0.1, solved by py-rattler."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from envbuild import lockfile
from tests.conftest import envbuild, write_spec
from tests.support.conda import PLACEHOLDER, CondaChannel, Pkg, build
from tests.support.pypi import LocalIndex


def conda_lock(tmp_path: Path, index: LocalIndex, channel: Any, packages: list[str], requirements: list[str] = (),
               **conda: object) -> subprocess.CompletedProcess[str]:
    write_spec(tmp_path, index.url, list(requirements),
               conda={"channels": [channel.url], "packages": packages, **conda})
    return envbuild("lock", cwd=tmp_path)


def records(path: Path, platform: str = "linux/amd64") -> dict[str, tuple[str, str]]:
    conda = lockfile.read_lock(path, platform).conda
    assert conda is not None
    return {p.name: (p.version, p.build) for p in conda.packages}


def test_the_solve_is_for_the_target_with_its_virtual_packages(tmp_path: Path, index: LocalIndex,
                                                               conda_channel: Any) -> None:
    done = conda_lock(tmp_path, index, conda_channel, ["libb", "pure", "cudalib"])
    assert done.returncode == 0, done.stderr
    assert "and 4 conda packages for linux/amd64" in done.stdout
    lock_path = tmp_path / "envbuild.lock"
    assert records(lock_path) == {"cudalib": ("1.0", "cpu_0"), "liba": ("1.1", "h0_0"), "libb": ("2.0", "h1_0"),
                                  "pure": ("3.0", "pyh_0")}, "no __cuda: the CPU build"
    conda = lockfile.read_lock(lock_path).conda
    assert conda is not None
    libb = conda.by_name()["libb"]
    served = (conda_channel.root / "linux-64" / "libb-2.0-h1_0.conda").read_bytes()
    import hashlib

    assert (libb.sha256, libb.md5) == (hashlib.sha256(served).hexdigest(), hashlib.md5(served).hexdigest())  # noqa: S324
    assert libb.url == f"{conda_channel.url}/linux-64/libb-2.0-h1_0.conda" and libb.depends == ("liba >=1.0",)
    conda_channel.sent.clear()
    again = envbuild("lock", cwd=tmp_path)
    assert again.returncode == 0 and "is unchanged" in again.stdout, "re-locked byte-identically"
    assert not [p for p in conda_channel.sent if p.endswith("repodata.json")], "the cached repodata is revalidated"
    # the cluster's driver gives __cuda: the CUDA build
    done = conda_lock(tmp_path, index, conda_channel, ["libb", "pure", "cudalib"], cuda="12.4")
    assert done.returncode == 0 and records(lock_path)["cudalib"] == ("1.0", "cuda_0")


def test_several_platforms_share_noarch_records(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    write_spec(tmp_path, index.url, [], platforms=["linux/amd64", "linux/arm64"],
               conda={"channels": [conda_channel.url], "packages": ["libb", "pure"]})
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    whole = lockfile.read_lockfile(tmp_path / "envbuild.lock")
    assert whole.conda is not None
    where = {(p.name, p.subdir): p.platforms for p in whole.conda.packages}
    assert where == {("liba", "linux-64"): ("linux/amd64",), ("liba", "linux-aarch64"): ("linux/arm64",),
                     ("libb", "linux-64"): ("linux/amd64",), ("libb", "linux-aarch64"): ("linux/arm64",),
                     ("pure", "noarch"): ()}


def test_python_and_cuda_come_from_the_conda_environment(tmp_path: Path, index: LocalIndex,
                                                        conda_channel: Any) -> None:
    done = conda_lock(tmp_path, index, conda_channel, ["python=3.11", "cudnn"], ["alpha"])
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert (lock.python.version, lock.python.source) == ("3.11.9", "conda")
    assert lock.system is not None and "python3.11" not in lock.system.by_name(), "not the distro's interpreter"
    assert {p.name for p in lock.python.packages} == {"alpha", "beta"}, "the pip layer on top, for Python 3.11.9"
    assert lock.cuda is not None and (lock.cuda.runtime, lock.cuda.cudnn) == ("12.4.127", "9.1.0.70")
    assert lock.cuda.min_driver == "525.60.13"
    write_spec(tmp_path, index.url, ["alpha"], python="3.12",
               conda={"channels": [conda_channel.url], "packages": ["python"]})
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and "[conda] solves to Python 3.11.9" in done.stderr


def test_a_package_in_both_layers_is_an_error_unless_conda_provides_it(tmp_path: Path, index: LocalIndex,
                                                                      conda_channel: Any) -> None:
    build(conda_channel.root, [Pkg("beta", "1.0", "py_0", subdirs=("noarch",), noarch="python")])
    done = conda_lock(tmp_path, index, conda_channel, ["beta"], ["alpha"])
    assert done.returncode == 2, done.stdout
    assert done.stderr.strip() == ("envbuild: error: beta is both a conda package (beta 1.0 py_0) and a Python "
                                   "package of the pip layer (beta==1.1); add it to [python] from-conda to use the "
                                   "conda one, or drop it from one side")
    spec = tmp_path / "envbuild.toml"
    spec.write_text(spec.read_text() + 'from-conda = ["beta"]\n')
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert {p.name for p in lock.python.packages} == {"alpha"}, "beta comes from conda, at conda's 1.0"


def test_upgrade_one_conda_package_and_bad_specs(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    assert conda_lock(tmp_path, index, conda_channel, ["libb"]).returncode == 0
    lock_path = tmp_path / "envbuild.lock"
    build(conda_channel.root, [Pkg("liba", "1.2")])
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    assert records(lock_path)["liba"] == ("1.1", "h0_0"), "the previous pin is kept"
    done = envbuild("lock", "-P", "liba", cwd=tmp_path)
    assert done.returncode == 0 and records(lock_path)["liba"] == ("1.2", "h0_0")
    before = lock_path.read_bytes()
    done = conda_lock(tmp_path, index, conda_channel, ["libb", "liba >=9"])
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "No candidates were found for liba >=9" in done.stderr and lock_path.read_bytes() == before
    write_spec(tmp_path, index.url, [], conda={"channels": ["http://127.0.0.1:9/nothing"], "packages": ["libb"]})
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and "cannot read the conda channels" in done.stderr and "Traceback" not in done.stderr
    assert lock_path.read_bytes() == before


def test_channel_credentials_are_used_and_never_written(tmp_path: Path, index: LocalIndex,
                                                       conda_channel_dir: Path) -> None:
    with CondaChannel(conda_channel_dir, auth=("conda", "s3cret-token")) as private:
        url = private.url.replace("http://", "http://${CHAN_USER}:${CHAN_PASS}@")
        write_spec(tmp_path, index.url, [], conda={"channels": [url], "packages": ["libb"]})
        missing = envbuild("lock", cwd=tmp_path)
        assert missing.returncode == 2 and "${CHAN_USER} is not set" in missing.stderr
        done = envbuild("lock", cwd=tmp_path, env={"CHAN_USER": "conda", "CHAN_PASS": "s3cret-token"})
        assert done.returncode == 0, done.stderr
        text = (tmp_path / "envbuild.lock").read_text()
        assert "s3cret-token" not in text and "${CHAN_USER}" in text
        assert f"url = \"{private.url}/linux-64/libb-2.0-h1_0.conda\"" in text


def test_without_the_conda_extra_one_line_says_what_to_install(tmp_path: Path, index: LocalIndex,
                                                               conda_channel: Any) -> None:
    write_spec(tmp_path, index.url, [], conda={"channels": [conda_channel.url], "packages": ["libb"]})
    code = ("import sys; sys.modules['rattler'] = None\nfrom envbuild.entry import main\nmain(['lock'])")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == "envbuild: error: the spec has [conda], which needs py-rattler: pip install " \
                          "'envbuild[conda]'\n"


def test_sync_a_prefix_then_drift_in_it_is_reported(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    assert conda_lock(tmp_path, index, conda_channel, ["libb", "pure", "cudalib"], ["alpha"]).returncode == 0
    prefix = tmp_path / "env"
    done = envbuild("sync", "--prefix", str(prefix), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Created and synced {prefix}: 4 conda packages (4 installed, 0 removed)")
    conf = (prefix / "etc" / "libb.conf").read_text()
    assert conf == f"prefix={prefix}\n" and PLACEHOLDER not in conf, "the installer wrote the real prefix"
    report = check_prefix(tmp_path, prefix, "--deep")
    assert report["ok"], report["findings"]
    meta = prefix / "conda-meta"
    (meta / "cudalib-1.0-cpu_0.json").rename(meta / "cudalib-1.0-cuda_0.json")  # another build
    (meta / "pure-3.0-pyh_0.json").unlink()  # a record removed
    shutil.copy(meta / "liba-1.1-h0_0.json", meta / "extra-9.0-h0_0.json")  # a record of nothing locked
    (prefix / "share" / "libb" / "README").write_text("edited\n")
    report = check_prefix(tmp_path, prefix, "--deep")
    found = {(f["kind"], f["name"], f["status"]) for f in report["findings"] if f["severity"] == "error"}
    assert ("conda", "cudalib", "changed") in found and ("conda", "pure", "missing") in found
    assert ("conda", "extra", "extra") in found
    assert ("file", str(prefix / "share" / "libb" / "README"), "modified") in found
    assert not any("libb.conf" in name for _, name, _ in found), "the placeholder rewrite is not tampering"
    again = envbuild("sync", "--prefix", str(prefix), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    (meta / "extra-9.0-h0_0.json").unlink()  # a hand-made record: no installer removes what it did not write
    (meta / "cudalib-1.0-cuda_0.json").unlink()
    fixed = envbuild("sync", "--prefix", str(prefix), cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert check_prefix(tmp_path, prefix)["ok"] is True


def check_prefix(cwd: Path, prefix: Path, *args: str) -> dict:
    done = envbuild("check", "--prefix", str(prefix), "--python", sys.executable, "--json", *args, cwd=cwd)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    report["findings"] = [f for f in report["findings"] if f["kind"] in ("conda", "file")]
    report["ok"] = not any(f["severity"] == "error" for f in report["findings"])
    return report


def test_the_exports_for_conda_s_tools(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    assert conda_lock(tmp_path, index, conda_channel, ["libb", "pure"], ["alpha"]).returncode == 0
    done = envbuild("export", "--format", "conda-lock", "-o", "conda-lock.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    from conda_lock.lockfile import parse_conda_lock_file

    parsed = parse_conda_lock_file(tmp_path / "conda-lock.yml")
    conda = {(p.name, p.version, p.build) for p in parsed.package if p.manager == "conda"}
    assert conda == {("liba", "1.1", "h0_0"), ("libb", "2.0", "h1_0"), ("pure", "3.0", "pyh_0")}
    assert {p.name for p in parsed.package if p.manager == "pip"} == {"alpha", "beta"}
    assert parsed.metadata.platforms == ["linux-64"]
    done = envbuild("export", "--format", "explicit", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "# platform: linux-64" in lines and "@EXPLICIT" in lines
    entries = lines[lines.index("@EXPLICIT") + 1:]
    assert [e.rsplit("/", 1)[1].split("-", 1)[0] for e in entries] == ["liba", "libb", "pure"], "dependencies first"
    import hashlib
    import urllib.request

    for entry in entries:
        url, _, fragment = entry.partition("#sha256:")
        with urllib.request.urlopen(url) as response:
            assert hashlib.sha256(response.read()).hexdigest() == fragment
    no_conda = tmp_path / "plain"
    write_spec(no_conda, index.url, ["alpha"])
    assert envbuild("lock", cwd=no_conda).returncode == 0
    done = envbuild("export", "--format", "explicit", cwd=no_conda)
    assert done.returncode == 2 and "has no conda environment" in done.stderr


def test_spec_errors_of_the_conda_table(tmp_path: Path, index: LocalIndex) -> None:
    for conda, message in (({"packages": ["libb"]}, "[conda] -> channels: is required with packages"),
                           ({"channels": ["conda forge"], "packages": ["x"]}, "neither a channel name nor"),
                           ({"channels": ["c"], "packages": ["x"], "cuda": "twelve"}, "[conda] -> cuda: 'twelve'"),
                           ({"channels": ["c"], "packages": ["x"], "prefix": "/usr"}, "[conda] -> prefix: '/usr'"),
                           ({"channels": ["c"], "packages": ["x;rm -rf /"]}, "is not a conda MatchSpec"),
                           ({"channels": ["c"], "packages": ["x"], "nope": 1}, "[conda] -> nope: unknown key")):
        write_spec(tmp_path, index.url, [], conda=conda)
        done = envbuild("lock", cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (message, done)
    write_spec(tmp_path, index.url, ["alpha"])
    spec = tmp_path / "envbuild.toml"
    spec.write_text(spec.read_text() + 'from-conda = ["numpy"]\n')
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and "from-conda: names Python packages of the conda environment" in done.stderr


LOADED_AFTER_THE_CHANNEL_READ = ("envbuild.lockfile", "envbuild.resolve.target", "envbuild.resolve.merge",
                                 "envbuild.resolve.system", "packaging", "tomlkit", "requests")


def test_the_channels_are_read_from_the_spec_alone(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    """``lock`` starts reading the conda channels once the spec is read: the lock's model, the other resolvers,
    packaging and requests (tens of ms of imports) load beside that read, not before it (bench/conda.py)."""
    write_spec(tmp_path, index.url, [], conda={"channels": [conda_channel.url], "packages": ["libb"]})
    # the modules loaded when the read is started, taken in the thread that starts it (the read's own thread may
    # first run after the main thread has gone on importing)
    code = ("import sys\nfrom envbuild.adapters import rattler\nprefetch = rattler.prefetch\nseen = []\n"
            "def watched(*args, **kwargs):\n"
            f"    seen.append(sorted(m for m in list(sys.modules) if m.split('.')[0] in "
            f"{LOADED_AFTER_THE_CHANNEL_READ!r} or m in {LOADED_AFTER_THE_CHANNEL_READ!r}))\n"
            "    return prefetch(*args, **kwargs)\n"
            "rattler.prefetch = watched\nfrom envbuild.entry import main\ntry:\n    main(['lock'])\n"
            "finally:\n    sys.stderr.write(repr(seen[0] if seen else None) + '\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert eval(done.stderr.strip().splitlines()[-1]) == []  # noqa: S307 - our own repr of a list of names
    assert records(tmp_path / "envbuild.lock") == {"liba": ("1.1", "h0_0"), "libb": ("2.0", "h1_0")}


def test_a_channel_served_by_python_s_http_server_relocks(tmp_path: Path, index: LocalIndex,
                                                         conda_channel_dir: Path) -> None:
    """Sharded repodata behind `python -m http.server`, which answers the re-lock's If-Modified-Since with a 304
    that has no validator: rattler refuses that answer (conda/rattler#2719), so the re-lock reads the channel again
    without the cache instead of failing."""
    import asyncio
    import functools
    import http.server
    import inspect
    import shutil
    import threading

    from rattler.index import index_fs

    root = tmp_path / "served" / "channel"
    shutil.copytree(conda_channel_dir, root)
    indexed = index_fs(root, force=True, write_shards=True)
    if inspect.isawaitable(indexed):
        asyncio.run(indexed)  # type: ignore[arg-type]
    assert (root / "noarch" / "repodata_shards.msgpack.zst").is_file()
    class Plain(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Plain, directory=str(root.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channel = type("Served", (), {"url": f"http://127.0.0.1:{server.server_address[1]}/channel"})()
        first = conda_lock(tmp_path, index, channel, ["libb"])
        assert first.returncode == 0, first.stderr
        again = envbuild("lock", "-U", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "is unchanged" in again.stdout
    finally:
        server.shutdown()
        server.server_close()
