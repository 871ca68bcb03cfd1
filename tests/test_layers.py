"""The house's layers point one way: no import circle in envbuild, and no import from a lower layer to a higher one
(an exception would be named here with why it stays).  Layers, from the ground up (DESIGN.md): base modules -> the
check core -> lockfile (and lockview) -> adapters -> spec/resolve/render/build/export/review/capture/integrations
-> commands -> cli (and the package's own face, ``envbuild.record()``)."""

from __future__ import annotations

import ast
from pathlib import Path

import envbuild

PACKAGE = Path(envbuild.__file__).parent
BASE = {"about", "errors", "validate", "platforms", "versions", "cachedir", "cache", "compat", "data", "hostlist",
        "options", "paths", "atomic", "pysources", "layerplan"}
LAYERS = {"check": 2, "lockfile": 3, "lockview": 3, "adapters": 4, "spec": 5, "resolve": 5, "render": 5, "build": 5,
          "export": 5, "review": 5, "capture": 5, "integrations": 5, "commands": 6, "cli": 7, "entry": 7, "__main__": 7,
          "envbuild": 7}  # the package itself: its public face, envbuild.record()
# Imports allowed to run upward, each named with why it stays: none.  (The check core reads the lock with the one
# lock reader, envbuild.lockview at layer 3, which its callers hand in: it does not import it.)
NAMED: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["envbuild", *path.relative_to(PACKAGE).with_suffix("").parts]
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def edges(known: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the envbuild modules it imports (at run time or lazily; not under TYPE_CHECKING)."""
    out: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and getattr(node.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(node)}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *([base] if base
                                                                                                       else [])])
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
                targets = subs if subs and len(subs) == len(node.names) else [base, *subs]
            for imported in targets:
                module = imported
                while module and module not in known and "." in module:
                    module = module.rpartition(".")[0]
                if module in known and module != name:
                    found.add(module)
        out[name] = found
    return out


def layer(name: str) -> int:
    top = name.split(".")[1] if "." in name else "envbuild"
    return 1 if top in BASE else LAYERS[top]


def test_every_module_has_a_layer() -> None:
    assert all(layer(name) for name in modules())


def test_no_import_circle() -> None:
    graph = edges(modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []


def test_imports_point_down_but_the_one_named() -> None:
    graph = edges(modules())
    upward = {(a, b) for a, deps in graph.items() for b in deps if layer(b) > layer(a)}
    assert upward == NAMED
