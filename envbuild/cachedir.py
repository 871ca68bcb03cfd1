"""Where envbuild keeps its caches: ``$ENVBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/envbuild``, else
``~/.cache/envbuild``.  Standard library only (``os``): the drift check reads it on its fast path."""

import os


def cache_root() -> str:
    base = os.environ.get("ENVBUILD_CACHE_DIR")
    if base:
        return base
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "envbuild")
