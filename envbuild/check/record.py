"""``envbuild record`` and ``envbuild.record()``: a compact, stable fingerprint of the environment a process runs
in, cheap enough for the start of every training run: which lock (its sha256 and spec-hash), which image (inside
an envbuild image), the drift check's verdict with its findings counted per kind, and the host facts that matter
for reproducing a result (interpreter, platform, glibc, CPU, driver, CUDA driver version, GPUs).

Standard library only, like the check it runs: it works in any image and never loads click or rich.  The lock is
``-l``/the argument, else ``$ENVBUILD_LOCK``, else the image's ``/opt/envbuild/envbuild.lock``, else
``./envbuild.lock``; with none, the fingerprint says so (``"lock": null``) and holds the host facts.
"""

from __future__ import annotations

import os
import sys

from envbuild.errors import EnvbuildError, unreadable_lock
from envbuild.paths import IMAGE_LOCK, LOCK_FILE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

    from envbuild.check.expect import ReadLock
    from envbuild.options import Option

SCHEMA = 1
OPTIONS: tuple[Option, ...] = (
    (("-l", "--lock"), "lock", "LOCK", "The lock. [default: $ENVBUILD_LOCK, else /opt/envbuild/envbuild.lock, else "
                                       "./envbuild.lock]"),
    (("--python",), "python", "PATH", "The interpreter whose environment to check. [default: as envbuild check "
                                      "chooses]"),
    (("--json",), "json", None, "Print the fingerprint as JSON (schema 1)."),
)
USAGE = """\
Usage: envbuild record [OPTIONS]

  A stable fingerprint of this environment: the lock (sha256, spec-hash), the image (inside an envbuild image), the
  drift check's verdict with its findings counted per kind, and the host (interpreter, platform, glibc, CPU,
  driver, CUDA driver version, GPUs).  The same as envbuild.record() in Python, for the start of a training run.

  Examples:
    wandb.config.update(envbuild.record())                in training code
    envbuild record --json >> "$SLURM_JOB_ID.env.json"    in a Slurm job

Options:
{options}
"""


