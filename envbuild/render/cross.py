"""An image for another platform than the lock's first Linux platform (arm64 beside amd64): its Python layers are
installed in a stage of the first platform's image (native on the usual x86 build host), where uv puts the
target's locked wheels (``--python-platform``, hash-checked) into one folder per layer and compiles their bytecode
as it will lie in the image; the target's stage copies each folder into its venv, one layer each.  Only what runs
the target's own programs (apt, the user step, sdist builds) runs under emulation.

The stage is the same for a lock wherever it is built: it always runs on the lock's first platform, so the
Dockerfile depends on the lock alone."""

from __future__ import annotations

from typing import Any

from envbuild.lockfile import Lock
from envbuild.platforms import PLATFORMS

HOST = "host"  # the folder of the context with the first platform's apt files


def host_view(lock_text: str, lock: Lock) -> Lock | None:
    """The lock's first Linux platform, when LOCK (a view) is another one whose venv it can install: the same
    interpreter release from the same source (the distro's, or the base image's: python:3.11-slim), each with its
    base image (and apt closure, where the target has one); None otherwise (installed in the target's own stage,
    as for a single platform)."""
    if lock.python.source == "conda" or not lock.python.packages or lock.base_image is None:
        return None
    linux = [p for p in lock.platforms if PLATFORMS[p].linux]
    if len(linux) < 2 or lock.target.platform == linux[0]:
        return None
    from envbuild import lockfile

    host = lockfile.loads(lock_text, platform=linux[0])
    if (host.base_image is None or (host.system is None) != (lock.system is None)
            or host.python.version != lock.python.version or host.python.source != lock.python.source):
        return None
    return host


def host_context(host: Lock, lock: Lock) -> dict[str, Any]:
    """What the python stage needs: the first platform's base image and apt pins, the target's wheel platform."""
    assert host.base_image is not None  # noqa: S101 - host_view's conditions
    return {"platform": host.target.platform,
            "image": f"{host.base_image.reference.split('@', 1)[0]}@{host.base_image.digest}",
            "system": [{"name": p.name, "version": p.version, "pin": f"{p.name}={p.version}"}
                       for p in (host.system.packages if host.system is not None else ())],
            "python_platform": lock.target.python_platform or "",
            "apt_cache_id": f"envbuild-apt-{PLATFORMS[host.target.platform].deb_arch}",
            "folder": HOST}
