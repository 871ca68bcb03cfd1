"""``envbuild check`` (and ``envbuild-check`` inside images): the drift check's command line and its one path.

    parse the options -> locate.target (which environment) -> expect.load (what the lock says; cached)
      -> facts (probe.probe here, or in a container for --image) -> compare.compare -> report -> exit code

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
    from collections.abc import Callable
    from typing import Any

    from envbuild.check.compare import Outcome
    from envbuild.check.expect import ReadLock
    from envbuild.check.shapes import Checked, Expected, Facts
    from envbuild.options import Option

    ProbeImage = Callable[[str, list[str]], Facts]  # (image, the probe's arguments) -> its facts, from a container


# flags, destination, metavar (None: a flag without a value), help, where it exists ("" both, "host", "image")
OPTIONS: "tuple[tuple[tuple[str, ...], str, str | None, str, str], ...]" = (
    (("-l", "--lock"), "lock", "LOCK", "The lock to check against. [default: ./envbuild.lock]", "host"),
    (("-l", "--lock"), "lock", "LOCK", f"The lock to check against. [default: $ENVBUILD_LOCK, else {IMAGE_LOCK}]",
     "image"),
    (("--json",), "json", None, "Print the report as JSON (schema 1) instead of text.", ""),
    (("--junit",), "junit", "FILE", "Also write a JUnit XML file: one testcase per checked item, for CI.", ""),
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

    data, outcome = evaluate(options, read_lock=read_lock, in_image=in_image, probe_image=probe_image)
    if options.get("junit"):
        _write(options["junit"], report.junit(data, outcome.checked))
    try:
        if options.get("json"):
            sys.stdout.write(report.dumps(data) + "\n")
        else:
            report.show(data)
        sys.stdout.flush()
    except BrokenPipeError:  # `envbuild check | head`: the reader left; the verdict is still the exit code
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if outcome.ok else 1


def evaluate(options: "dict[str, Any]", *, read_lock: "ReadLock", in_image: bool = False,
             probe_image: "ProbeImage | None" = None) -> "tuple[dict[str, Any], Outcome]":
    """Find, read, probe and compare: the report (as JSON data) and the outcome, printed by no one yet."""
    from envbuild.check import compare, expect, locate, report

    lock = options.get("lock") or (os.environ.get("ENVBUILD_LOCK", IMAGE_LOCK) if in_image
                                   else locate.DEFAULT_LOCK)
    expected = expect.load(lock, options.get("platform"), read_lock)
    target = locate.target(python=options.get("python"), root=options.get("root"), image=options.get("image"),
                           prefix=options.get("prefix"), lock=lock, in_image=in_image,
                           conda=expected["conda"]["prefix"] if expected["conda"] else None)
    strict = not options.get("no_strict") if in_image else bool(options.get("strict"))
    target["scope"] = _scope(options.get("scope"), target, strict)
    facts = gather(target, expected, deep=bool(options.get("deep")), strict=strict, probe_image=probe_image)
    if target["kind"] != "image":  # the wheels an image built (built.json beside its lock), where its files are
        from envbuild.check import built

        entries = built.load(lock)
        if entries:
            facts["built"] = built.installed(entries, (facts.get("python") or {}).get("packages", {}))
    outcome = compare.compare(expected, facts, strict=strict, scope=target["scope"])
    return report.as_json(expected, facts, outcome, target), outcome


def _scope(given: "str | None", target: "Checked", strict: bool) -> str:
    """venv (what envbuild sync made) or host (all the lock holds): GIVEN, else venv for a venv sync made."""
    from envbuild.check import venv

    if given is not None and given not in venv.SCOPES:
        raise EnvbuildError(f"--scope takes {' or '.join(venv.SCOPES)}, not {given!r}")
    if target["kind"] != "python":  # an image, a mounted root, the image's own check: checked in full
        if given == "venv":
            raise EnvbuildError("--scope venv checks a virtual environment that envbuild sync made, not "
                                f"{'the image' if target['kind'] == 'image' else 'a mounted root'} {target['path']}")
        return "host"
    if given is not None:
        if given == "venv" and strict:
            raise EnvbuildError("--strict checks the host's apt packages, which --scope venv leaves out; give "
                                "--scope host with it")
        return given
    home = venv.of_interpreter(target["path"])
    return "venv" if home is not None and venv.synced_from(home) and not strict else "host"


def gather(target: "Checked", expected: "Expected", *, deep: bool = False, strict: bool = False,
           probe_image: "ProbeImage | None" = None) -> "Facts":
    """The probe's facts about TARGET: here for an interpreter or a root, in a container for an image."""
    from envbuild.check import probe

    env_names = sorted(expected["env"])
    dpkg = (expected["system"] is not None or strict) and target.get("scope") != "venv"
    cuda = expected["cuda"] is not None
    if target["kind"] == "image":  # the probe runs in a container: the engine is one floor up (the command's)
        if probe_image is None:
            raise EnvbuildError("--image needs a Docker engine, which this checker alone does not drive: run "
                                "envbuild check --image where envbuild is installed")
        args = [*([f"--env={','.join(env_names)}"] if env_names else []), *(["--deep"] if deep else []),
                *([] if dpkg else ["--no-dpkg"]), *(["--cuda"] if cuda else []),
                *([f"--conda-prefix={target['conda']}"] if target["conda"] else [])]
        return probe_image(target["path"], args)
    if target["kind"] == "root":
        return probe.probe(paths=probe.site_dirs_under(target["path"]), root=target["path"], host=False,
                           deep=deep, dpkg=dpkg, conda_prefix=target["conda"])
    if target.get("scope") == "venv":
        return {**_gather_here(target, env_names, dpkg, cuda, deep), "activation": _activation(target["path"])}
    return _gather_here(target, env_names, dpkg, cuda, deep)


