"""The console script, ``envbuild``.

``envbuild check ...`` goes straight to the drift check (``envbuild.check.cli``), which parses its own options:
it runs before every job on every node and must not wait for click to load.  Every other command, and
``envbuild --help``, is the click CLI (``envbuild.cli``), whose ``check`` command forwards to the same function.

The check is a short process that holds nothing needing a clean-up (every file it writes is closed before it
answers), so it runs without the cyclic garbage collector (it makes thousands of small dicts and no cycles worth
collecting) and leaves with ``os._exit`` once its output is flushed, skipping the interpreter's teardown of every
module and object: together 2.5 ms of a 20 ms check (``bench/conda.py``, ``bench/check.py``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["record"]:  # standard library only, like the check
        from envbuild.check.record import main as record

        sys.exit(record(args[1:]))
    if args[:1] == ["check"]:
        import gc

        gc.disable()
        from envbuild.check.cli import main as check

        code = check(args[1:])
        if argv is not None:  # called as a function (tests): an ordinary exit
            sys.exit(code)
        leave(code)
    from envbuild.cli import main as full

    full(argv)


def leave(code: int) -> None:
    """Flush what was written, then end the process with CODE without the interpreter's teardown."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would be one more import on the check's path
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left (`| head`): the verdict is still the exit code
            pass
    os._exit(code)
