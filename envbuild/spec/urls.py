"""URLs in the spec (indexes, mirrors, channels): credentials only as ``${VAR}`` placeholders, expanded from the
environment when a resolver or installer needs them, never written to the lock."""

from __future__ import annotations

import os
import re
from typing import Any

from envbuild.errors import EnvbuildError

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_url(url: str, error: Any) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
        raise error(f"{url!r} is not an http(s) or file URL")
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo and not all(_VAR_RE.fullmatch(part) for part in userinfo.split(":")):
        raise error("holds credentials: they would be committed with the spec; write ${VARIABLE} placeholders "
                    "(expanded from the environment when locking) or use ~/.netrc")


def placeholders(url: str) -> list[str]:
    """The names of the ``${VAR}`` placeholders in URL."""
    return _VAR_RE.findall(url)


def expand_url(url: str, where: str) -> str:
    """Replace ``${VAR}`` placeholders from the environment.  Only resolvers see the result, never the lock."""

    def sub(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise EnvbuildError(f"{where}: ${{{match.group(1)}}} is not set in the environment")
        return value

    return _VAR_RE.sub(sub, url)
