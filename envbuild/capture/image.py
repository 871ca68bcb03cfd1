"""Capture an image (``envbuild init --from-image REF``): it becomes the spec's base image, and the Python
distributions its site directories hold become requirements (top-level ones, at their versions), so the image
envbuild builds on it has them again, pinned and hashed.  The image's apt packages need no capture: the lock
records them as the base image's."""

from __future__ import annotations

import json
import re
from collections import defaultdict

from packaging.utils import canonicalize_name

from envbuild.capture import Draft, Note, clean_name
from envbuild.capture.dists import OWNED, Installed, markers, parse_metadata, top_level
from envbuild.platforms import PLATFORMS, host
from envbuild.versions import minor


def capture_image(reference: str, platform: str | None = None) -> Draft:
    from envbuild.resolve.image import python_files, resolve_image

    if platform is None:
        here = host()
        platform = here if here is not None and PLATFORMS[here].linux else "linux/amd64"
    facts = resolve_image(reference, platform)
    installed, sites = image_distributions(python_files(reference, platform))
    python = minor(facts.python_version) if facts.python_version else None
    from_sites = sorted({m.group(1) for s in sites if (m := re.search(r"python(3\.\d+)/", s))})
    notes: list[Note] = []
    if python is None:
        python = from_sites[-1] if from_sites else facts.distro.python3
    captured = top_level(installed, markers(python, platform=platform))
    notes += captured.notes
    if not captured.requirements:
        notes.append(Note("python", f"{reference} holds no Python distribution to capture; add your requirements",
                          warn=False))
    return Draft(source=f"the image {reference}", python=python, platform=platform, name=_name(reference),
                 base_image=reference, requirements=captured.requirements,
                 facts=(f"Captured by envbuild init --from-image {reference} ({facts.digest[:19]}...): "
                        f"{facts.distro.name}, {len(facts.installed)} apt packages (the lock records them as the "
                        f"base image's), {len(installed)} Python distributions in {', '.join(sites) or 'none'}.",),
                 notes=tuple(notes), prefer=captured.prefer)


def image_distributions(files: dict[str, bytes]) -> tuple[list[Installed], list[str]]:
    """The distributions of an image's dist-info files (by path), and the site directories they are in."""
    by_dir: dict[str, dict[str, bytes]] = defaultdict(dict)
    for path, data in files.items():
        directory, _, leaf = path.rpartition("/")
        by_dir[directory][leaf] = data
    out: dict[str, Installed] = {}
    sites: set[str] = set()
    for directory in sorted(by_dir):
        parts = by_dir[directory]
        meta = parse_metadata(parts.get("METADATA", b""))
        if meta is None:
            continue
        site = directory.rpartition("/")[0]
        installer = parts.get("INSTALLER", b"").decode("utf-8", "replace").strip() or None
        if site.endswith("dist-packages"):
            installer = OWNED[0]  # Debian's python3-* packages put them there
        try:
            direct_url = json.loads(parts["direct_url.json"]) if "direct_url.json" in parts else None
        except (ValueError, RecursionError):
            direct_url = None
        name = str(canonicalize_name(meta[0]))
        if name not in out:
            out[name] = Installed(name=name, version=meta[1], requires=meta[2], extras=meta[3],
                                  direct_url=direct_url, installer=installer)
            sites.add(f"/{site}")
    return list(out.values()), sorted(sites)


def _name(reference: str) -> str:
    last = reference.split("@", maxsplit=1)[0].rsplit("/", 1)[-1].split(":", maxsplit=1)[0]
    return clean_name(last)
