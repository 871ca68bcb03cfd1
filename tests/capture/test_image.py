"""`envbuild init --from-image`: an image in a real registry (docker-registry on 127.0.0.1) becomes the base image,
and the Python distributions it holds, as its top layer shows them, the requirements."""

from __future__ import annotations

from pathlib import Path

from envbuild import lockfile
from envbuild.compat import tomllib
from tests.conftest import envbuild
from tests.support.apt import AptMirror
from tests.support.pypi import LocalIndex
from tests.support.registry import DEBIAN_12, Registry, dpkg_status, layer

SITE = "usr/local/lib/python3.11/site-packages"


def metadata(name: str, version: str, *requires: str) -> bytes:
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires) + "\nA description.\n").encode()


def push(registry: Registry) -> str:
    bottom = layer({"etc/os-release": DEBIAN_12, "var/lib/dpkg/status": dpkg_status({"libc6": "2.36-9+deb12u14"}),
                    f"{SITE}/alpha-1.0.dist-info/METADATA": metadata("alpha", "1.0", "beta>=1.0"),
                    f"{SITE}/beta-1.0.dist-info/METADATA": metadata("beta", "1.0"),
                    f"{SITE}/gone-1.0.dist-info/METADATA": metadata("gone", "1.0"),
                    f"{SITE}/old-1.0.dist-info/METADATA": metadata("old", "1.0"),
                    f"{SITE}/pip-24.0.dist-info/METADATA": metadata("pip", "24.0"),
                    "usr/lib/python3/dist-packages/yaml-6.0.dist-info/METADATA": metadata("PyYAML", "6.0"),
                    "usr/local/bin/python3.11": b"\x7fELF"})  # what PYTHON_VERSION promises
    # the upper layer deletes gone (a whiteout) and replaces old's folder (an opaque whiteout, then a new file)
    top = layer({f"{SITE}/gamma-1.0.dist-info/METADATA": metadata("gamma", "1.0"),
                 f"{SITE}/old-1.0.dist-info/.wh..wh..opq": b"",
                 f"{SITE}/old-1.0.dist-info/README": b"no METADATA any more\n"},
                whiteouts=(f"{SITE}/gone-1.0.dist-info",))
    digest, _ = registry.image("envbuild/pyimage", "v1", [bottom, top], env={"PYTHON_VERSION": "3.11.9"})
    return digest


def test_an_image_becomes_the_base_and_its_distributions_the_requirements(
        tmp_path: Path, registry: Registry, index: LocalIndex, apt_mirror: AptMirror) -> None:
    digest = push(registry)
    reference = f"{registry.host}/envbuild/pyimage:v1"
    done = envbuild("init", "--from-image", reference, "--index-url", index.url, "--mirror",
                    f"{apt_mirror.url}/debian", "--security-mirror", f"{apt_mirror.url}/debian-security",
                    "--signed-by", str(apt_mirror.key_file), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "envbuild.toml").read_text()
    spec = tomllib.loads(text)
    assert spec["environment"] == {"name": "pyimage", "platform": "linux/amd64", "base-image": reference,
                                   "python": "3.11"}
    assert spec["python"]["requirements"] == ["alpha==1.0", "gamma==1.0"], "gone and old are deleted above; pip " \
                                                                           "is not asked for; yaml is Debian's"
    assert "1 distributions belong to the system's package manager (pyyaml)" in text.replace("\n# ", " ")
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert lock.base_image is not None and lock.base_image.digest == digest
    assert (lock.python.version, lock.python.source) == ("3.11.9", "image")
    assert {(p.name, p.version) for p in lock.python.packages} == {("alpha", "1.0"), ("beta", "1.0"),
                                                                   ("gamma", "1.0")}, "the image's versions kept"


def test_an_image_that_does_not_exist_is_one_line(tmp_path: Path, registry: Registry) -> None:
    done = envbuild("init", "--from-image", f"{registry.host}/envbuild/nothing:v1", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "envbuild.toml").exists()


def test_metadata_that_is_no_requirement_is_said_and_left_out(tmp_path: Path, registry: Registry) -> None:
    """An image's metadata is not trusted: a name with a quote, a version with a marker, a direct_url.json whose
    URL carries a line of pip options.  init says each (escaped) and writes none of them into the spec."""
    import json

    bottom = layer({"etc/os-release": DEBIAN_12, "usr/local/bin/python3.11": b"\x7fELF",
                    f"{SITE}/alpha-1.0.dist-info/METADATA": metadata("alpha", "1.0"),
                    f"{SITE}/evil-1.0.dist-info/METADATA": metadata('evil"name', "1.0"),
                    f"{SITE}/marked-1.0.dist-info/METADATA": metadata("marked", "1.0; python_version<'3'"),
                    f"{SITE}/hooked-1.0.dist-info/METADATA": metadata("hooked", "1.0"),
                    f"{SITE}/hooked-1.0.dist-info/direct_url.json": json.dumps(
                        {"url": "https://x.example/h.whl\n--index-url http://evil.example/", "archive_info": {}}
                    ).encode()})
    registry.image("envbuild/untrusted", "v1", [bottom], env={"PYTHON_VERSION": "3.11.9"})
    done = envbuild("init", "--from-image", f"{registry.host}/envbuild/untrusted:v1", "--no-lock", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    text = (tmp_path / "envbuild.toml").read_text()
    spec = tomllib.loads(text)
    assert spec["python"]["requirements"] == ["alpha==1.0"]
    assert "evil.example" not in spec["python"]["requirements"][0] and "\n--index-url" not in text
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert "warning: evil\"name: not captured, its name 'evil\"name' is not a project name" in warnings
    assert any(w.startswith("warning: marked: not captured, its version") for w in warnings)
    assert any(w.startswith("warning: hooked: not captured, its direct_url.json names") and "\\n--index-url" in w
               for w in warnings), warnings
