"""envbuild export --format cyclonedx: a CycloneDX 1.6 SBOM of one platform's whole environment, valid against the
official schema (cyclonedx-python-lib's validator), deterministic, with a purl and the hashes of every package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envbuild import lockfile
from envbuild.export import export
from tests.conftest import FIXTURES, envbuild
from tests.test_lockfile import SAMPLE_MULTI


def validate(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_every_kind_of_record_is_a_component_with_its_purl_and_hashes(platform: str) -> None:
    text = lockfile.dumps(SAMPLE_MULTI)
    sbom = export(lockfile.loads_file(text), platform, "cyclonedx", text)
    validate(sbom)
    doc = json.loads(sbom)
    purls = {c["purl"]: c for c in doc["components"]}
    arch = platform.split("/")[1]
    digest = "d" * 64 if arch == "amd64" else "e" * 64
    image = purls[f"pkg:oci/debian@sha256:{digest}?repository_url=127.0.0.1:5000/debian"]
    assert image["type"] == "container" and image["hashes"] == [{"alg": "SHA-256", "content": digest}]
    gomp = purls[f"pkg:deb/debian/libgomp1@12.2.0-14?arch={arch}&distro=debian-12"]
    assert gomp["hashes"] == [{"alg": "SHA-256", "content": ("1" if arch == "amd64" else "2") * 64}]
    assert "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12" in purls
    numpy = purls["pkg:pypi/numpy@1.26.4"]
    assert [h["content"] for h in numpy["hashes"]] == [("1" if arch == "amd64" else "2") * 64], "this platform's wheel"
    assert ("pkg:pypi/nvidia-cuda-runtime-cu12@12.4.127" in purls) == (arch == "amd64")
    blas = next(c for c in doc["components"] if c["name"] == "libopenblas")
    assert blas["purl"].startswith("pkg:conda/libopenblas@0.3.27?build=pthreads_")
    assert "channel=https://conda.anaconda.org/conda-forge" in blas["purl"]
    assert {h["alg"] for h in blas["hashes"]} == {"SHA-256", "MD5"}
    cuda = [c for c in doc["components"] if c.get("group") == "nvidia"]
    assert ({c["name"]: c["version"] for c in cuda} == {"cuda-runtime": "12.4.127", "cudnn": "9.1.0.70",
                                                          "nccl": "2.21.5"}) == (arch == "amd64")
    properties = {p["name"]: p["value"] for p in doc["metadata"]["properties"]}
    assert properties["envbuild:platform"] == platform and properties["envbuild:spec-hash"] == SAMPLE_MULTI.spec_hash
    assert len(doc["dependencies"]) == len(doc["components"]) + 1, "the environment depends on each component"


def test_the_sbom_is_deterministic_and_names_the_lock_it_came_from(tmp_path: Path) -> None:
    lock = FIXTURES / "render" / "envbuild.lock"
    first = envbuild("export", "-l", str(lock), "--format", "cyclonedx", cwd=tmp_path)
    again = envbuild("export", "-l", str(lock), "--format", "cyclonedx", "-o", "sbom.cdx.json", cwd=tmp_path)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert first.stdout == (tmp_path / "sbom.cdx.json").read_text() and "timestamp" not in first.stdout
    validate(first.stdout)
    import hashlib

    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    assert json.loads(first.stdout)["metadata"]["component"]["version"] == f"sha256:{digest}"
    (tmp_path / "other.lock").write_text(lock.read_text().replace("1.26.4", "1.26.3"))
    other = envbuild("export", "-l", "other.lock", "--format", "cyclonedx", cwd=tmp_path)
    assert json.loads(other.stdout)["serialNumber"] != json.loads(first.stdout)["serialNumber"]
    # render puts the same SBOM next to the lock in the build context (and so in the image)
    assert envbuild("render", "-l", str(lock), "-o", str(tmp_path / "ctx"), cwd=tmp_path).returncode == 0
    assert (tmp_path / "ctx" / ".envbuild" / "sbom.cdx.json").read_text() == first.stdout


def test_the_sbom_of_the_bundled_example_validates(tmp_path: Path) -> None:
    example = FIXTURES.parent / "examples" / "trainer" / "envbuild.lock"
    done = envbuild("export", "-l", str(example), "--format", "cyclonedx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    validate(done.stdout)
    components = json.loads(done.stdout)["components"]
    assert any(c["purl"].startswith("pkg:pypi/torch@") for c in components)
    assert any(c["purl"].startswith("pkg:deb/debian/python3.11@") for c in components)
