"""Capture what exists (a requirements file, a pyproject.toml, an environment.yml, a live environment, an image)
as a ``Draft`` of a spec: the stage before the spec, for ``envbuild init``.

Each source has one module (``files``, ``host``, ``image``) that returns a ``Draft``; ``write`` turns a draft into
the text of an ``envbuild.toml``, with a comment for each thing that could not be captured.  A draft is data: it is
validated by the spec's own parser before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace


def clean_name(text: str) -> str:
    """TEXT as an environment name the spec accepts (letters, digits, '.', '_', '-'), else "default"."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-_") or "default"


@dataclass(frozen=True)
class Note:
    """Something the user should read: a comment in the spec's SECTION, and a warning when WARN."""

    section: str  # "environment" | "python" | "system" | "conda" | "cuda"
    text: str
    warn: bool = True


@dataclass(frozen=True)
class Draft:
    """The spec to write.  Fields mirror the spec's keys; empty ones are left out of the file."""

    source: str  # what it was captured from, in words ("requirements.txt", "the Python at /x/.venv/bin/python")
    python: str  # "3.11"
    platform: str = "linux/amd64"
    name: str = "default"
    distro: str | None = None  # "debian:bookworm"
    base_image: str | None = None
    requirements: tuple[str, ...] = ()
    requirements_files: tuple[str, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    from_conda: tuple[str, ...] = ()
    system: tuple[str, ...] = ()
    mirror: str | None = None
    security_mirror: str | None = None
    signed_by: str | None = None  # the mirror's key file, as the spec will name it
    conda_channels: tuple[str, ...] = ()
    conda_packages: tuple[str, ...] = ()
    conda_cuda: str | None = None
    facts: tuple[str, ...] = ()  # comment lines for the top of the file (what was seen, where)
    notes: tuple[Note, ...] = ()
    prefer: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # installed (name, version): lock keeps them
    distro_fallback: str | None = None  # the host's distro, should the base image that pins the Python be unreachable

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(n.text for n in self.notes if n.warn)

    def without_requirement(self, name: str, why: str) -> Draft:
        """This draft with the requirement of NAME left out (and said, in a note)."""
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        key = canonicalize_name(name)
        kept = tuple(r for r in self.requirements if canonicalize_name(Requirement(r).name) != key)
        gone = [r for r in self.requirements if r not in kept]
        return replace(self, requirements=kept, notes=(*self.notes, Note("python", f"{gone[0] if gone else name}: "
                                                                                   f"left out, {why}")))

    def on_the_distro_python(self, why: str) -> Draft:
        """This draft with the distro's interpreter instead of the base image that pinned the host's (and said)."""
        release = ".".join(self.python.split(".")[:2])
        said = (f"{self.base_image}: not used ({why}); the lock pins the distro's Python {release} instead of the "
                f"host's {self.python}, so the interpreter differs from this host's: give --python-image REF")
        return replace(self, base_image=None, distro=self.distro_fallback, python=release, distro_fallback=None,
                       notes=(*self.notes, Note("environment", said)))

    def without_system(self, names: tuple[str, ...], why: str) -> Draft:
        kept = tuple(n for n in self.system if n not in names)
        return replace(self, system=kept, notes=(*self.notes, Note("system", f"{', '.join(names)}: left out, {why}")))
