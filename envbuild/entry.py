"""The console script, ``envbuild``.

``envbuild check ...`` goes straight to the drift check (``envbuild.commands.check``, then the core's ``check.cli``),
which parses its own options (``envbuild.options``): it runs before every job on every node and must not wait for
click to load.  So does ``envbuild diff ...`` (``envbuild.cli.diff``), where click took 25-30 ms of CPU time of a
150 ms target.  Every other command, and ``envbuild --help``, is the click CLI (``envbuild.cli.app``), whose
``check`` and ``diff`` commands forward to the same functions.

The check and ``envbuild diff`` are short processes that make tens of thousands of small objects and no cycles
worth collecting, so they run without the cyclic garbage collector (6 ms of a cold diff of two large locks,
``bench/diff.py``).  The other commands keep it, but run it less often, as mypy does: a collection every 200,000
new objects rather than every 700.  With the default, a re-lock of a conda environment of 905 records ran 123
collections, 20 ms, most of them over the modules that the lock imports (rattler, requests, click), which live as
long as the process; the raised threshold saves 27-33 ms of CPU time of its 870 (paired runs on ``bench/conda.py``'s
channel).  A long command (a build, a lock of many platforms) still gets its cycles collected.

Every command ends here, in ``leave``: once its output is flushed and what was registered to run at exit has run
(temporary directories left open, a library's clean-up), the process ends with ``os._exit``, skipping the
interpreter's teardown of every module and object.  Nothing is lost by that: files are written and closed before
a command returns, and a thread still running (none should be) gets the ordinary exit, which waits for it.  It
saves 2.5 ms of a 20 ms check (``bench/conda.py``, ``bench/check.py``) and 8 ms of a diff of two large locks or of
``envbuild --help`` (``bench/diff.py``).
"""

import sys


def main(argv: list[str] | None = None) -> None:
    import gc

    args = sys.argv[1:] if argv is None else argv
    collecting, threshold = gc.isenabled(), gc.get_threshold()
    try:
        code = _run(args)
    except SystemExit as exc:  # the click CLI's own exit, with its code
        code = exc.code
    finally:
        if argv is not None:  # called as a function (tests): the collector as it was, whatever happened
            gc.set_threshold(*threshold)
            if collecting:
                gc.enable()
    if argv is not None:  # and an ordinary exit
        sys.exit(code)
    leave(code)


def _run(args: list[str]) -> int | str | None:
    if args[:1] == ["record"]:  # standard library only, like the check
        from envbuild.commands.record import main as record

        return record(args[1:])
    import gc

    if args[:1] in (["check"], ["diff"]):
        gc.disable()  # see above; main() turns it back on for a caller that goes on
    else:
        gc.set_threshold(200_000, *gc.get_threshold()[1:])  # see above; main() gives a caller its own back
    if args[:1] == ["check"]:
        from envbuild.commands.check import main as check

        return check(args[1:])
    if args[:1] == ["diff"]:
        from envbuild.cli.diff import main as diff

        return diff(args[1:])
    from envbuild.cli.app import main as full

    full(args)  # it ends with sys.exit
    return 0


def leave(code: int | str | None) -> None:
    """End the process with CODE (as ``sys.exit`` takes it) without the interpreter's teardown: flush what was
    written and run the exit functions first.  A thread still running gets the ordinary exit, which waits for it."""
    import atexit
    import os

    threading = sys.modules.get("threading")  # not imported: no thread was started
    if threading is not None and any(t.is_alive() and not t.daemon and t is not threading.main_thread()
                                     for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what the interpreter's own exit runs first (weakref.finalize among them)
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would be one more import on the check's path
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left (`| head`): the verdict is still the exit code
            pass
    os._exit(code)
