"""uv's error output in a line: its ``error:`` and ``cause:`` chain, or for an sdist whose build failed the package,
the failing step and the last line of the build's output (``trim_error``), for every command that runs uv."""

from __future__ import annotations

import re

from envbuild.lockfile import strip_credentials_in

_BUILD_FAILED = re.compile(r"Failed to (?:download and )?build `([^`]+)`")
_STEP = re.compile(r"Call to `([^`]+)` failed")
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_DECLARED = re.compile(r"depends on `([^`]+)`, but doesn't declare it as a build dependency")


def trim_error(stderr: str) -> str:
    """uv's ``error:`` line and its ``cause:`` chain, in uv's own words, on one line; for an sdist whose build
    failed: the package, the failing step and the last line of its output, with a hint for the known case.  No URL
    in it keeps its credentials (uv quotes the URLs it fetched)."""
    stderr = strip_credentials_in(stderr)
    build = _build_failure(stderr)
    if build is not None:
        return build
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    parts: list[str] = []
    for line in lines:
        if line.startswith("error:"):
            parts.append(line[len("error:"):].strip())
        elif line.startswith("cause:"):
            parts.append(line[len("cause:"):].strip())
        elif line.startswith(("warning:", "hint:")):
            continue
        elif parts:
            parts[-1] += " " + line
    if not parts:
        return " ".join(lines[-3:]) or "uv failed and printed nothing"
    if len(parts) > 4:  # a long transport chain: the headline and the innermost causes say it all
        parts = [parts[0], parts[1], *parts[-2:]]
    return ": ".join(p.rstrip(".:") for p in parts) + "."


def _build_failure(stderr: str) -> str | None:
    failed = _BUILD_FAILED.search(stderr)
    if failed is None:
        return None
    package = failed.group(1)
    step = _STEP.search(stderr)
    output = []  # the build's own output: the indented lines after uv's "[stderr]" or "[stdout]"
    inside = False
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped in ("[stderr]", "[stdout]"):
            inside = True
        elif inside and (not line.startswith(" ") or stripped.startswith(("hint:", "error:"))):
            inside = False
        elif inside and stripped:
            output.append(stripped)
    last = output[-1] if output else "(it printed nothing)"
    message = f"{package}: building the sdist failed"
    if step:
        message += f" in {step.group(1)}"
    message += f": {last}"
    missing = _NO_MODULE.search(stderr)
    if missing:
        needed = _DECLARED.search(stderr)
        dist = needed.group(1) if needed else missing.group(1).split(".", 1)[0]
        name = package.split("==", 1)[0].split("@", 1)[0]
        message += (f". Hint: {name} imports {missing.group(1)} while it builds, without declaring it (as flash-attn "
                    f'and deepspeed import torch); declare it: [python] build-dependencies = {{{name} = ["{dist}"]}}')
    return message + " (envbuild lock -v shows uv's whole output)"
