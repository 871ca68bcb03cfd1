"""What a failed build says: the failing step and the end of its output, read from BuildKit's plain progress."""

from __future__ import annotations

from envbuild.adapters.engine import BuildLog

DOCKER_20_10 = """\
#4 [builder 1/5] FROM docker.io/envbuild-ci/debian:bookworm
#4 CACHED

#5 [builder 2/5] RUN apt-get update
#5 0.301 Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
#5 DONE 1.2s

#6 [builder 3/5] RUN python3.11 -m venv /opt/venv
#6 sha256:2d2fbfccb853984e446832bd6fb118b5b27c7f786e151d40a2b443f0d02ae742
#6 0.059 /bin/sh: 1: python3.11: not found
#6 ERROR: executor failed running [/bin/sh -c python3.11 -m venv /opt/venv]: exit code: 127
------
 > [builder 3/5] RUN python3.11 -m venv /opt/venv:
------
executor failed running [/bin/sh -c python3.11 -m venv /opt/venv]: exit code: 127
"""

BUILDX = """\
#7 [runtime 4/6] RUN pip install torch
#7 0.512 Collecting torch
""" + "".join(f"#7 {1 + i / 10:.3f} line {i}\n" for i in range(30)) + """\
#7 9.100 ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.
#7 ERROR: process "/bin/sh -c pip install torch" did not complete successfully: exit code: 1
------
ERROR: failed to solve: process "/bin/sh -c pip install torch" did not complete successfully: exit code: 1
"""


def failure(text: str) -> str:
    log = BuildLog()
    for line in text.splitlines():
        log.add(line)
    return log.failure()


def test_the_failing_step_and_its_output_instead_of_executor_failed_running() -> None:
    assert failure(DOCKER_20_10) == (" at [builder 3/5] RUN python3.11 -m venv /opt/venv (exit code 127); its output "
                                     "ended with:\n  /bin/sh: 1: python3.11: not found")


def test_only_the_last_lines_of_a_long_step() -> None:
    said = failure(BUILDX).splitlines()
    assert said[0] == " at [runtime 4/6] RUN pip install torch (exit code 1); its output ended with:"
    assert said[1:] == [f"  line {i}" for i in range(19, 30)] + [
        "  ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE."]


def test_a_failure_before_any_step_shows_the_log_s_end() -> None:
    assert failure("ERROR: failed to read dockerfile: open Dockerfile: no such file\n") == (
        ": its output ended with:\n  ERROR: failed to read dockerfile: open Dockerfile: no such file")
    assert failure("") == ": no output"
