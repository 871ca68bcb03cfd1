"""The spec's hash, over its *normalised facts* (sorted, canonical requirement strings, the contents of requirements
files rather than their paths), never over a serialised object: reformatting the spec or upgrading envbuild does
not invalidate every lock (conda-lock #432)."""

from __future__ import annotations

from typing import Any

from envbuild.spec.model import Spec


def normalized(spec: Spec) -> dict[str, Any]:
    """The facts of the spec that decide the lock, as plain sorted data (paths and formatting left out)."""
    env = spec.environment
    facts: dict[str, Any] = {
        "environment": {
            "name": env.name,
            # one platform keeps the key it always had, so that the spec-hash of existing locks stays valid
            **({"platform": env.platform} if len(env.platforms) == 1 else {"platforms": sorted(env.platforms)}),
            "python": env.python,
            "base-image": env.base_image,
            "distro": env.distro.name if env.distro else None,
        },
        "python": {
            "requirements": list(spec.python.requirements),
            "index-url": spec.python.index_url,
            "extra-index-urls": list(spec.python.extra_index_urls),
            "resolver": spec.python.resolver,
        },
        "system": {"packages": list(spec.system.packages), "mirror": spec.system.mirror,
                   "security-mirror": spec.system.security_mirror},
        "cuda": {"version": spec.cuda.version},
        "env": dict(spec.env),
        "check": {"ignore-extra": list(spec.check.ignore_extra)},
    }
    # newer tables join the facts only when a spec uses them, so that older specs keep their hash
    if spec.python.from_conda:
        facts["python"]["from-conda"] = list(spec.python.from_conda)
    py = spec.python
    if py.indexes:
        facts["python"]["indexes"] = [{"name": i.name, "url": i.url, "explicit": i.explicit} for i in py.indexes]
    if py.sources:
        facts["python"]["sources"] = dict(py.sources)
    if py.build_dependencies:
        facts["python"]["build-dependencies"] = {name: list(reqs) for name, reqs in py.build_dependencies}
    if py.no_build_isolation:
        facts["python"]["no-build-isolation"] = list(py.no_build_isolation)
    if py.build_env:
        facts["python"]["build-env"] = dict(py.build_env)
    if py.build_image is not None:
        facts["python"]["build-image"] = py.build_image
    if spec.image_layers:
        facts["image"] = {"layers": [{"name": name, "packages": list(p)} for name, p in spec.image_layers]}
    if py.local_files:  # the files' contents: another wheel at the same path is another environment
        import hashlib

        facts["python"]["local-files"] = {
            rel: "sha256:" + hashlib.sha256((spec.root / rel).read_bytes()).hexdigest() for _, rel in py.local_files}
    if spec.system.signed_by is not None:  # the key itself, not its path: another key is another trust
        import hashlib

        key = (spec.root / spec.system.signed_by).read_bytes()
        facts["system"]["signed-by"] = "sha256:" + hashlib.sha256(key).hexdigest()
    if spec.system.insecure_unsigned:
        facts["system"]["insecure-unsigned"] = True
    if spec.conda.present:
        conda = spec.conda
        facts["conda"] = {"channels": list(conda.channels), "packages": sorted(conda.packages), "cuda": conda.cuda,
                          "prefix": conda.prefix}
    return facts


def spec_hash(spec: Spec) -> str:
    import hashlib
    import json

    payload = json.dumps(normalized(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
