"""Start the stdlib probe under another interpreter (``envbuild check --python``), as early as possible.

This adapter imports only ``os`` and ``subprocess``, so the console script can start the probe before it loads
anything else: the probe then runs while envbuild reads the lock and loads the comparison.  The probe is
imported as a module (``-c "import probe"``), so its cached bytecode is used instead of compiling the file."""

from __future__ import annotations

import os
import subprocess

PROBE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "check")


def start_probe(python: str, lock_path: str, *, deep: bool = False) -> tuple[list[str], subprocess.Popen[str]]:
    """Start the probe under PYTHON; it reads what it must collect from LOCK_PATH.  (argv, process)."""
    code = f"import sys; sys.path.insert(0, {PROBE_DIR!r}); import probe; sys.exit(probe.main())"
    argv = [python, "-I", "-c", code, "--lock", lock_path, *(["--deep"] if deep else [])]
    try:
        return argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        from envbuild.errors import ToolMissing

        raise ToolMissing(python, f"give --python the path of a Python interpreter ({exc.strerror})") from None
