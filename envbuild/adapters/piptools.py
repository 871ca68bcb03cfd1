"""pip-tools: the alternative Python resolver (``pip-compile --generate-hashes``).

pip-compile resolves for the interpreter and platform it runs on, so it can only lock a target that is the
host; ``envbuild.resolve.python`` refuses other targets before calling it.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from envbuild.adapters import process
from envbuild.errors import ResolutionError
from envbuild.lockfile import PythonPackage

if TYPE_CHECKING:
    from envbuild.adapters.resolver import CompileRequest

NAME = "pip-tools"
_KEEP = (r"PIP_CERT", r"PIP_CLIENT_CERT", r"PIP_DEFAULT_TIMEOUT", r"PIP_TIMEOUT", r"PIP_RETRIES", r"PIP_CACHE_DIR",
         r"PIP_NO_CACHE_DIR", r"PIP_DISABLE_PIP_VERSION_CHECK", r"PIP_TRUSTED_HOST", r"PIP_PROXY")


def compile(request: CompileRequest) -> list[PythonPackage]:
    with tempfile.TemporaryDirectory(prefix="envbuild-piptools-") as tmp:
        work = Path(tmp)
        (work / "requirements.in").write_text("".join(f"{r}\n" for r in request.requirements), encoding="utf-8")
        if request.preferences:
            (work / "requirements.txt").write_text(
                "".join(f"{p.name}=={p.version}\n" for p in request.preferences), encoding="utf-8")
        argv = [sys.executable, "-m", "piptools", "compile", "requirements.in", "--output-file",
                "requirements.txt", "--generate-hashes", "--no-header", "--no-annotate", "--strip-extras",
                "--quiet", "--no-config"]
        if request.upgrade:
            argv.append("--upgrade")
        for name in request.upgrade_packages:
            argv += ["--upgrade-package", name]
        # the indexes go in the environment, never the argv: their URLs may hold credentials, and a process's
        # command line is anyone's to read on a shared node (/proc/PID/cmdline), its environment its owner's
        indexes = {"PIP_INDEX_URL": request.index_url, **({"PIP_EXTRA_INDEX_URL": " ".join(request.extra_index_urls)}
                                                          if request.extra_index_urls else {})}
        env = process.scrubbed_env(["PIP_"], keep=_KEEP, extra={"PIP_CONFIG_FILE": os.devnull, **indexes})
        done = process.run(argv, env=env, cwd=work)
        if done.returncode != 0:
            raise ResolutionError(NAME, trim_error(done.stderr or done.stdout))
        return parse_requirements((work / "requirements.txt").read_text(encoding="utf-8"))


def trim_error(output: str) -> str:
    """pip's own words: the ERROR lines (and what a conflict explanation adds), on one line, no URL's credentials."""
    from envbuild.lockfile import strip_credentials_in

    lines = [line.strip() for line in strip_credentials_in(output).splitlines() if line.strip()]
    keep = [line for line in lines if line.startswith(("ERROR:", "The conflict is caused by", "Could not find"))]
    picked = keep or lines[-3:]
    text = " ".join(line.removeprefix("ERROR:").strip() for line in picked)
    return text[:600] or "pip-compile failed and printed nothing"


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def parse_requirements(text: str) -> list[PythonPackage]:
    """``name==version --hash=sha256:...`` entries of a pip-compile output."""
    out = []
    for raw in re.split(r"\n(?=\S)", text.replace("\\\n", " ")):
        block = raw.strip()
        if not block or block.startswith(("#", "-")):
            continue
        match = _PIN.match(block)
        if not match:
            raise ResolutionError(NAME, f"cannot read pip-compile's output line {block[:120]!r}")
        hashes = tuple(sorted(f"sha256:{h}" for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
        out.append(PythonPackage(name=canonicalize_name(match.group(1)), version=match.group(2), hashes=hashes))
    return sorted(out, key=lambda p: p.name)
