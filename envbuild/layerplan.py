"""The image's Python layer groups as a spec or a lock names them: ``[image] layers``, each group a name and the
packages (fnmatch patterns on normalised names) that go into its layer, in stacking order.

    [image]
    layers = [
      {name = "cuda", packages = ["nvidia-*"]},
      {name = "torch", packages = ["torch", "triton"]},
      {name = "ours", packages = ["mycorp-*"]},
    ]

A package that no group names goes into a last group, ``packages``.  Without ``[image] layers`` the built-in plan
(``envbuild.render.layers``) applies.  Validated here, for the spec and the lock alike, with the key path."""

from __future__ import annotations

import re

from envbuild.validate import Table

LayerGroups = tuple[tuple[str, tuple[str, ...]], ...]  # (name, patterns), in stacking order
REST = "packages"  # the last group: what no group names
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_PATTERN = re.compile(r"[a-z0-9*?\[\]][a-z0-9*?\[\]._-]*")


def parse_layers(t: Table) -> LayerGroups:
    """``layers`` of the ``[image]`` table T: a list of {name, packages} tables."""
    groups: list[tuple[str, tuple[str, ...]]] = []
    raw = t.get("layers")
    if raw is None:
        t.done()
        return ()
    if not isinstance(raw, list) or not raw:
        raise t.error(["layers"], 'must be a list of {name = "...", packages = ["pattern", ...]}')
    for i, group in enumerate(t.tables("layers")):
        name = group.required("name")
        if not _NAME.fullmatch(name) or name == "built":
            raise group.error(["name"], f"{name!r} is not a layer name (lower-case letters, digits and '-'; "
                                        "not 'built')")
        if any(name == seen for seen, _ in groups):
            raise t.error(["layers", i, "name"], f"{name!r} names two layers")
        patterns = group.strings("packages")
        if not patterns:
            raise group.error(["packages"], "names no package (a list of names or patterns such as \"nvidia-*\")")
        for j, pattern in enumerate(patterns):
            if not _PATTERN.fullmatch(pattern):
                raise group.error(["packages", j], f"{pattern!r} is not a package name or pattern")
        group.done()
        groups.append((name, patterns))
    t.done()
    return tuple(groups)
