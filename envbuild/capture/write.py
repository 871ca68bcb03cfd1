"""A ``Draft`` as the text of an ``envbuild.toml``: the spec's tables in the order a reader expects, with the notes
as comments in the table they are about (tomlkit writes the values, so quoting is always right)."""

from __future__ import annotations

import textwrap
from typing import Any

import tomlkit
from tomlkit.items import Table

from envbuild.capture import Draft

WIDTH = 110


def spec_text(draft: Draft, *, locked: bool = True) -> str:
    """The spec's text; LOCKED: init locks it once it is written (else --no-lock: the user runs envbuild lock)."""
    doc = tomlkit.document()
    for line in (f"envbuild.toml, written by `envbuild init` from {draft.source}.", *draft.facts,
                 "Read it, edit it, then run `envbuild lock`" + (" (init locks it once, as written)." if locked else
                                                                 " (init did not lock it: --no-lock).")):
        _comment(doc, line)
    environment = _table(draft, "environment", {
        "name": draft.name, "platform": draft.platform, "base-image": draft.base_image, "distro": draft.distro,
        "python": draft.python})
    doc.add(tomlkit.nl())
    doc.add("environment", environment)
    python = _table(draft, "python", {
        "requirements": sorted(dict.fromkeys(draft.requirements), key=_by_name),
        "requirements-files": list(draft.requirements_files),
        "index-url": draft.index_url, "extra-index-urls": list(draft.extra_index_urls),
        "from-conda": list(draft.from_conda)})
    if python.value.body:
        doc.add("python", python)
    if draft.system or draft.mirror or draft.security_mirror or _has_notes(draft, "system"):
        doc.add("system", _table(draft, "system", {"packages": list(draft.system), "mirror": draft.mirror,
                                                   "security-mirror": draft.security_mirror,
                                                   "signed-by": draft.signed_by}))
    if draft.conda_packages:
        doc.add("conda", _table(draft, "conda", {"channels": list(draft.conda_channels),
                                                 "packages": list(draft.conda_packages), "cuda": draft.conda_cuda}))
    if draft.distro or draft.base_image:
        cuda = _table(draft, "cuda", {"version": "auto"})
        cuda.value.body.insert(0, (None, tomlkit.comment("auto: from the pinned nvidia-* wheels, conda's CUDA "
                                                         "packages or the base image")))
        doc.add("cuda", cuda)
    return tomlkit.dumps(doc)


def _by_name(requirement: str) -> tuple[str, str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return canonicalize_name(Requirement(requirement).name), requirement


def _has_notes(draft: Draft, section: str) -> bool:
    return any(n.section == section for n in draft.notes)


def _table(draft: Draft, section: str, values: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in values.items():
        if value is None or value == []:
            continue
        if isinstance(value, list):
            array = tomlkit.array()
            array.extend(value)
            array.multiline(len(value) > 1)
            table.add(key, array)
        else:
            table.add(key, value)
    for note in (n for n in draft.notes if n.section == section):
        _comment(table, ("warning: " if note.warn else "") + note.text)
    return table


def _comment(container: Any, text: str) -> None:
    """TEXT as comment lines; what does not print (from a host's or an image's metadata) is escaped: a comment
    holds no control character, and no line of it becomes anything but a comment."""
    from envbuild.validate import escaped

    for line in textwrap.wrap(escaped(text), WIDTH - 2, break_long_words=False, break_on_hyphens=False) or [""]:
        container.add(tomlkit.comment(line))
