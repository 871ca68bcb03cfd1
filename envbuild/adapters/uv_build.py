"""Building sdists into an environment, as images build them (``envbuild sync``): against the environment itself
(``no-build-isolation``, an isolated build, a git checkout), or with the locked build group alone, in a throwaway
venv of the same interpreter.  Beside ``uv`` (whose binary, environment and errors it shares)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from envbuild.adapters import process
from envbuild.adapters.uv import binary, index_env, uv_env
from envbuild.adapters.uv_errors import trim_error
from envbuild.errors import SyncError


def build_in_environment(python: Path, requirements_text: str, index_url: str, extra_index_urls: Sequence[str], *,
                         env: dict[str, str], hashed: bool = True, isolated: bool = False) -> None:
    """Build and install the sdists (or VCS checkouts, not HASHED) of REQUIREMENTS_TEXT for PYTHON after the rest:
    not ISOLATED, against its environment (they see its locked packages); with ENV ([python] build-env) set."""
    with tempfile.TemporaryDirectory(prefix="envbuild-sync-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements_text, encoding="utf-8")
        argv = [binary(), "pip", "install", "-r", str(req), "--python", str(python), "--no-deps",
                "--no-config", "--color", "never", "--quiet",
                *(["--require-hashes"] if hashed else []), *([] if isolated else ["--no-build-isolation"])]
        done = process.run(argv, env={**uv_env(), **env, **index_env(index_url, extra_index_urls),
                                      "VIRTUAL_ENV": os.fspath(python.parent.parent)})
    if done.returncode != 0:
        raise SyncError(f"building {', '.join(_names(requirements_text))} against the environment failed: "
                        f"{trim_error(done.stderr)}")


def build_with_group(python: Path, requirements_text: str, group_text: str, index_url: str,
                     extra_index_urls: Sequence[str], *, env: dict[str, str], hashed: bool = True) -> None:
    """Build the sdists of REQUIREMENTS_TEXT with the locked build group (GROUP_TEXT) alone, as images do: in a
    throwaway venv of the same interpreter (pip from its ensurepip), without isolation, then install the wheels into
    the environment of PYTHON; the group never reaches it."""
    with tempfile.TemporaryDirectory(prefix="envbuild-build-") as tmp:
        work = Path(tmp)
        (work / "group.txt").write_text(group_text, encoding="utf-8")
        (work / "sdists.txt").write_text(requirements_text, encoding="utf-8")
        build = work / "venv"
        made = process.run([str(python), "-m", "venv", str(build)])
        if made.returncode != 0:
            raise SyncError(f"could not make the build group's venv with {python} (its ensurepip): "
                            f"{made.stderr.strip()[-300:]}")
        indexes = index_env(index_url, extra_index_urls)
        done = process.run([binary(), "pip", "install", "-r", str(work / "group.txt"), "--python",
                            str(build / "bin" / "python"), "--require-hashes", "--no-deps", "--no-config",
                            "--color", "never", "--quiet"], env={**uv_env(), **indexes})
        if done.returncode != 0:
            raise SyncError(f"installing the build group failed: {trim_error(done.stderr)}")
        ca = os.environ.get("SSL_CERT_FILE") or os.environ.get("PIP_CERT")
        done = process.run([str(build / "bin" / "python"), "-m", "pip", "wheel", "--disable-pip-version-check",
                            "--no-input", "--no-cache-dir", "--no-deps", "--no-build-isolation",
                            *(["--require-hashes"] if hashed else []), "-w", str(work / "wheels"),
                            "-r", str(work / "sdists.txt")],
                           env=process.scrubbed_env(["PIP_"], keep=["PIP_CERT"],
                                                    extra={**env, **({"PIP_CERT": ca} if ca else {})}))
        if done.returncode != 0:
            raise SyncError(f"building {', '.join(_names(requirements_text))} with its build group failed: "
                            f"{trim_error(done.stderr or done.stdout)}")
        done = process.run([binary(), "pip", "install", "--python", str(python), "--no-deps", "--no-index",
                            "--no-config", "--color", "never", "--quiet",
                            *sorted(str(w) for w in (work / "wheels").glob("*.whl"))],
                           env={**uv_env(), "VIRTUAL_ENV": os.fspath(python.parent.parent)})
        if done.returncode != 0:
            raise SyncError(f"installing the built wheels failed: {trim_error(done.stderr)}")


def _names(requirements_text: str) -> list[str]:
    return [line.split("==", 1)[0].split(" @ ", 1)[0] for line in requirements_text.splitlines()
            if line and not line.startswith(("#", "-", " "))]
