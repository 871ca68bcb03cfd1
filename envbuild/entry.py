"""The console script.  ``envbuild check`` with plain flags runs here without importing click (what a Slurm prolog
or an init container runs before every job should start fast); everything else, ``--help`` and any flag this
does not recognise included, goes to the click CLI, which parses and reports exactly as documented."""

from __future__ import annotations

import sys
from pathlib import Path

_FLAGS = {"--json": "as_json", "--deep": "deep", "--strict": "strict"}
_VALUES = {"-l": "lock_path", "--lock": "lock_path", "--junit": "junit", "--python": "python", "--root": "root",
           "--image": "image"}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    options = _plain_check(args[1:]) if args[:1] == ["check"] else None
    if options is None:
        from envbuild.cli import main as full

        full(argv)
        return
    from envbuild.errors import EnvbuildError

    if options.get("python") is not None and options.get("lock_path") is not None:
        # start the probe before anything else loads: it runs while envbuild reads the lock
        from contextlib import suppress

        from envbuild.adapters.launch import start_probe

        with suppress(EnvbuildError):  # else check() starts it again and reports the problem as usual
            options["started"] = start_probe(str(options["python"]), str(options["lock_path"]),
                                             deep=bool(options.get("deep")))
    from envbuild.commands.check import run

    try:
        code = run(**options)  # type: ignore[arg-type]
    except EnvbuildError as exc:
        code = exc.report()
    except KeyboardInterrupt:
        sys.stderr.write("envbuild: interrupted\n")
        code = 130
    sys.exit(code)


def _plain_check(args: list[str]) -> dict[str, object] | None:
    """The options of ``check ARGS``, or None when the click CLI must handle them (help, an unknown or repeated
    flag, a missing value, a --root that is not a directory: click's messages for those are the contract)."""
    options: dict[str, object] = {}
    i = 0
    while i < len(args):
        flag, _, inline = args[i].partition("=") if args[i].startswith("--") else (args[i], "", "")
        if flag in _FLAGS and not inline and _FLAGS[flag] not in options:
            options[_FLAGS[flag]] = True
        elif flag in _VALUES and _VALUES[flag] not in options:
            if inline:
                value = inline
            elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1
                value = args[i]
            else:
                return None
            options[_VALUES[flag]] = value if flag == "--image" else Path(value)
        else:
            return None
        i += 1
    root = options.get("root")
    if isinstance(root, Path) and not root.is_dir():
        return None
    return options
