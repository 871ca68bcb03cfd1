"""The option parser of the commands that start without click: ``envbuild check``, ``envbuild diff`` and
``envbuild record``.

The check runs before every job on every node, and inside images, where click is not installed; record runs at
the start of every training run; the diff runs in every pull request, on two locks that may hold a thousand
packages each.  Importing click alone takes longer than a whole clean check, and 25-30 ms of CPU time of a diff
of two large locks (``bench/diff.py``, whose target is 150 ms).  They take a handful of options, declared once as
tuples, parsed here and listed in their ``--help``; the click group forwards its ``check``, ``diff`` and ``record``
commands to them, so each command still has one path.  Every other command keeps click.

Standard library only, and Python 3.9's (the image's checker carries this module).
"""

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    # flags, destination, metavar (None: a flag without a value), help
    Option = tuple[tuple[str, ...], str, str | None, str]


class UsageError(Exception):
    """Options the command cannot take: one line, exit 2."""


def command_line(args: "Sequence[str]", options: "Sequence[Option]", prog: str, usage: "Callable[[], str]",
                 positional: "Sequence[str]" = ()) -> "dict[str, Any] | int":
    """ARGS parsed for the command PROG (``parse_options``), or its exit code where that answers them: 0 once
    ``--help`` (USAGE()) is printed, 2 once a usage error is, as one line."""
    if "-h" in args or "--help" in args:
        sys.stdout.write(usage())
        return 0
    try:
        return parse_options(args, options, positional)
    except UsageError as exc:
        return usage_error(prog, str(exc))


def answer(body: "Callable[[], int]", prog: str, command: str) -> int:
    """BODY's exit code: the one exit of every command (click's, by ``envbuild.cli.app.main``, and those that parse
    their own options: check, diff, record).  An ``EnvbuildError`` is one line on stderr, headed PROG (``envbuild``, or
    ``envbuild-check`` in an image), and its exit code; an interrupt is said by COMMAND, 130."""
    from envbuild.errors import EnvbuildError

    try:
        return body()
    except EnvbuildError as exc:
        return exc.report(prog)
    except KeyboardInterrupt:
        sys.stderr.write(f"{command}: interrupted\n")
        return 130


def usage_error(prog: str, message: str) -> int:
    """Say what PROG cannot take, in one line on stderr; the exit code, 2."""
    sys.stderr.write(f"{prog}: error: {message} (see {prog} --help)\n")
    return 2


def parse_options(args: "Sequence[str]", options: "Sequence[Option]",
                  positional: "Sequence[str]" = ()) -> "dict[str, Any]":
    """The options in ARGS (``--flag``, ``--option VALUE``, ``--option=VALUE``, ``-l VALUE``, ``-lVALUE``), and
    the arguments between or after them (everything after ``--``), named in turn by POSITIONAL: each of them
    absent when not given.  A flag is True; an option's value is a non-empty string."""
    by_flag = {flag: option for option in options for flag in option[0]}
    values: dict[str, Any] = {}
    arguments: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            arguments += args[index:]
            break
        if arg == "-" or not arg.startswith("-"):
            arguments.append(arg)
            continue
        flag, equals, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        option = by_flag.get(flag)
        if option is None and not arg.startswith("--") and by_flag.get(arg[:2], ((), "", None, ""))[2]:  # -lVALUE
            option, flag, equals, inline = by_flag[arg[:2]], arg[:2], "=", arg[2:]
        if option is None:
            raise UsageError(f"no such option: {arg}")
        if option[1] in values:
            raise UsageError(f"{'/'.join(option[0])} is given twice")
        if equals or option[2] is None:
            values[option[1]] = _value(flag, option, inline if equals else None)
        elif index < len(args):
            values[option[1]] = _value(flag, option, args[index])
            index += 1
        else:
            raise UsageError(f"{flag} requires an argument ({option[2]})")
    if len(arguments) > len(positional):
        raise UsageError(f"unexpected argument: {arguments[len(positional)]!r}")
    for name, argument in zip(positional, arguments):  # noqa: B905 - strict= is Python 3.10's (the image's may be 3.9)
        values[name] = argument
    return values


def _value(flag: str, option: "Option", given: "str | None") -> "str | bool":
    """FLAG's value: True for a flag (which takes none), GIVEN for an option (which must not be empty)."""
    if option[2] is None:
        if given is not None:
            raise UsageError(f"{flag} takes no value")
        return True
    if not given:
        raise UsageError(f"{flag} requires a non-empty {option[2]}")
    return given


def listing(options: "Sequence[Option]", width: int = 17) -> str:
    """The options as --help lists them: flags and metavar in a column WIDTH wide, then the help text (on the next
    line when the flags do not fit), and -h, --help last."""
    lines = []
    for flags, _, metavar, text in (*options, (("-h", "--help"), "", None, "Show this message and exit.")):
        names = ", ".join(flags) + (f" {metavar}" if metavar else "")
        lines.append(f"  {names:<{width}}  {text}" if len(names) <= width else f"  {names}\n  {'':<{width}}  {text}")
    return "\n".join(lines)
