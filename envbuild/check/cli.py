"""``envbuild check`` (and ``envbuild-check`` inside images): the drift check's command line over its one path.

    parse the options -> evaluate (locate.target: which environment; expect.load: what the lock says, cached;
      facts: probe.probe here, or in a container for --image; compare.compare; the report) -> print -> exit code

The options are declared once, in ``OPTIONS``, and parsed here for every way in: the console script hands
``check ARGS`` to ``main`` before it loads click, the click group's ``check`` command forwards its arguments to
``main``, and ``envbuild-check`` in an image calls ``main(in_image=True)``.  The check runs before every job on
every node, and importing click alone takes longer than a whole clean check; hence the small parser of
``envbuild.options`` for a handful of options, with click kept for the other commands.

``main`` is where the check's errors become exit codes: 0 no drift, 1 drift, 2 could not check (one line on
stderr, never a traceback).
"""

import os
import sys

from envbuild.errors import EnvbuildError
from envbuild.options import answer, command_line, listing
from envbuild.paths import IMAGE_LOCK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

    from envbuild.check.evaluate import ProbeImage
    from envbuild.check.expect import ReadLock
    from envbuild.options import Option


# flags, destination, metavar (None: a flag without a value), help, where it exists ("" both, "host", "image")
OPTIONS: "tuple[tuple[tuple[str, ...], str, str | None, str, str], ...]" = (
    (("-l", "--lock"), "lock", "LOCK", "The lock to check against. [default: ./envbuild.lock]", "host"),
    (("-l", "--lock"), "lock", "LOCK", f"The lock to check against. [default: $ENVBUILD_LOCK, else {IMAGE_LOCK}]",
     "image"),
    (("--json",), "json", None, "Print the report as JSON (schema 1) instead of text.", ""),
    (("--junit",), "junit", "FILE", "Also write a JUnit XML file: one testcase per checked item, for CI.", ""),
    (("--fingerprint",), "fingerprint", "FILE", "Also write envbuild record's fingerprint of what was checked (JSON) "
                                                "to FILE: a pipeline step's output, a job's record.", ""),
    (("--deep",), "deep", None, "Also hash every installed Python file against its RECORD.", ""),
    (("--strict",), "strict", None, "Also report apt packages that neither the lock nor its base image has.", "host"),
    (("--no-strict",), "no_strict", None, "Do not report apt packages that neither the lock nor its base image has "
                                          "(the image's check is strict by default).", "image"),
    (("--python",), "python", "PATH", "Check the environment of this interpreter (a venv's bin/python, or the venv).",
     "host"),
    (("--root",), "root", "DIR", "Check a mounted root filesystem (dpkg, os-release, site-packages under it).", ""),
    (("--image",), "image", "REF", "Check an image: the probe runs in a container from it (no network, its user).",
     "host"),
    (("--prefix",), "prefix", "DIR", "Check this conda environment (and its Python). [default: $CONDA_PREFIX, else "
                                     "the lock's conda prefix]", "host"),
    (("--platform",), "platform", "PLATFORM", "The lock's platform to check against (for a lock of several). "
                                              "[default: this host's]", ""),
    (("--scope",), "scope", "SCOPE", "venv: what envbuild sync makes (interpreter, Python packages, their CUDA "
                                     "libraries, [env] in bin/activate); host: all the lock holds, apt packages and "
                                     "the OS too. [default: venv for a venv that envbuild sync made, else host]",
     "host"),
)

HELP = """\
Usage: {prog} [OPTIONS]

  Compare {what} with the lock: Python packages, the interpreter, apt packages, the
  OS, the NVIDIA driver and GPUs (does the installed torch have kernels for them?), CUDA libraries and
  environment variables.

  Exit 0 when nothing drifted, 1 when something did, 2 when the check could not run.
{more}
Options:
{options}
"""

