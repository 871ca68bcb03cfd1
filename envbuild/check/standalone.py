"""``envbuild-check``: the drift check with nothing but the standard library.

``envbuild render`` packs this module, the probe, the comparison, the report and the lock reader (with a copy
of ``packaging``) into ``envbuild-check.pyz`` and copies it into the image beside its lock, so that
``docker run IMAGE envbuild-check`` checks the image against the lock it was built from, with nothing else
installed.  It takes the same flags as ``envbuild check`` for a local check and gives the same exit codes:
0 no drift, 1 drift, 2 could not check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_LOCK = "/opt/envbuild/envbuild.lock"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="envbuild-check",
        description="Compare this environment with the lock it was built from. "
                    "Exit 0 no drift, 1 drift, 2 could not check.")
    parser.add_argument("-l", "--lock", default=os.environ.get("ENVBUILD_LOCK", DEFAULT_LOCK),
                        help=f"the lock (default: $ENVBUILD_LOCK, else {DEFAULT_LOCK})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (schema 1)")
    parser.add_argument("--junit", metavar="FILE", help="also write a JUnit XML file")
    parser.add_argument("--deep", action="store_true", help="also hash every installed Python file")
    parser.add_argument("--strict", action="store_true", help="also report apt packages the lock does not list")
    parser.add_argument("--root", metavar="DIR", help="check a mounted root filesystem")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad flags, 0 on --help: the contract's codes already
        return int(exc.code or 0)

    from envbuild.check import report
    from envbuild.commands.check import check
    from envbuild.errors import EnvbuildError

    try:
        root = Path(args.root) if args.root else None
        if root is not None and not root.is_dir():
            raise EnvbuildError(f"--root {root}: no such directory")
        result = check(Path(args.lock), root=root, deep=args.deep, strict=args.strict)
        data = report.as_json(args.lock, result.lock, result.facts, result.outcome)
        if args.junit:
            Path(args.junit).write_text(report.junit(data, result.outcome), encoding="utf-8")
    except EnvbuildError as exc:
        print(f"envbuild-check: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        report.human(data)
    return 0 if result.outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
