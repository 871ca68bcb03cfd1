"""The check core is the bottom of envbuild: it runs before every job and inside images, on Python 3.9, so it
imports nothing above it (tests/test_layers.py); the lock reader it is handed (envbuild.lockview) is envbuild's one.
Its modules and the reader's are what the image's checker carries, found from their imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import envbuild
from envbuild.render.checker import core_modules

PACKAGE = Path(envbuild.__file__).parent
BASE = {"__init__.py", "errors.py", "options.py", "compat.py", "validate.py", "versions.py", "cachedir.py",
        "platforms.py", "cache.py", "atomic.py", "paths.py", "pysources.py", "about.py", "layerplan.py"}

BLOCKER = """
import importlib.abc, sys
ALLOWED = set({allowed!r})
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top == "envbuild" and name not in ALLOWED:
            raise ImportError(f"the check core imported {{name}}, which is outside it")
        if top in ("click", "rich", "requests", "docker", "jinja2", "tomlkit", "debian", "pysequoia", "rattler"):
            raise ImportError(f"the check core imported {{name}}")
        return None
sys.meta_path.insert(0, Blocked())
"""


def _names(files: list[str]) -> set[str]:
    out = set()
    for file in files:
        if not file.endswith(".py"):
            continue
        parts = ["envbuild", *file[:-3].split("/")]
        out.add(".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts))
    return out


def test_the_core_is_the_check_and_the_base_and_the_lock_reader() -> None:
    files = core_modules(PACKAGE)
    assert {"check/cli.py", "lockview.py", "lockfile/read.py"} <= set(files)
    reader = {"lockview.py"}
    outside = {f for f in files if not f.startswith(("check/", "data/", "lockfile/")) and f not in BASE | reader}
    assert outside == set(), f"the check core reaches above itself: {sorted(outside)}"
    assert not any(f.startswith(("adapters/", "resolve/", "render/", "commands/", "cli/", "export/")) for f in files)


def test_the_core_imports_and_checks_with_everything_else_blocked(tmp_path: Path) -> None:
    """In a fresh interpreter where every envbuild module outside the core, and every heavy library, refuses to
    import: each core module imports, and a whole check runs (its --json report)."""
    allowed = sorted(_names(core_modules(PACKAGE)))
    lock = tmp_path / "envbuild.lock"
    lock.write_text('version = 1\nspec-hash = "sha256:x"\nname = "t"\n\n[target]\nplatform = "linux/amd64"\n\n'
                    '[python]\nrequested = "3"\nresolver = "uv"\nindex-url = "x"\nextra-index-urls = []\n'
                    'packages = []\n\n[check]\nignore-extra = []\n')
    code = BLOCKER.format(allowed=allowed) + (
        "import importlib\n"
        f"for name in {allowed!r}:\n"
        "    importlib.import_module(name)\n"
        "from envbuild import lockview\n"
        "from envbuild.check.cli import main\n"
        f"sys.exit(main(['-l', {str(lock)!r}, '--python', sys.executable, '--json', '--platform', 'linux/amd64'],"
        " read_lock=lockview.read))\n")
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False,
                          cwd=tmp_path, env={"PYTHONPATH": str(PACKAGE.parent), "PATH": "/usr/bin:/bin",
                                             "ENVBUILD_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["schema"] == 1
    blocked = subprocess.run([sys.executable, "-I", "-c", BLOCKER.format(allowed=allowed) + "import envbuild.resolve"],
                             capture_output=True, text=True, check=False, env={"PYTHONPATH": str(PACKAGE.parent)})
    assert "outside it" in blocked.stderr, "the blocker blocks"


def test_the_core_runs_one_process_in_one_place() -> None:
    """The check core's only process is asking another interpreter what it sees (check/query.py): no other module
    of it imports subprocess or calls os.system/popen/exec*/spawn*/fork."""
    import ast

    runners = {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"}
    found = set()
    for path in sorted((PACKAGE / "check").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("subprocess", "multiprocessing", "pty") for n in names):
                found.add(path.name)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" and (
                    node.attr in runners or node.attr.startswith(("exec", "spawn"))):
                found.add(path.name)
    assert found == {"query.py"}
