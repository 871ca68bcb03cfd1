"""``envbuild record``: the fingerprint of the check core (``envbuild.check.record``), given the lock reader it
cannot import from the bottom layer (``envbuild.lockview``).  The console script and the click group both come
here; ``envbuild.record()`` is the same fingerprint, in process.

Standard library only on its path, like the check: it runs at the start of every training run."""


def main(argv: "list[str]") -> int:
    from envbuild import lockview
    from envbuild.check.record import main as record

    return record(argv, read_lock=lockview.read)