def find_lock(lock: str | None = None) -> str | None:
    """The lock to record: LOCK, else $ENVBUILD_LOCK, else the image's, else ./envbuild.lock (None: none found)."""
    if lock:
        return lock
    if os.environ.get("ENVBUILD_LOCK"):  # named: used even if missing, so that the mistake is said, not hidden
        return os.environ["ENVBUILD_LOCK"]
    for candidate in (IMAGE_LOCK, LOCK_FILE):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def record(lock: str | None = None, python: str | None = None, *, read_lock: ReadLock,
           report: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fingerprint (plain data: JSON-able); READ_LOCK makes the check's view of the lock (``lockview.read``).
    A named LOCK (or $ENVBUILD_LOCK) that cannot be read or is no lock, or a named PYTHON that is no interpreter,
    raises ``EnvbuildError``; a lock found but the check failing is recorded as the verdict's ``error``, never
    raised (training goes on).  REPORT: the check's report of this lock, when the caller has just made it."""
    if python is not None:
        from envbuild.check.locate import interpreter

        interpreter(python, "--python")
    path = find_lock(lock)
    facts = host()
    if path is None:
        return {"schema": SCHEMA, "lock": None, "image": None, "verdict": None, "host": facts}
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise unreadable_lock(path, exc, with_option=True) from None
    import hashlib

    entry: dict[str, Any] = {"path": path, "sha256": "sha256:" + hashlib.sha256(data).hexdigest(), "spec-hash": None}
    in_image = os.path.abspath(path) == IMAGE_LOCK
    verdict: dict[str, Any]
    try:
        if report is None:
            from envbuild.check.evaluate import evaluate

            options: dict[str, Any] = {"lock": path, **({"python": python} if python else {})}
            report, _ = evaluate(options, read_lock=read_lock, in_image=in_image and python is None)
        counts: dict[str, int] = {}
        for finding in report["findings"]:
            counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
        verdict = {"ok": report["ok"], "findings": dict(sorted(counts.items()))}
        entry["spec-hash"] = report["lock"]["spec-hash"]
        facts["python"] = report["host"]["python"]
        facts["executable"] = report["checked"]["python"]
    except EnvbuildError as exc:
        from envbuild.errors import ConfigError, LockfileError

        if (lock or os.environ.get("ENVBUILD_LOCK")) and isinstance(exc, (LockfileError, ConfigError)):
            raise  # a lock the user named that is no lock: said (exit 2), as an unreadable file is
        verdict = {"ok": None, "findings": {}, "error": str(exc)}
    image = {"lock": IMAGE_LOCK, "reference": os.environ.get("ENVBUILD_IMAGE")} if in_image else None
    return {"schema": SCHEMA, "lock": entry, "image": image, "verdict": verdict, "host": facts}


def host() -> dict[str, Any]:
    """The facts of this machine that matter for reproducing a result."""
    from envbuild.check import nvidia, probe

    release = probe.os_release("/") or {}
    gpu = nvidia.devices() or {}
    return {
        "hostname": os.uname().nodename,
        "platform": f"{sys.platform}/{os.uname().machine}",
        "os": release.get("pretty") or None,
        "glibc": probe.glibc(),
        "python": ".".join(str(n) for n in sys.version_info[:3]),
        "executable": sys.executable,
        "cpu": _cpu(),
        "driver": gpu.get("driver"),
        "cuda-driver": gpu.get("cuda_driver"),
        "gpus": [{"name": g.get("name"), "compute-capability": g.get("compute_capability")}
                 for g in gpu.get("gpus") or []],
    }


def _cpu() -> str | None:
    try:
        with open("/proc/cpuinfo", "rb") as handle:
            text = handle.read(1 << 16).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model"):
            return value.strip() or None
    return None


def flat(fingerprint: dict[str, Any], prefix: str = "envbuild") -> dict[str, str]:
    """The fingerprint as flat string tags (``envbuild.lock.sha256``, ``envbuild.ok``, ...), as MLflow stores them."""
    out: dict[str, str] = {}
    lock = fingerprint.get("lock") or {}
    verdict = fingerprint.get("verdict") or {}
    facts = fingerprint.get("host") or {}
    pairs: list[tuple[str, Any]] = [("lock.sha256", lock.get("sha256")), ("lock.spec-hash", lock.get("spec-hash")),
                                    ("ok", verdict.get("ok")), ("error", verdict.get("error"))]
    pairs += [(f"findings.{kind}", count) for kind, count in (verdict.get("findings") or {}).items()]
    pairs += [(f"host.{key}", facts.get(key)) for key in ("hostname", "platform", "os", "glibc", "python", "cpu",
                                                           "driver", "cuda-driver")]
    pairs += [("gpu", ", ".join(f"{g['name']} (sm {g['compute-capability']})" for g in facts.get("gpus") or []))]
    image = fingerprint.get("image") or {}
    pairs += [("image.reference", image.get("reference"))]
    for key, value in pairs:
        if value is not None and value != "":
            out[f"{prefix}.{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def main(argv: list[str], *, read_lock: ReadLock) -> int:
    """``envbuild record``: the fingerprint, as text or JSON.  Exit 0, or 2 on a usage error, or when a named lock
    cannot be read or a named --python is no interpreter."""
    from envbuild.options import answer, command_line, listing

    options = command_line(argv, OPTIONS, "envbuild record", lambda: USAGE.format(options=listing(OPTIONS)))
    if isinstance(options, int):  # --help, or a usage error: answered
        return options
    return answer(lambda: _print(options, read_lock), "envbuild", "envbuild record")


def _print(options: dict[str, Any], read_lock: ReadLock) -> int:
    """The fingerprint of OPTIONS' lock and interpreter, printed as text or JSON."""
    as_json, lock, python = bool(options.get("json")), options.get("lock"), options.get("python")
    fingerprint = record(lock, python, read_lock=read_lock)
    if as_json:
        from envbuild.check.report import dumps

        sys.stdout.write(dumps(fingerprint) + "\n")
    else:
        tags = flat(fingerprint, "")
        if fingerprint["lock"] is None:
            sys.stdout.write("no lock found ($ENVBUILD_LOCK, /opt/envbuild/envbuild.lock, ./envbuild.lock)\n")
        width = max((len(key.lstrip(".")) for key in tags), default=0)  # findings.interpreter, gpu.0.capability
        for key, value in tags.items():
            sys.stdout.write(f"{key.lstrip('.'):<{width}}  {value}\n")
    return 0