HOST_MORE = """\
  Run it before a training job: in CI, a Slurm prolog or a Kubernetes init container.

  Without --python, --root or --image, it checks the environment you mean, in this order: the active virtual
  environment ($VIRTUAL_ENV), the .venv beside the lock (what envbuild sync makes), the python3 on PATH.  The
  report's first line says which.

  A venv that envbuild sync made is checked for what sync made (--scope venv): its interpreter, its Python
  packages, the CUDA libraries they bring and the driver those need, and the lock's [env] (sync puts it in
  bin/activate: a variable this shell lacks is a warning, one set otherwise is drift).  A laptop's apt packages
  and OS are its own, not the image's, so they are not held to the lock.  Everything else (a cluster node, an
  image, a venv sync did not make) is checked in full (--scope host); give --scope host to check this host as a
  node built from the lock.

  Examples:
    envbuild sync && envbuild check              a new developer's .venv (what sync made)
    envbuild check --scope host                  this node in full: apt packages, OS, [env] exported
    envbuild check --python /opt/venv/bin/python another interpreter's environment
    envbuild check --image trainer:3f2a --strict an image built from the lock
    envbuild check --json > $(hostname).json     for envbuild report, across a cluster
"""

IMAGE_MORE = """\
  This is the check that envbuild build put into the image; it checks the interpreter it runs under, strictly:
  an apt package that neither the lock nor the base image has is drift.

  Examples:
    docker run --rm IMAGE envbuild-check
    docker run --rm --gpus all IMAGE envbuild-check --json
"""


def main(argv: "list[str] | None" = None, *, read_lock: "ReadLock", in_image: bool = False,
         probe_image: "ProbeImage | None" = None) -> int:
    """Run the check with ARGV (default: sys.argv[1:]); returns the exit code.  READ_LOCK makes the check's view
    of a lock (``envbuild.lockview.read``); PROBE_IMAGE probes an image for --image."""
    prog = "envbuild-check" if in_image else "envbuild check"
    args = sys.argv[1:] if argv is None else argv
    options = command_line(args, _options(in_image), prog, lambda: usage(in_image))
    if isinstance(options, int):  # --help, or a usage error: answered
        return options
    return answer(lambda: run(options, read_lock=read_lock, in_image=in_image, probe_image=probe_image),
                  "envbuild-check" if in_image else "envbuild", prog)


def _options(in_image: bool) -> "list[Option]":
    where = "image" if in_image else "host"
    return [o[:4] for o in OPTIONS if o[4] in ("", where)]


def usage(in_image: bool = False) -> str:
    return HELP.format(prog="envbuild-check" if in_image else "envbuild check",
                       what="this image's environment" if in_image else "a Python environment and this host",
                       more=IMAGE_MORE if in_image else HOST_MORE, options=listing(_options(in_image)))


def run(options: "dict[str, Any]", *, read_lock: "ReadLock", in_image: bool = False,
        probe_image: "ProbeImage | None" = None) -> int:
    """The check itself: find, read, probe, compare, report.  Returns 0 (no drift) or 1 (drift)."""
    from envbuild.check import report
    from envbuild.check.evaluate import evaluate

    data, outcome = evaluate(options, read_lock=read_lock, in_image=in_image, probe_image=probe_image)
    if options.get("junit"):
        _write(options["junit"], report.junit(data, outcome.checked))
    if options.get("fingerprint") and data["checked"]["kind"] != "image":  # an image's own is taken inside it
        from envbuild.check.record import record

        fingerprint = record(data["lock"]["path"], options.get("python"), read_lock=read_lock, report=data)
        _write(options["fingerprint"], report.dumps(fingerprint) + "\n")
    try:
        if options.get("json"):
            sys.stdout.write(report.dumps(data) + "\n")
        else:
            report.show(data)
        sys.stdout.flush()
    except BrokenPipeError:  # `envbuild check | head`: the reader left; the verdict is still the exit code
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if outcome.ok else 1


def _write(path: str, text: str) -> None:
    """Write TEXT to PATH whole (``envbuild.atomic``): a reader never sees half a report, and /dev/stdout or a FIFO
    is written into, never replaced by a file."""
    import envbuild.atomic

    try:
        envbuild.atomic.write(path, text.encode("utf-8"), unchanged=False)
    except OSError as exc:
        raise EnvbuildError(f"{path}: cannot write: {exc.strerror or exc}") from None
