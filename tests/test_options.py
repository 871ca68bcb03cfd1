"""envbuild.options: the parser of the commands that start without click (check, diff)."""

from __future__ import annotations

import pytest

from envbuild.options import UsageError, command_line, listing, parse_options

OPTIONS = ((("-l", "--lock"), "lock", "PATH", "The lock."), (("--json",), "json", None, "As JSON."),
           (("--format",), "format", "FORMAT", "human or markdown."))


@pytest.mark.parametrize(("args", "expected"), [
    ([], {}),
    (["--json"], {"json": True}),
    (["-l", "a.lock"], {"lock": "a.lock"}),
    (["-la.lock"], {"lock": "a.lock"}),
    (["--lock=a.lock"], {"lock": "a.lock"}),
    (["--lock", "--json"], {"lock": "--json"}),  # an option's value is the next argument, whatever it looks like
    (["old", "--json", "new"], {"old": "old", "new": "new", "json": True}),  # arguments between options
    (["--format", "markdown", "HEAD"], {"format": "markdown", "old": "HEAD"}),
    (["--", "-odd.lock", "--json"], {"old": "-odd.lock", "new": "--json"}),  # after --, only arguments
    (["-", "new"], {"old": "-", "new": "new"}),
])
def test_the_forms_a_user_types(args: list[str], expected: dict[str, object]) -> None:
    assert parse_options(args, OPTIONS, ("old", "new")) == expected


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "no such option: --bogus"),
    (["-x"], "no such option: -x"),
    (["--jsonx"], "no such option: --jsonx"),
    (["-jfoo"], "no such option: -jfoo"),
    (["--lock"], "--lock requires an argument (PATH)"),
    (["-l"], "-l requires an argument (PATH)"),
    (["--lock="], "--lock requires a non-empty PATH"),
    (["-l", ""], "-l requires a non-empty PATH"),
    (["--json=yes"], "--json takes no value"),
    (["--json="], "--json takes no value"),
    (["--json", "--json"], "--json is given twice"),
    (["-l", "a", "--lock=b"], "-l/--lock is given twice"),
    (["a", "b", "c"], "unexpected argument: 'c'"),
    (["--", "a", "b", "c"], "unexpected argument: 'c'"),
])
def test_what_it_cannot_take_is_one_line(args: list[str], message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_options(args, OPTIONS, ("old", "new"))
    assert str(error.value) == message


def test_no_argument_is_taken_where_none_is_named() -> None:
    with pytest.raises(UsageError, match="unexpected argument: 'stray'"):
        parse_options(["--json", "stray"], OPTIONS)


def test_the_listing_puts_long_flags_on_their_own_line_and_help_last() -> None:
    lines = listing((*OPTIONS, (("--a-very-long-flag",), "x", "VALUE", "Long.")), width=17).splitlines()
    assert lines[0] == "  -l, --lock PATH    The lock."
    assert lines[-3:] == ["  --a-very-long-flag VALUE", f"  {'':<17}  Long.",
                          "  -h, --help         Show this message and exit."]


def test_a_command_line_is_parsed_or_answered_here(capsys: pytest.CaptureFixture[str]) -> None:
    """check, diff and record: --help prints the usage (exit 0), a usage error one line (exit 2), anything else is
    the options."""
    assert command_line(["--json", "old"], OPTIONS, "envbuild x", lambda: "usage\n", ("old",)) == {"json": True,
                                                                                                     "old": "old"}
    assert command_line(["--bogus", "-h"], OPTIONS, "envbuild x", lambda: "usage\n") == 0
    assert capsys.readouterr().out == "usage\n"
    assert command_line(["--bogus"], OPTIONS, "envbuild x", lambda: "usage\n") == 2
    assert capsys.readouterr().err == "envbuild x: error: no such option: --bogus (see envbuild x --help)\n"
