"""The interface of the Python resolvers (``uv``, ``piptools``), beside them, as pip-tools keeps
``repositories/base.py`` beside its repositories: what a resolution is asked (``CompileRequest``) and what an adapter
answers.  ``envbuild.resolve.python`` builds the request from the spec and the previous lock; the adapters import
nothing above them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envbuild.lockfile import PythonPackage


@dataclass(frozen=True)
class CompileRequest:
    requirements: tuple[str, ...]
    python_version: str  # "3.11" or an exact "3.11.2"
    python_platform: str  # uv's spelling: "x86_64-manylinux_2_36"
    index_url: str  # expanded: may hold credentials, so it never reaches the lock
    extra_index_urls: tuple[str, ...] = ()
    preferences: tuple[PythonPackage, ...] = ()  # the previous lock's pins, kept unless freed
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    network_share: int = 1  # how many resolutions run at once (several platforms): they share the connections
    provided: tuple[tuple[str, str], ...] = ()  # (name, version) the environment has already (from conda)
    indexes: tuple[tuple[str, str, bool], ...] = ()  # (name, expanded URL, explicit): [python] indexes
    sources: tuple[tuple[str, str], ...] = ()  # (package, index name)
    build_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # what an sdist's metadata build needs
    build_env: tuple[tuple[str, str], ...] = ()
    root: Path | None = None  # the spec's directory: local archives (`name @ ./x.whl`) are relative to it
    local_files: tuple[tuple[str, str], ...] = ()  # (package, path relative to ROOT)
    constraints: tuple[tuple[str, str], ...] = ()  # (name, version): where a package is wanted, at that version
    environments: tuple[str, ...] = ()  # PEP 508 markers: one universal resolution for all (python_platform unused)


class Resolver(Protocol):
    """A Python resolver behind an adapter (``envbuild.adapters.uv``, ``envbuild.adapters.piptools``)."""

    def __call__(self, request: CompileRequest, /) -> list[PythonPackage]:
        """The packages REQUEST resolves to for its target platform and Python, each with its hashes (and its files'
        URLs, where the resolver reports them), sorted by name; a ``ResolutionError`` in the resolver's words when
        there is none."""
        ...
