"""Reading TOML documents at the edge: typed getters that carry the key path into every error."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envbuild.errors import ConfigError, EnvbuildError, key_path

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def unprintable(text: str) -> str | None:
    """What keeps TEXT from being one line of characters that print as themselves, described (the first such
    character: a control character, a line or paragraph separator, an invisible format character, a space other
    than U+0020), or None.  Every string that can reach a generated line-oriented file (requirements, apt sources,
    a Dockerfile, a shell script) is held to this at the edge, whatever the grammar of its slot adds."""
    if text.isprintable():  # one C call: nearly every string
        return None
    import unicodedata

    kinds = {"Cc": "a control character", "Zl": "a line separator", "Zp": "a paragraph separator",
             "Cf": "an invisible format character", "Zs": "a space other than U+0020"}
    for index, char in enumerate(text):
        if not char.isprintable():
            kind = kinds.get(unicodedata.category(char), "a character that does not print")
            return f"holds {kind} (U+{ord(char):04X}) at {index}: one line of printable characters only"
    return None  # pragma: no cover - isprintable said there is one


class UnsafeValue(EnvbuildError):
    """A value that would not stay one word, or one line, of a generated file (a hand-edited lock, a value that an
    edge let through): the writers refuse it rather than write it."""


def escaped(text: str) -> str:
    """TEXT for a message of one line: each character that does not print, as Python escapes it (\\n, \\x1b)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_word(value: str, where: str) -> str:
    """VALUE, where it lands as one word of a generated line (a URL, a name, a version, a hash); else UnsafeValue.
    WHERE may hold untrusted text (a package's name): it is said escaped."""
    if not value or not value.isprintable() or " " in value:
        raise UnsafeValue(f"{escaped(where)}: {value!r} is not one word of printable characters; not written")
    return value


def one_line(value: str, where: str) -> str:
    """VALUE, where it lands as (part of) one line of a generated file; else UnsafeValue."""
    if not value.isprintable():
        raise UnsafeValue(f"{escaped(where)}: {unprintable(value)}; not written")
    return value


def shown(path: Path) -> str:
    """A path as the user would recognise it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Table:
    """One TOML table under validation.

    ``Table("envbuild.toml", "python", raw).string("index-url")`` returns the value or raises
    ``ConfigError("envbuild.toml", "[python] -> index-url", ...)``; ``done()`` rejects unknown keys.
    """

    def __init__(self, shown: str, name: str, raw: object, keys: Sequence[str | int] = ()) -> None:
        self.shown = shown
        self.name = name
        self.keys = keys  # never changed: a child's are a new list (a lock builds 2,000 tables)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.error([], "must be a table")
        self.raw: dict[str, Any] = raw
        self.seen: set[str] = set()

    def error(self, keys: Sequence[str | int], problem: str) -> ConfigError:
        return ConfigError(self.shown, key_path(self.name, [*self.keys, *keys]), problem)

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.raw.get(key)

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if required or self.raw.get(key) is not None:
            return self.required(key)
        self.seen.add(key)
        return default

    def required(self, key: str) -> str:
        """A non-empty string, stripped; ``string`` checks its values here too.  ``get`` is inline: a lock of 1,000
        packages asks 30,000 times."""
        self.seen.add(key)
        value = self.raw.get(key)
        stripped = value.strip() if isinstance(value, str) else ""
        if not stripped:
            raise self.error([key], "is required" if value is None else f"must be a non-empty string, not {value!r}")
        if not stripped.isprintable():
            raise self.error([key], unprintable(stripped) or "")
        return stripped

    def word(self, key: str) -> str | None:
        """``string``, for a value that lands as one word of a line (a URL, a name, a version, a hash): no space."""
        value = self.string(key)
        if value is not None and " " in value:
            raise self.error([key], f"{value!r} holds a space: one word only (a URL, a name, a version)")
        return value

    def required_word(self, key: str) -> str:
        """``word``, required."""
        value = self.required(key)
        if " " in value:
            raise self.error([key], f"{value!r} holds a space: one word only (a URL, a name, a version)")
        return value

    def words(self, key: str) -> tuple[str, ...]:
        """``strings``, each one word (see ``word``)."""
        out = self.strings(key)
        for i, item in enumerate(out):
            if " " in item:
                raise self.error([key, i], f"{item!r} holds a space: one word only (a URL, a name, a version)")
        return out

    def lines(self, key: str) -> str | None:
        """A text of several lines (an armored OpenPGP key), each of printable characters, or None when absent."""
        self.seen.add(key)
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error([key], f"must be a non-empty string, not {value!r}")
        for number, line in enumerate(value.strip().split("\n"), 1):
            if not line.isprintable():
                raise self.error([key], f"line {number} {unprintable(line)}")
        return value.strip()

    def integer(self, key: str) -> int:
        value = self.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error([key], f"must be an integer, not {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        """true or false; absent is false."""
        value = self.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.error([key], f"must be true or false, not {value!r}")
        return bool(value)

    def variables(self) -> tuple[tuple[str, str], ...]:
        """This table as environment variables, NAME = "value", sorted; a value is one line of printable
        characters (it becomes a line of a shell script or an ENV of a Dockerfile)."""
        out = []
        for key in sorted(self.raw):
            self.seen.add(key)
            value = self.raw[key]
            if not _ENV_NAME.fullmatch(key):
                raise self.error([key], "is not a valid environment variable name")
            if not isinstance(value, str):
                raise self.error([key], f"must be a string (quote it: {key} = \"{value}\")")
            if not value.isprintable():
                raise self.error([key], unprintable(value) or "")
            out.append((key, value))
        return tuple(out)

    def strings(self, key: str) -> tuple[str, ...]:
        self.seen.add(key)
        value = self.raw.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error([key], f"must be a list of strings, not {type(value).__name__}")
        out = tuple([item.strip() if isinstance(item, str) else "" for item in value])  # a list: faster
        if "" in out:
            i = out.index("")
            raise self.error([key, i], f"must be a non-empty string, not {value[i]!r}")
        for i, item in enumerate(out):
            if not item.isprintable():
                raise self.error([key, i], unprintable(item) or "")
        return out

    def names(self) -> list[str]:
        """This table's keys (a table of names: sources, build-dependencies), each one line of printable characters."""
        for key in self.raw:
            if not isinstance(key, str) or not key.strip() or not key.isprintable():
                raise self.error([key], unprintable(key) or "must be a non-empty name")
        return sorted(self.raw)

    def table(self, key: str) -> Table:
        if not self.name and not self.keys:  # a top-level table is named as TOML heads it: [python]
            return Table(self.shown, key, self.get(key))
        return Table(self.shown, self.name, self.get(key), [*self.keys, key])

    def tables(self, key: str) -> list[Table]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error([key], "must be an array of tables")
        return [Table(self.shown, self.name, item, [*self.keys, key, i]) for i, item in enumerate(value)]

    def only(self, *known: str) -> None:
        """Reject unknown keys up front, so that a typo is named before anything that depends on it."""
        for key in sorted(set(self.raw) - set(known)):
            raise self.error([key], f"unknown key (known: {', '.join(known)})")

    def done(self) -> None:
        if self.seen.issuperset(self.raw):
            return
        for key in sorted(set(self.raw) - self.seen):
            raise self.error([key], "unknown key")
