"""Reading TOML documents at the edge: typed getters that carry the key path into every error."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envbuild.errors import ConfigError, key_path

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
        return stripped

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

    def variables(self, forbidden: str = "\n\0") -> tuple[tuple[str, str], ...]:
        """This table as environment variables, NAME = "value", sorted; a value may not hold FORBIDDEN."""
        out = []
        for key in sorted(self.raw):
            self.seen.add(key)
            value = self.raw[key]
            if not _ENV_NAME.fullmatch(key):
                raise self.error([key], "is not a valid environment variable name")
            if not isinstance(value, str):
                raise self.error([key], f"must be a string (quote it: {key} = \"{value}\")")
            if any(c in value for c in forbidden):
                raise self.error([key], "must not contain a newline or NUL")
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
        return out

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
