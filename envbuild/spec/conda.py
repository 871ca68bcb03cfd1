"""The ``[conda]`` table: channels, MatchSpecs, the target's CUDA driver and where images install the environment.

```toml
[conda]
channels = ["conda-forge"]                  # names or URLs (credentials as ${VAR}, never written to the lock)
packages = ["python=3.11", "libopenblas"]   # MatchSpecs, solved for each target platform
cuda = "12.4"                               # the __cuda virtual package: the driver's CUDA on the cluster
prefix = "/opt/conda"                       # where images install it
```
"""

from __future__ import annotations

import re

from envbuild.spec.model import CondaSpec
from envbuild.spec.urls import check_url
from envbuild.validate import Table

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_CUDA = re.compile(r"^\d{1,2}\.\d{1,2}$")
_PREFIX = re.compile(r"^/[A-Za-z0-9_./-]*$")
_SPEC_CHARS = re.compile(r"^[A-Za-z0-9_.\-=<>!*,|~ \[\]'\":/+]+$")
# Folders a conda prefix must not be: the system's, and the ones envbuild's images use (/opt/envbuild, /opt/venv).
# The spec refuses them, and so does render, for a lock edited by hand.
SYSTEM_FOLDERS = frozenset({"", "/usr", "/usr/local", "/opt", "/opt/envbuild", "/opt/venv", "/etc", "/home"})


def parse_conda(t: Table) -> CondaSpec:
    t.only("channels", "packages", "cuda", "prefix")
    packages = t.strings("packages")
    channels = t.strings("channels")
    if packages and not channels:
        raise t.error(["channels"], 'is required with packages (for example ["conda-forge"])')
    for i, channel in enumerate(channels):
        if "://" in channel:
            check_url(channel, lambda problem, i=i: t.error(["channels", i], problem))
        elif not _CHANNEL_NAME.match(channel):
            raise t.error(["channels", i], f"{channel!r} is neither a channel name nor an http(s) or file URL")
    for i, spec in enumerate(packages):
        if not _SPEC_CHARS.match(spec):
            raise t.error(["packages", i], f"{spec!r} is not a conda MatchSpec (such as \"numpy>=1.26\" or "
                                           "\"python=3.11\")")
    cuda = t.string("cuda")
    if cuda is not None and not _CUDA.match(cuda):
        raise t.error(["cuda"], f'{cuda!r}: give the driver\'s CUDA version, such as "12.4"')
    prefix = t.string("prefix", default="/opt/conda") or "/opt/conda"
    if not _PREFIX.match(prefix) or "/../" in f"{prefix}/" or prefix.rstrip("/") in SYSTEM_FOLDERS:
        raise t.error(["prefix"], f"{prefix!r}: give an absolute path of its own, such as \"/opt/conda\"")
    return CondaSpec(channels=channels, packages=tuple(packages), cuda=cuda, prefix=prefix.rstrip("/"))
