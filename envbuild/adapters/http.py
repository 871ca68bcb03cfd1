"""One HTTP client for every server envbuild talks to (apt mirrors, OCI registries).

requests honours ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` (a corporate proxy's CA) and ``*_proxy``;
5xx answers and dropped connections are retried with backoff.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from envbuild.about import __version__
from envbuild.cachedir import cache_root

if TYPE_CHECKING:
    import requests

TIMEOUT = (10, 60)  # connect, read


@cache
def session() -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    s = requests.Session()
    retry = Retry(total=4, connect=3, read=3, status=4, backoff_factor=0.3,
                  status_forcelist=(500, 502, 503, 504), allowed_methods=("GET", "HEAD"),
                  raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = f"envbuild/{__version__}"
    ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if ca:
        s.verify = ca
    return s


def cache_dir(*parts: str) -> Path:
    """Where downloads are cached: $ENVBUILD_CACHE_DIR, else $XDG_CACHE_HOME/envbuild, else ~/.cache/envbuild."""
    path = Path(cache_root()).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def reason(exc: Exception) -> str:
    """The one line worth showing of a requests/urllib3 failure (their messages nest several levels deep)."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__


def write_cache(path: Path, data: bytes) -> None:
    """Replace a cache file atomically (a concurrent reader sees the old file or the new one)."""
    from envbuild import atomic

    atomic.write(path, data, unchanged=False)
