"""The shapes of the plain data the check passes along (for mypy only: nothing imports this at run time, so the
check path does not pay for ``typing``)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class CudaExpected(TypedDict):
    runtime: str
    cudnn: str | None
    nccl: str | None
    min_driver: str
    toolkit_driver: str | None


class CondaExpected(TypedDict):
    prefix: str  # where the lock's environment is installed (images; a host may have it elsewhere)
    packages: dict[str, list[str]]  # name -> [version, build]


class Expected(TypedDict):
    """What the lock says the environment holds: the part of the lock the check compares."""

    lock: str  # the lock's path, as the user gave it
    lock_version: int
    platform: str  # the lock's platform this view is of
    spec_hash: str
    name: str
    distro: str | None  # "debian:12"
    python: str  # the interpreter's exact version (or the requested one, for a lock that has none)
    packages: dict[str, str]  # Python distribution (normalised name) -> version
    from_file: dict[str, str]  # installed from a file by design: its name, or "*.whl" (a wheel built in the image)
    ignore_extra: list[str]
    system: dict[str, str] | None  # apt package -> version; None: the lock has no apt part
    apt_unsigned: bool  # the lock took its apt sources' Release files unsigned ([system] insecure-unsigned)
    base_image: str | None  # "reference@digest"
    base_packages: dict[str, str] | None  # what the base image holds; None: the lock does not say
    cuda: CudaExpected | None
    env: dict[str, str]
    conda: CondaExpected | None


class Checked(TypedDict):
    """What is checked: this interpreter ("self"), another one ("python"), a mounted root, or an image; and the
    conda prefix, when the lock has one."""

    kind: str  # self | python | root | image
    path: str  # the interpreter, the root directory or the image reference
    why: str  # how it was chosen when the user did not name it ("" when given)
    conda: str | None  # the conda prefix to read (inside the root or image), None: the lock has no conda part
    scope: NotRequired[str]  # venv (what envbuild sync made) | host (all the lock holds); set once it is decided


Finding = dict[str, Any]  # {"kind", "name", "status", "expected", "found", "severity"}: the report's schema 1
Facts = dict[str, Any]  # what the probe read (see probe.probe)
