"""The layer plan: which image layer each locked Python package goes into.

Layers follow how packages change (as nix2container and ``buildLayeredImage`` split a closure): the base, the apt
closure, then the Python packages in groups from the heaviest and most stable to the lightest, each group one
``uv pip install`` step of its own.  A group's layer depends on nothing but its packages' files, so changing the
pin of a small package rewrites the last, small layer only; the CUDA libraries and torch keep their digests, and
the registry and every node already have them.

The plan is made from the lock alone (the same lock, the same plan), written into the build context as
``.envbuild/layers.json`` and printed by ``envbuild render --json``.  A spec's ``[image] layers`` (carried in the
lock, ``envbuild.layerplan``) replaces the built-in groups for teams that know their packages better.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

from envbuild.lockfile import Lock, PythonPackage

# The groups, in the order their layers are stacked: most stable and heaviest first.  A package goes into the first
# group one of whose patterns (fnmatch, on its normalised name) it matches; the last group takes the rest.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cuda", "the CUDA libraries (change with CUDA only; gigabytes)",
     ("nvidia-*", "cuda-*", "cupy-cuda*", "tensorrt*")),
    ("frameworks", "the large frameworks (change a few times a year; hundreds of MB each)",
     ("torch", "torchvision", "torchaudio", "triton", "pytorch-triton*", "jax", "jaxlib", "jax-cuda*",
      "tensorflow", "tensorflow-*", "tf-nightly*", "xformers", "bitsandbytes", "vllm", "onnxruntime*", "mkl",
      "mkl-*", "intel-openmp", "deepspeed", "flash-attn", "mamba-ssm", "causal-conv1d", "apex",
      "transformer-engine*", "ray")),
    ("scientific", "the compiled scientific stack (tens of MB each)",
     ("numpy", "scipy", "pandas", "scikit-learn", "pyarrow", "opencv-python*", "opencv-contrib-python*", "onnx",
      "llvmlite", "numba", "polars", "duckdb", "grpcio", "sympy", "matplotlib", "pillow", "h5py", "tokenizers",
      "safetensors", "sentencepiece")),
    ("packages", "everything else (changes most often; small)", ("*",)),
)


@dataclass(frozen=True)
class LayerGroup:
    name: str
    why: str
    packages: tuple[str, ...]  # sorted names


def groups(lock: Lock) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The groups of LOCK's plan: the lock's own ([image] layers, then the rest), else the built-in ones."""
    if not lock.image_layers:
        return GROUPS
    from envbuild.layerplan import REST

    own = tuple((name, "named in [image] layers", patterns) for name, patterns in lock.image_layers)
    return (*own, (REST, "what [image] layers names in no group", ("*",))) if REST not in dict(
        lock.image_layers) else own


def plan(lock: Lock) -> tuple[LayerGroup, ...]:
    """The non-empty groups of the lock's Python packages installed as they are (the ones built in the image, from
    an sdist or a checkout, are installed in a step of their own after these), in stacking order."""
    apart = {p.name for p in lock.python.built_apart()}
    chosen = groups(lock)
    members: dict[str, list[str]] = {name: [] for name, _, _ in chosen}
    for pkg in lock.python.packages:
        if pkg.name not in apart:
            members[group_of(pkg, chosen)].append(pkg.name)
    return tuple(LayerGroup(name, why, tuple(sorted(members[name]))) for name, why, _ in chosen if members[name])


def group_of(pkg: PythonPackage, chosen: tuple[tuple[str, str, tuple[str, ...]], ...] = GROUPS) -> str:
    for name, _, patterns in chosen:
        if any(fnmatch.fnmatchcase(pkg.name, pattern) for pattern in patterns):
            return name
    from envbuild.layerplan import REST

    names = [name for name, _, _ in chosen]
    return REST if REST in names else names[-1]  # what no pattern names


def plan_json(lock: Lock) -> str:
    """The plan as the context's ``.envbuild/layers.json`` and ``render --json`` show it (stable, sorted)."""
    groups = [{"name": g.name, "why": g.why, "packages": list(g.packages)} for g in plan(lock)]
    built = sorted(p.name for p in lock.python.built_apart())
    document = {"schema": 1, "layers": ["base", "system", "venv", *(f"python:{g['name']}" for g in groups),
                                        *(["python:built"] if built else []), "envbuild"],
                "python": groups, "built": built}
    return json.dumps(document, indent=2) + "\n"
