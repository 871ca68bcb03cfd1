"""The lock as a CycloneDX 1.6 SBOM (JSON), written with cyclonedx-python-lib's model and serializer.

One platform's environment: the base image (``pkg:oci``), the apt packages (``pkg:deb/<distro>/...`` with arch and
distro qualifiers), the Python packages (``pkg:pypi``, with the sha256 of each file of that platform), the conda
packages (``pkg:conda``, channel, subdir and build), and the CUDA stack (runtime, cuDNN, NCCL, with the lowest
driver as a property).  Like the lock, it is deterministic: no timestamp, and a serial number derived from the
lock's own sha256, so the same lock always gives the same SBOM.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from envbuild.about import __version__
from envbuild.lockfile import Lock

NAMESPACE = uuid.UUID("6f1b6f0e-6e76-4c1b-9d7e-656e76627569")  # envbuild's uuid5 namespace for SBOM serial numbers


def cyclonedx_json(lock: Lock, lock_text: str) -> str:
    """The SBOM of LOCK (one platform's view of the file whose text is LOCK_TEXT)."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6

    digest = hashlib.sha256(lock_text.encode("utf-8")).hexdigest()
    components: list[Component] = []
    image = lock.base_image
    if image is not None:
        components.append(Component(
            type=ComponentType.CONTAINER, name=image.reference.split("@")[0], version=image.digest,
            bom_ref=f"oci:{image.digest}", purl=_oci_purl(image.reference, image.digest),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image.digest.removeprefix("sha256:"))]))
    distro_id, _, distro_version = (lock.target.distro or "").partition(":")
    for p in lock.system.packages if lock.system is not None else ():
        components.append(Component(
            type=ComponentType.LIBRARY, name=p.name, version=p.version,
            bom_ref=f"deb:{p.name}@{p.version}:{p.architecture}",
            purl=_purl("deb", p.name, p.version, namespace=distro_id or "debian",
                       qualifiers={"arch": p.architecture, "distro": f"{distro_id}-{distro_version}"}),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=p.sha256)]))
    for w in lock.python.packages:
        components.append(Component(
            type=ComponentType.LIBRARY, name=w.name, version=w.version, bom_ref=f"pypi:{w.name}@{w.version}",
            purl=_purl("pypi", w.name, w.version),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=h.removeprefix("sha256:")) for h in w.hashes]))
    for c in lock.conda.packages if lock.conda is not None else ():
        components.append(Component(
            type=ComponentType.LIBRARY, name=c.name, version=c.version,
            bom_ref=f"conda:{c.name}@{c.version}:{c.build}:{c.subdir}",
            purl=_purl("conda", c.name, c.version, qualifiers={
                "build": c.build, "channel": c.channel.rstrip("/"), "subdir": c.subdir, "type": "conda"}),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=c.sha256)]
            + ([HashType(alg=HashAlgorithm.MD5, content=c.md5)] if c.md5 else [])))
    if lock.cuda is not None:
        for name, version in (("cuda-runtime", lock.cuda.runtime), ("cudnn", lock.cuda.cudnn),
                              ("nccl", lock.cuda.nccl)):
            if version:
                components.append(Component(
                    type=ComponentType.LIBRARY, name=name, version=version, group="nvidia",
                    bom_ref=f"cuda:{name}@{version}", purl=_purl("generic", name, version, namespace="nvidia"),
                    properties=[Property(name="envbuild:min-driver", value=lock.cuda.min_driver)]))
    root = Component(type=ComponentType.CONTAINER if image is not None else ComponentType.APPLICATION,
                     name=lock.name, version=f"sha256:{digest}", bom_ref=f"envbuild:{digest}")
    metadata = BomMetaData(
        tools=ToolRepository(components=[Component(type=ComponentType.APPLICATION, name="envbuild",
                                                   version=__version__)]),
        component=root,
        properties=[Property(name=k, value=v) for k, v in (
            ("envbuild:platform", lock.target.platform), ("envbuild:distro", lock.target.distro),
            ("envbuild:python", lock.python.target_version), ("envbuild:spec-hash", lock.spec_hash),
            ("envbuild:min-driver", lock.cuda.min_driver if lock.cuda else None)) if v])
    metadata.timestamp = None  # type: ignore[assignment]  # deterministic: the same lock, the same SBOM
    bom = Bom(serial_number=uuid.uuid5(NAMESPACE, digest), metadata=metadata, components=components)
    bom.register_dependency(root, components)  # the environment holds each of them (flat)
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def _purl(kind: str, name: str, version: str, *, namespace: str | None = None,
          qualifiers: dict[str, str] | None = None) -> Any:
    from packageurl import PackageURL

    return PackageURL(type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers or None)


def _oci_purl(reference: str, digest: str) -> Any:
    """``pkg:oci/NAME@sha256:...?repository_url=REGISTRY/PATH`` (the purl spec's OCI type: the name is the last
    path segment, the digest the version)."""
    from packageurl import PackageURL

    bare = reference.split("@", maxsplit=1)[0]
    last = bare.rsplit("/", 1)[-1]
    repository = bare.rsplit(":", 1)[0] if ":" in last else bare
    name = repository.rsplit("/", 1)[-1]
    return PackageURL(type="oci", name=name.lower(), version=digest,
                      qualifiers={"repository_url": repository.lower()})
