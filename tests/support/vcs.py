"""A git repository served over HTTP on 127.0.0.1 (git's "dumb" protocol: static files), as GitHub serves one."""

from __future__ import annotations

import http.server
import subprocess
from functools import partial
from pathlib import Path

from tests.support.pypi import backend_source
from tests.support.server import LoopbackServer


def _git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


class GitServer(LoopbackServer):
    """``with GitServer(root) as g: g.publish("pkg", "0.3")`` serves ``http://127.0.0.1:PORT/pkg.git`` with tag
    ``v0.3``, a package whose build needs nothing from an index."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

        self.serve(partial(Handler, directory=str(root)))  # type: ignore[arg-type]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def publish(self, name: str, version: str) -> str:
        """A repository for NAME at VERSION (tag vVERSION); its commit id."""
        work = self.root / f"{name}-work"
        work.mkdir()
        (work / "pyproject.toml").write_text(f'[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                             f'backend-path = ["."]\n\n[project]\nname = "{name}"\n'
                                             f'version = "{version}"\n')
        (work / "backend.py").write_text(backend_source(name, version))
        _git("init", "-q", cwd=work)
        _git("add", "-A", cwd=work)
        _git("commit", "-qm", "init", cwd=work)
        _git("tag", f"v{version}", cwd=work)
        commit = _git("rev-parse", "HEAD", cwd=work)
        _git("clone", "-q", "--bare", str(work), str(self.root / f"{name}.git"), cwd=self.root)
        _git("update-server-info", cwd=self.root / f"{name}.git")
        return commit
