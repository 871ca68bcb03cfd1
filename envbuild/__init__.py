"""envbuild: freeze a whole ML training environment into one lockfile, build it, check hosts against it."""

from envbuild.about import __version__

__all__ = ["__version__", "record"]


def record(lock: "str | None" = None, python: "str | None" = None) -> dict:  # type: ignore[type-arg]
    """A stable fingerprint of the environment this process runs in (the lock's sha256 and spec-hash, the image,
    the drift check's verdict with its findings per kind, the host's interpreter, glibc, CPU, driver and GPUs), as
    plain data.  Standard library only; for the start of a training run::

        import envbuild, wandb
        wandb.config.update({"envbuild": envbuild.record()})
    """
    from envbuild import lockview
    from envbuild.check.record import record as fingerprint

    return fingerprint(lock, python, read_lock=lockview.read)
