"""What another interpreter sees: the one process the check core runs (the core's own adapter to it; the core
runs alone inside images, where envbuild's adapters are not, so this stays in the core, and nowhere else in it).

Another interpreter (``--python``, a venv) is asked once what it sees at start-up (``python -I -c ...``: its
version and the directories on its path, without the user's PYTHONPATH or user site), and the answer is cached,
keyed by the interpreter's binary, its venv's ``pyvenv.cfg`` and the ``.pth`` files of its site directories, as
uv caches its interpreter queries: what the check reads is the path that Python itself builds, so an editable
install made after the query (a new ``.pth``) is seen, and a hidden ``.pth`` counts where that Python reads it.
"""

import os

import envbuild.cache
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
                  "sites": [s for s in path if s in sites], "path": path}))
"""


def describe(executable: str) -> "dict[str, Any]":
    """``{version, implementation, executable, prefix, base, sites, path}``: BASE is the path before the site
    directories, SITES the site directories in path order, PATH the whole of it as the interpreter builds it at
    start-up (with what its ``.pth`` files add, by that Python's own rules: hidden ones from 3.13 on, ``import``
    lines run).  The answer is kept until the binary, its ``pyvenv.cfg`` or a ``.pth`` file of its site
    directories changes (one is added, removed or edited)."""
    key = _fingerprint(executable)
    name = f"python-{envbuild.cache.slug(executable)}"
    cached = envbuild.cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 3 and cached[0] == key and isinstance(cached[2], dict) \
            and cached[1] == _pth_files(cached[2].get("sites") or []):
        info: dict[str, Any] = cached[2]
        return info
    info = _ask(executable)
    envbuild.cache.write(name, (key, _pth_files(info["sites"]), info))
    return info


def _pth_files(sites: "list[str]") -> "tuple[Any, ...]":
    """Every ``.pth`` file of the site directories SITES (hidden ones too), with what changes when it does."""
    out: list[tuple[str, str | None, int, int, int]] = []
    for directory in sites:
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.endswith(".pth"):
                        stat = entry.stat()
                        out.append((directory, entry.name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            out.append((directory, None, 0, 0, 0))
    return tuple(sorted(out, key=lambda row: (row[0], row[1] or "")))


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
