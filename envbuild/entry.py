"""The console script, ``envbuild``.

``envbuild check ...`` goes straight to the drift check (``envbuild.check.cli``), which parses its own options:
it runs before every job on every node and must not wait for click to load.  Every other command, and
``envbuild --help``, is the click CLI (``envbuild.cli``), whose ``check`` command forwards to the same function.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["check"]:
        from envbuild.check.cli import main as check

        sys.exit(check(args[1:]))
    from envbuild.cli import main as full

    full(argv)
