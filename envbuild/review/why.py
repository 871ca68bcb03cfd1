"""``envbuild why NAME``: the chains from the spec to a locked package, read from the edges the lock keeps
(``requested`` and ``via`` on Python and apt records, conda's own ``depends``).

A chain starts at something the spec asks for and ends at NAME: ``torch==2.5.1 -> triton==3.1.0``,
``git -> libcurl3-gnutls -> libldap-2.5-0``.  A chain of one step means that the spec asks for NAME itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from envbuild.errors import EnvbuildError
from envbuild.lockfile import Lock, match_spec_name

MAX_CHAINS = 20  # the shortest ones; a package deep in a big graph can be reached in thousands of ways


@dataclass(frozen=True)
class Chain:
    """One path from something the spec asks for to a locked package."""

    part: str  # python | build | system | conda
    steps: tuple[str, ...]  # "torch==2.5.1", "triton==3.1.0"

    def __str__(self) -> str:
        return " -> ".join(self.steps)


@dataclass(frozen=True)
class _Graph:
    """One part's edges: who requires each package, and what the spec asks for."""

    part: str
    label: Mapping[str, str]  # name -> how a step shows it
    parents: Mapping[str, tuple[str, ...]]
    roots: frozenset[str]


def why(lock: Lock, name: str) -> list[Chain]:
    """The chains that bring NAME into LOCK (one platform's view), shortest first; an error when NAME is not in it
    or the lock keeps no edges (written before lock version 4)."""
    return Why(lock).chains(name)


class Why:
    """LOCK's graphs, built once, for asking about many packages (diff asks about every added one)."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock
        self.graphs = _graphs(lock)

    def chains(self, name: str, part: str | None = None) -> list[Chain]:
        """The chains to NAME; with PART (python, system or conda), only in that part's graph."""
        return _chains(self.lock, [g for g in self.graphs if part in (None, g.part)], name)


def _chains(lock: Lock, graphs: list[_Graph], name: str) -> list[Chain]:
    found = [g for g in graphs if _key(g, name) in g.label]
    if not found:
        import difflib

        known = sorted({n for g in graphs for n in g.label})
        close = difflib.get_close_matches(name.lower(), known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise EnvbuildError(f"{name} is not in the lock for {lock.target.platform}{hint}")
    if not lock.keeps_edges:
        raise EnvbuildError(f"this lock (version {lock.version}) keeps no dependency edges; run envbuild lock to "
                            "record them, then ask again")
    chains: list[Chain] = []
    for graph in found:
        chains += [Chain(graph.part, tuple(graph.label[n] for n in path)) for path in _paths(graph, _key(graph, name))]
    return sorted(chains, key=lambda c: (len(c.steps), c.part, c.steps))[:MAX_CHAINS]


def _key(graph: _Graph, name: str) -> str:
    if name in graph.label:  # the lock's own name (diff asks with those): already normalised, no packaging
        return name
    if graph.part in ("python", "build"):
        from packaging.utils import canonicalize_name

        return str(canonicalize_name(name))
    return name.lower() if graph.part == "conda" else name


def _graphs(lock: Lock) -> list[_Graph]:
    py = lock.python.packages
    graphs = [_Graph("python", {p.name: f"{p.name}=={p.version}" for p in py}, {p.name: p.via for p in py},
                     frozenset(p.name for p in py if p.requested))]
    if lock.python.build_packages:
        graphs.append(_build_graph(lock))
    if lock.system is not None:
        apt = lock.system.packages
        graphs.append(_Graph("system", {p.name: p.name for p in apt}, {p.name: p.via for p in apt},
                             frozenset(p.name for p in apt if p.requested)))
    if lock.conda is not None:
        records = lock.conda.packages
        parents: dict[str, list[str]] = {}
        for record in records:
            for depend in record.depends:
                parents.setdefault(match_spec_name(depend), []).append(record.name)
        graphs.append(_Graph("conda", {r.name: f"{r.name}={r.version}" for r in records},
                             {r.name: tuple(sorted(parents.get(r.name, ()))) for r in records},
                             frozenset(r.name for r in records if r.requested)))
    return graphs


def _build_graph(lock: Lock) -> _Graph:
    """The build group's edges (lock version 6), its roots the sdists whose build-dependencies name a package:
    ``flash-attn (its build) -> ninja==1.11.1``."""
    from packaging.requirements import Requirement

    group = lock.python.build_packages
    label = {p.name: f"{p.name}=={p.version}" for p in group}
    parents: dict[str, list[str]] = {p.name: list(p.via) for p in group}
    roots = set()
    for sdist, needs in lock.python.build_dependencies:
        node = f"{sdist} (its build)"  # not a project name (a space): no package's key
        label[node] = node
        roots.add(node)
        for text in needs:
            parents.setdefault(Requirement(text).name, []).append(node)
    return _Graph("build", label, {name: tuple(sorted(found)) for name, found in parents.items()}, frozenset(roots))


def _paths(graph: _Graph, target: str) -> list[tuple[str, ...]]:
    """Every path from a root to TARGET without a cycle, found walking up the parents (breadth first, so the
    shortest come first), at most MAX_CHAINS of them."""
    out: list[tuple[str, ...]] = []
    frontier: list[tuple[str, ...]] = [(target,)]
    while frontier and len(out) < MAX_CHAINS:
        following = []
        for path in frontier:
            head = path[0]
            if head in graph.roots:
                out.append(path)
            following += [(parent, *path) for parent in graph.parents.get(head, ()) if parent not in path
                          and parent in graph.label]
        frontier = following[:10_000]  # a bound on the work for graphs with very many paths
    return out[:MAX_CHAINS]
