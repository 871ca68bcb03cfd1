"""URLs in the spec (indexes, mirrors, channels): credentials only as ``${VAR}`` placeholders, expanded from the
environment when a resolver or installer needs them, never written to the lock."""

from __future__ import annotations

import os
import re
from typing import Any

from envbuild.errors import EnvbuildError

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_url(url: str, error: Any) -> None:
    """URL must be one word (it lands in requirements and apt source lines), http(s) or file, with credentials only
    as ``${VAR}`` placeholders."""
    from urllib.parse import urlsplit

    if not url.isprintable() or " " in url:
        raise error(f"{url!r} is not one URL (a space or a character that does not print)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
        raise error(f"{url!r} is not an http(s) or file URL")
    if literal_credentials(url):
        raise error("holds credentials: they would be committed with the spec; write ${VARIABLE} placeholders "
                    "(expanded from the environment when locking) or use ~/.netrc")


def literal_credentials(url: str) -> bool:
    """Does URL carry credentials of its own (a token alone, user:password), not ${VAR} placeholders?"""
    from urllib.parse import urlsplit

    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    return bool(userinfo) and not all(_VAR_RE.fullmatch(part) for part in userinfo.split(":"))


def placeholders(url: str) -> list[str]:
    """The names of the ``${VAR}`` placeholders in URL."""
    return _VAR_RE.findall(url)


def expand_url(url: str, where: str) -> str:
    """Replace ``${VAR}`` placeholders from the environment.  Only resolvers see the result, never the lock."""

    def sub(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise EnvbuildError(f"{where}: ${{{match.group(1)}}} is not set in the environment")
        if not value.isprintable() or " " in value:  # the value itself is never said: it is a secret
            raise EnvbuildError(f"{where}: ${{{match.group(1)}}} holds a space or a line break, which would make "
                                "the URL more than one word of a requirements file; percent-encode it")
        return value

    return _VAR_RE.sub(sub, url)
