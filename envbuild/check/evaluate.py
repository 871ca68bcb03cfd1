"""The drift check's one path, below its command line (``cli``) and beside the fingerprint (``record``), which both
run it: find the environment and the lock (``locate``, ``expect``), gather the facts (here, or in a container for
--image), compare them (``compare``), and make the report (``report``), printed by no one yet.

Standard library only, like the whole check core: it runs before every job on every node and inside images."""

import os
import sys

from envbuild.errors import EnvbuildError
from envbuild.paths import IMAGE_LOCK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from envbuild.check.compare import Outcome
    from envbuild.check.expect import ReadLock
    from envbuild.check.shapes import Checked, Expected, Facts

    ProbeImage = Callable[[str, list[str]], Facts]  # (image, the probe's arguments) -> its facts, from a container


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
