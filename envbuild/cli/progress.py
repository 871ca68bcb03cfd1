"""Progress for long steps: a rich spinner on a terminal, nothing in CI or a pipe."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    if not interactive():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
