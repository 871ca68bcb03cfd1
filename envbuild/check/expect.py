"""What the lock says the environment holds: the part of ``envbuild.lock`` that the check compares.

The lock is read and validated by ``envbuild.lockfile`` (the one lock reader) and reduced to plain data,
``Expected``.  That reduction is cached, keyed by the lock's exact bytes: a node that checks the same lock before
every job parses it once, and a changed lock is never mistaken for the cached one.
"""

import os
import sys

from envbuild import cache
from envbuild.errors import unreadable_lock

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
VIEW_FORMAT = 4  # raise when Expected's shape changes: a cached view of another shape is then never read

if TYPE_CHECKING:
    from envbuild.check.shapes import Expected
    from envbuild.lockfile import Lock


def load(path: str, platform: "str | None" = None) -> "Expected":
    """The check's view of the lock at PATH, for PLATFORM (default: the lock's only platform, else this host's).
    A lock that cannot be read, or has no such platform, is a ``LockfileError`` (exit 2)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise unreadable_lock(path, exc, with_option=True) from None
    where = platform or f"{sys.platform}-{os.uname().machine}"  # the view depends on it
    name = f"lock{VIEW_FORMAT}-{where.replace('/', '-')}-{cache.slug(os.path.abspath(path))}"  # holds the bytes
    cached = cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == data:
        expected: Expected = cached[1]
    else:
        from envbuild import lockfile

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise unreadable_lock(path, exc) from None
        expected = from_lock(lockfile.loads(text, shown=path, platform=platform))
        cache.write(name, (data, expected))
    expected["lock"] = path
    return expected


def _from_file(lock: "Lock") -> dict[str, str]:
    """The packages the lock installs from a file by design: a local archive (its name), a git checkout
    ("vcs:COMMIT", or a wheel of it), an sdist built against the environment ("*.whl": a wheel of it, built there).
    Any other install from a file is a departure."""
    apart = lock.python.built_apart()
    out = {}
    for p in lock.python.packages:
        if p.path:
            out[p.name] = p.path.rsplit("/", 1)[-1]
        elif p.vcs:
            out[p.name] = f"vcs:{p.vcs.rpartition('@')[2]}"
        elif p in apart:
            out[p.name] = "*.whl"
    return out


def from_lock(lock: "Lock") -> "Expected":
    """The plain data of LOCK that a check compares (marshal-able: str, int, dict, list, None)."""
    cuda = lock.cuda
    image = lock.base_image
    return {
        "lock": "",
        "lock_version": lock.version,
        "platform": lock.target.platform,
        "spec_hash": lock.spec_hash,
        "name": lock.name,
        "distro": lock.target.distro,
        "python": lock.python.target_version,
        "packages": {p.name: p.version for p in lock.python.packages},
        "from_file": _from_file(lock),
        "ignore_extra": list(lock.ignore_extra),
        "system": {p.name: p.version for p in lock.system.packages} if lock.system is not None else None,
        "apt_unsigned": lock.system is not None and lock.system.unsigned,
        "base_image": f"{image.reference}@{image.digest}" if image is not None else None,
        "base_packages": dict(image.packages) if image is not None and image.packages is not None else None,
        "cuda": {"runtime": cuda.runtime, "cudnn": cuda.cudnn, "nccl": cuda.nccl, "min_driver": cuda.min_driver,
                 "toolkit_driver": cuda.toolkit_driver} if cuda is not None else None,
        "env": dict(lock.env),
        "conda": {"prefix": lock.conda.prefix, "packages": {p.name: [p.version, p.build] for p in lock.conda.packages}}
        if lock.conda is not None else None,
    }