def _activation(executable: str) -> "dict[str, Any]":
    """The [env] that the venv of EXECUTABLE exports when activated (None: its bin/activate sets none), and where."""
    from envbuild.check import venv

    home = venv.of_interpreter(executable) or os.path.dirname(os.path.dirname(executable))
    return {"script": os.path.join(home, "bin", "activate"), "env": venv.activation_env(home)}


def _gather_here(target: "Checked", env_names: list[str], dpkg: bool, cuda: bool, deep: bool) -> "Facts":
    """The probe's facts about an interpreter of this host (this one, or another one asked once)."""
    from envbuild.check import locate, probe, query

    if target["kind"] == "self" or locate.is_self(target["path"]):
        return probe.probe(paths=sys.path, interpreter=probe.this_interpreter(), env_names=env_names, deep=deep,
                           dpkg=dpkg, cuda=cuda, conda_prefix=target["conda"], read_dpkg=cached_dpkg_status)
    info = query.describe(target["path"])
    interpreter = {k: info[k] for k in ("version", "implementation", "executable", "prefix")}
    return probe.probe(paths=info["path"], interpreter=interpreter,
                       env_names=env_names, deep=deep, dpkg=dpkg, cuda=cuda, conda_prefix=target["conda"],
                       read_dpkg=cached_dpkg_status)


def cached_dpkg_status(root: str) -> "dict[str, str] | None":
    """``probe.dpkg_status(ROOT)``, kept while dpkg's status file is the same file: dpkg writes a new one and renames
    it over the old on every change, so its inode, size and mtime identify its contents.  Parsing the status of a
    700-package host takes longer (6 ms) than the rest of a warm check."""
    import envbuild.cache
    from envbuild.check import probe

    path = os.path.join(root, "var/lib/dpkg/status")
    try:
        status = os.stat(path)
    except OSError:
        return None
    key = (path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
    name = f"dpkg-{envbuild.cache.slug(path)}"
    cached = envbuild.cache.read(name)
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == key:
        facts: dict[str, str] = cached[1]
        return facts
    facts_now = probe.dpkg_status(root)
    if facts_now is not None:
        envbuild.cache.write(name, (key, facts_now))
    return facts_now


def _write(path: str, text: str) -> None:
    """Write TEXT to PATH whole (``envbuild.atomic``): a reader never sees half a report, and /dev/stdout or a FIFO
    is written into, never replaced by a file."""
    import envbuild.atomic

    try:
        envbuild.atomic.write(path, text.encode("utf-8"), unchanged=False)
    except OSError as exc:
        raise EnvbuildError(f"{path}: cannot write: {exc.strerror or exc}") from None
