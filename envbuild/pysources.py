"""What the spec and the lock say alike of how Python packages are built and where they come from (a base module:
one model of each, which the spec's reader and the lock's model both use, without either importing the other)."""

from __future__ import annotations

from dataclasses import dataclass


def built_in_environment(build_dependencies: tuple[tuple[str, tuple[str, ...]], ...],
                         no_build_isolation: tuple[str, ...]) -> tuple[str, ...]:
    """The sdists built against the locked environment, not in an isolated one: those with build-dependencies and
    those of no-build-isolation, sorted (the spec's and the lock's rule alike)."""
    return tuple(sorted({name for name, _ in build_dependencies} | set(no_build_isolation)))


@dataclass(frozen=True)
class PythonIndex:
    """A named index of [python] indexes (the spec's and the lock's): an explicit one serves only the packages that
    ``sources`` pins to it."""

    name: str
    url: str  # as the spec writes it: ${VAR} placeholders kept, expanded only when resolving
    explicit: bool = False
