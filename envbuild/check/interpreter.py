"""Another interpreter's view of itself: its version and the directories on its path (``--python``, a venv).

The interpreter is asked once (``python -I -c ...``: what it sees at start-up, without the user's PYTHONPATH or
user site) and the answer is cached, keyed by the interpreter's binary and its venv's ``pyvenv.cfg``, as uv caches
its interpreter queries.  The directories ``.pth`` files add are not cached: the probe reads them each time, so an
editable install made after the query is still seen.
"""

import os

from envbuild.check import cache
from envbuild.errors import EnvbuildError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

_QUERY = """\
import json, os, site, sys
sites = [os.path.abspath(p) for p in site.getsitepackages() if os.path.isdir(p)]
path = [os.path.abspath(p) for p in sys.path if p]
first = min([path.index(s) for s in sites if s in path] or [len(path)])
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "implementation": sys.implementation.name,
                  "executable": sys.executable, "prefix": sys.prefix, "base": path[:first],
                  "sites": [s for s in path if s in sites]}))
"""


def describe(executable: str) -> "dict[str, Any]":
    """``{version, implementation, executable, prefix, base, sites}``: BASE is the path before the site
    directories, SITES the site directories in path order."""
    key = _fingerprint(executable)
    name = f"python-{cache.slug(executable)}"
    cached = cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == key:
        info: dict[str, Any] = cached[1]
        return info
    info = _ask(executable)
    cache.write(name, (key, info))
    return info


def _fingerprint(executable: str) -> "tuple[Any, ...]":
    """What changes when the answer may change: the binary (an upgrade) and pyvenv.cfg (a recreated venv)."""
    try:
        binary = os.stat(executable)
    except OSError as exc:
        raise EnvbuildError(f"{executable}: not a Python interpreter ({exc.strerror})") from None
    parts: list[Any] = [executable, binary.st_dev, binary.st_ino, binary.st_size, binary.st_mtime_ns]
    try:
        config = os.stat(os.path.join(os.path.dirname(os.path.dirname(executable)), "pyvenv.cfg"))
        parts += [config.st_ino, config.st_size, config.st_mtime_ns]
    except OSError:
        parts.append(None)
    return tuple(parts)


def _ask(executable: str) -> "dict[str, Any]":
    import json
    import subprocess

    try:
        done = subprocess.run([executable, "-I", "-c", _QUERY], capture_output=True, text=True, timeout=120,
                              check=False)
    except OSError as exc:
        raise EnvbuildError(f"{executable}: cannot run it ({exc.strerror}); give the path of a Python "
                            "interpreter") from None
    except subprocess.TimeoutExpired:
        raise EnvbuildError(f"{executable}: did not answer within 120 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvbuildError(f"{executable}: not a Python 3 interpreter that envbuild can ask ({last})")
    try:
        info: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise EnvbuildError(f"{executable}: printed no answer to envbuild's question") from None
    return info
