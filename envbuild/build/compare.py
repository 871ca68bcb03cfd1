"""Two builds of one lock, compared: the same manifest digest, or the first layer that differs and its first paths.

Each build is an OCI image layout (a directory with ``index.json`` and ``blobs/sha256/``, as ``buildah push
oci:DIR`` writes it).  Layers are compared by digest; in the first one that differs, every member of the two
tar streams is compared by name, type, mode, owner, time, link target and content, and the differing paths are
named in order, so a user sees what a step wrote differently (a log, a cache, a timestamp)."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild.errors import BuildError

SHOWN = 10  # differing paths named


@dataclass(frozen=True)
class Comparison:
    digests: tuple[str, str]  # the two manifest digests
    layer: int | None = None  # the index of the first differing layer (0: the base's first)
    step: str = ""  # what made that layer (the image history's created_by)
    paths: tuple[str, ...] = ()  # its first differing paths, with what differs
    layers: int = 0
    config: tuple[str, ...] = ()  # where every layer is the same: the configuration's differing keys

    @property
    def same(self) -> bool:
        return self.digests[0] == self.digests[1]

    def lines(self) -> list[str]:
        if self.same:
            return [f"reproducible: both builds are {self.digests[0]}"]
        out = [f"not reproducible: {self.digests[0]} and {self.digests[1]}"]
        if self.layer is None:
            out.append("  every layer is the same; the image configuration or manifest differs:")
            out += [f"    {key}" for key in self.config]
            return out
        out.append(f"  layer {self.layer + 1} of {self.layers} differs first, made by: {self.step or '(unknown)'}")
        out += [f"    {path}" for path in self.paths] or ["    (the same files, in another order)"]
        return out


def compare(first: Path, second: Path, dockerfile: str = "") -> Comparison:
    """Compare the images of the OCI layouts FIRST and SECOND (one image each), built from DOCKERFILE (which says
    what made each layer when the image keeps no history)."""
    a, b = _image(first), _image(second)
    digests = (a["digest"], b["digest"])
    if digests[0] == digests[1]:
        return Comparison(digests, layers=len(a["layers"]))
    history = [str(h.get("created_by", "")) for h in a["config"].get("history") or [] if not h.get("empty_layer")]
    if len(history) != len(a["layers"]):
        history = made_by(dockerfile, len(a["layers"]))
    for index, (la, lb) in enumerate(zip(a["layers"], b["layers"], strict=False)):
        if la["digest"] != lb["digest"]:
            step = history[index] if index < len(history) else ""
            return Comparison(digests, index, _short(step), _differing(_blob(first, la), _blob(second, lb)),
                              layers=len(a["layers"]))
    return Comparison(digests, None, layers=len(a["layers"]), config=(
        *_config_difference(a["config"], b["config"]),
        *_config_difference(a["annotations"], b["annotations"], "manifest annotations")))


def _config_difference(a: Any, b: Any, where: str = "") -> tuple[str, ...]:
    """The key paths where two image configurations differ, with both values (short)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return tuple(d for key in sorted(set(a) | set(b)) for d in _config_difference(a.get(key), b.get(key),
                                                                                       f"{where}.{key}"))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return tuple(d for i, (x, y) in enumerate(zip(a, b, strict=True))
                     for d in _config_difference(x, y, f"{where}[{i}]"))
    if a == b:
        return ()
    return (f"{where.lstrip('.') or 'config'}: {_short(json.dumps(a))[:90]} / {_short(json.dumps(b))[:90]}",)


_LAYERED = ("RUN", "COPY", "ADD")


def made_by(dockerfile: str, layers: int) -> list[str]:
    """What made each of LAYERS layers of the image DOCKERFILE's last stage builds: its instructions that add a
    layer (RUN, COPY, ADD) down the stages it is FROM, the base image's layers before them."""
    stages: list[tuple[str, str, list[str]]] = []  # (name, parent, its layered instructions)
    logical = ""
    for raw in dockerfile.splitlines():
        if raw.lstrip().startswith("#") and not logical:
            continue
        logical += raw[:-1] + " " if raw.endswith("\\") else raw
        if raw.endswith("\\"):
            continue
        words, logical = logical.split(), ""
        if not words:
            continue
        keyword = words[0].upper()
        if keyword == "FROM":
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else ""
            stages.append((name, words[1], []))
        elif keyword in _LAYERED and stages:
            stages[-1][2].append(_short(" ".join(words)))
    chain: list[str] = []
    named = {name: (parent, steps) for name, parent, steps in stages if name}
    parent, steps = (stages[-1][1], stages[-1][2]) if stages else ("", [])
    while True:
        chain = steps + chain
        if parent not in named:
            break
        parent, steps = named[parent]
    return [f"the base image ({parent.split('@')[0]})"] * max(layers - len(chain), 0) + chain[-layers:]


def _image(layout: Path) -> dict[str, Any]:
    try:
        index = json.loads((layout / "index.json").read_text())
        digest = index["manifests"][0]["digest"]
        manifest = json.loads(_blob(layout, {"digest": digest}).read_bytes())
        config = json.loads(_blob(layout, manifest["config"]).read_bytes())
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise BuildError(f"{layout}: not an OCI image layout ({exc})") from None
    return {"digest": digest, "layers": manifest.get("layers", []), "config": config,
            "annotations": manifest.get("annotations") or {}}


def _blob(layout: Path, descriptor: dict[str, Any]) -> Path:
    algorithm, _, value = str(descriptor["digest"]).partition(":")
    return layout / "blobs" / algorithm / value


def _members(path: Path) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener: Any = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            content = hashlib.sha256(tar.extractfile(m).read()).hexdigest()[:16] if m.isfile() else ""  # type: ignore[union-attr]
            out[m.name] = (m.type, oct(m.mode), m.uid, m.gid, int(m.mtime), m.linkname, m.size, content)
    return out


_FIELDS = ("type", "mode", "uid", "gid", "mtime", "link", "size", "content")


def _differing(a: Path, b: Path) -> tuple[str, ...]:
    ma, mb = _members(a), _members(b)
    shown = []
    for name in sorted(set(ma) | set(mb)):
        if ma.get(name) == mb.get(name):
            continue
        if name not in ma or name not in mb:
            shown.append(f"/{name}: only in the {'second' if name not in ma else 'first'} build")
        else:
            fields = [f for f, x, y in zip(_FIELDS, ma[name], mb[name], strict=True) if x != y]
            shown.append(f"/{name}: {', '.join(fields)}")
        if len(shown) == SHOWN:
            break
    return tuple(shown)


def _short(step: str) -> str:
    step = " ".join(step.split())
    return step if len(step) <= 160 else step[:157] + "..."
