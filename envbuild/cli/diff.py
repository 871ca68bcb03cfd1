"""``envbuild diff``'s command line, and its one path: parse the options -> ``commands.diff.compare`` (find both
locks, read them) -> ``review.show`` (text, markdown or JSON) -> exit code (0 equal, 1 they differ, 2 error).

Like the check, the diff parses its few options itself (``envbuild.options``): the console script hands
``diff ARGS`` to ``main`` before it loads click, and the click group's ``diff`` command forwards its arguments
to ``main``.  Importing click takes 25-30 ms of CPU time of a diff of two large locks (``bench/diff.py``, whose
target is 150 ms), more than the comparison itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from envbuild.errors import EXIT_DRIFT, EXIT_OK
from envbuild.options import answer, command_line, listing, usage_error
from envbuild.paths import LOCK_FILE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from envbuild.options import Option

FORMATS = ("human", "markdown")
OPTIONS: tuple[Option, ...] = (
    (("-l", "--lock"), "lock", "PATH", "The lock in the working tree (and its path in the revisions). "
                                       "[default: ./envbuild.lock]"),
    (("--format",), "format", "FORMAT", "human (the default): for a terminal.  markdown: for a pull-request comment "
                                        "(tables per part)."),
    (("--json",), "json", None, "Print the changes as JSON (schema 1), for tools."),
)

HELP = """\
Usage: envbuild diff [OPTIONS] [OLD] [NEW]

  What changed between two locks: added, removed, upgraded and downgraded packages per part (base image,
  interpreter, apt, Python, conda, CUDA, env), with major jumps, CUDA and base-image changes and rebuilt packages
  (same version, other files) set apart, and what brought each added package in.

  Exit 0 when the environments are equal, 1 when they differ, 2 on error.

  OLD and NEW are lock files, git revisions of the lock (HEAD, origin/main, REV:path; read with git show, no
  checkout) or images envbuild built (the lock they carry).  No argument: HEAD's lock against the working tree's;
  one: that against the working tree's.

  Examples:
    envbuild diff                                  what the uncommitted lock changes
    envbuild diff --format markdown origin/main    paste into the pull request
    envbuild diff old.lock new.lock --json
    envbuild diff registry.example.com/ml/trainer:3f2a9c1b4d5e envbuild.lock

Options:
{options}
"""


def main(argv: list[str]) -> int:
    """``envbuild diff ARGV``; returns the exit code.  Its errors are one line on stderr, never a traceback."""
    options = command_line(argv, OPTIONS, "envbuild diff", lambda: HELP.format(options=listing(OPTIONS)),
                           ("old", "new"))
    if isinstance(options, int):  # --help, or a usage error: answered
        return options
    if options.get("format", "human") not in FORMATS:
        return usage_error("envbuild diff", f"--format takes {' or '.join(FORMATS)}, not {options['format']!r}")
    return answer(lambda: run(options.get("old"), options.get("new"), Path(options.get("lock", LOCK_FILE)),
                              "json" if options.get("json") else options.get("format", "human")),
                  "envbuild", "envbuild")


def run(old: str | None, new: str | None, lock_path: Path, form: str) -> int:
    """Compare OLD with NEW (None: HEAD, and the working tree's LOCK_PATH) and print the changes in FORM (human,
    markdown or json).  Returns 0 (equal) or 1 (they differ)."""
    from envbuild.commands import diff
    from envbuild.review import show

    result = diff.compare(old, new, lock_path)
    changes = list(result.changes)
    text = {"json": show.as_json, "markdown": show.markdown, "human": show.human}[form](changes, result.old,
                                                                                      result.new)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `envbuild diff | head`: the reader left; the verdict is still the exit code
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_DRIFT if changes else EXIT_OK
