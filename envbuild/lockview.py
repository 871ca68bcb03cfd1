"""The lock as the drift check sees it: ``read`` is the ``ReadLock`` that every caller of the check core
(``envbuild.check``) hands in, so that the core, which runs in images on the standard library, reads the lock with
the one lock reader (versions upgraded in one place, every string validated) without importing a layer above it.

It imports ``envbuild.lockfile`` only when it is called: a check whose view of the lock is cached never loads it.
Like the check core, it runs under an image's Python (3.9 up) and on the check's path: no ``__future__`` import,
and its annotations are quoted.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from envbuild.check.shapes import Expected
    from envbuild.lockfile import Lock


def read(text: str, shown: str, platform: "str | None") -> "Expected":
    """The check's view of the lock TEXT (named SHOWN in errors), for PLATFORM (default: the lock's only platform,
    else this host's).  A lock that is no lock, or has no such platform, is a ``LockfileError`` (exit 2)."""
    from envbuild import lockfile

    return from_lock(lockfile.loads(text, shown=shown, platform=platform))


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
