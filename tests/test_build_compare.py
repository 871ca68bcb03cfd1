"""--check-reproducible's comparison of two OCI layouts, without an engine: the same image is one digest; another
names its first differing layer, what made it (from the Dockerfile when the image keeps no history) and the
differing paths with what differs; a difference outside the layers names the configuration's or manifest's keys."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from envbuild.build.compare import compare, made_by

DOCKERFILE = """# header
ARG SOURCE_DATE_EPOCH=1
FROM base@sha256:abc AS system
RUN apt-get install \\
      x
FROM system AS uv
RUN pip install uv
FROM system AS runtime
ENV A=1
RUN useradd app
COPY a /b
"""


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _layout(layout: Path, layers: list[dict[str, tuple[bytes, int]]], labels: dict[str, str] | None = None) -> None:
    descriptors = [_blob(layout, _tar(files)) for files in layers]
    config = _blob(layout, json.dumps({"config": {"Labels": labels or {}}, "rootfs": {}}).encode())
    manifest = _blob(layout, json.dumps({"schemaVersion": 2, "config": config, "layers": descriptors}).encode())
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))


BASE = {"etc/os-release": (b"debian", 0)}


def test_the_same_image_is_one_digest(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _layout(tmp_path / name, [BASE, {"usr/x": (b"1", 5)}])
    result = compare(tmp_path / "a", tmp_path / "b", DOCKERFILE)
    assert result.same and result.lines()[0].startswith("reproducible: both builds are sha256:")


def test_a_differing_layer_is_named_with_its_step_and_paths(tmp_path: Path) -> None:
    apt = {"var/lib/dpkg/status": (b"ok", 5)}
    _layout(tmp_path / "a", [BASE, apt, {"home/app": (b"", 5), "var/log/dpkg.log": (b"one", 5)}, {"b": (b"", 5)}])
    _layout(tmp_path / "b", [BASE, apt, {"home/app": (b"", 6), "var/log/dpkg.log": (b"two", 5)}, {"b": (b"", 5)}])
    result = compare(tmp_path / "a", tmp_path / "b", DOCKERFILE)
    assert not result.same and result.layer == 2
    assert result.step == "RUN useradd app"  # from the Dockerfile: the image keeps no history
    assert result.paths == ("/home/app: mtime", "/var/log/dpkg.log: content")
    lines = result.lines()
    assert lines[1] == "  layer 3 of 4 differs first, made by: RUN useradd app"


def test_a_difference_outside_the_layers_names_the_key(tmp_path: Path) -> None:
    _layout(tmp_path / "a", [BASE], {"built": "monday"})
    _layout(tmp_path / "b", [BASE], {"built": "tuesday"})
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result.layer is None
    assert result.config == ('config.Labels.built: "monday" / "tuesday"',)


def test_made_by_follows_the_last_stage_down_its_parents() -> None:
    steps = made_by(DOCKERFILE, 5)
    assert steps == ["the base image (base)", "the base image (base)", "RUN apt-get install x", "RUN useradd app",
                     "COPY a /b"]
    assert made_by(DOCKERFILE, 2) == ["RUN useradd app", "COPY a /b"]
