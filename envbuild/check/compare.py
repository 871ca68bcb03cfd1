"""Compare the probe's facts with the lock: the findings of ``envbuild check`` (only departures from the lock)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envbuild.lockfile import Lock
from envbuild.versions import within

ALWAYS_IGNORED = ("envbuild",)  # the checker itself, when it is installed into the environment it checks


@dataclass(frozen=True)
class Finding:
    kind: str  # python | interpreter | system | cuda | driver | gpu | env | os | file
    name: str
    status: str  # missing | extra | changed | modified | unverifiable
    expected: str | None
    found: str | None
    severity: str = "error"  # error | warning

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "expected": self.expected,
                "found": self.found, "severity": self.severity}


@dataclass(frozen=True)
class Outcome:
    findings: tuple[Finding, ...]
    checked: tuple[tuple[str, str], ...]  # (kind, name) of every item compared: JUnit has one testcase each

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def compare(lock: Lock, facts: dict[str, Any], *, strict: bool = False) -> Outcome:
    findings: list[Finding] = []
    checked: list[tuple[str, str]] = []
    _interpreter(lock, facts, findings, checked)
    _python(lock, facts, findings, checked)
    _system(lock, facts, findings, checked, strict)
    _os(lock, facts, findings, checked)
    _cuda(lock, facts, findings, checked)
    _cuda_libraries(lock, facts, findings, checked)
    _env(lock, facts, findings, checked)
    for problem in facts.get("files") or []:
        findings.append(Finding("file", problem["path"], problem["status"], "as in RECORD", problem["status"]))
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (order.get(f.severity, 2), f.kind, f.name))
    return Outcome(tuple(findings), tuple(checked))


def _interpreter(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    found = (facts.get("interpreter") or {}).get("version")
    wanted = lock.python.target_version
    checked.append(("interpreter", "python"))
    if found is None:
        out.append(Finding("interpreter", "python", "unverifiable", wanted, None, "warning"))
    elif not within(found, wanted):
        out.append(Finding("interpreter", "python", "changed", wanted, found))


def _python(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    installed: dict[str, Any] = (facts.get("python") or {}).get("packages", {})
    for pkg in lock.python.packages:
        checked.append(("python", pkg.name))
        dist = installed.get(pkg.name)
        if dist is None:
            out.append(Finding("python", pkg.name, "missing", pkg.version, None))
            continue
        local = _local_install(dist.get("direct_url"))
        if local:
            out.append(Finding("python", pkg.name, "changed", pkg.version, f"{dist['version']} ({local})"))
        elif not _same_version(pkg.version, dist["version"]):
            out.append(Finding("python", pkg.name, "changed", pkg.version, dist["version"]))
    ignored = {_canonical(n) for n in (*lock.ignore_extra, *ALWAYS_IGNORED)}
    locked = {p.name for p in lock.python.packages}
    for name in sorted(set(installed) - locked - ignored):
        checked.append(("python", name))
        out.append(Finding("python", name, "extra", None, installed[name]["version"]))
    for problem in (facts.get("python") or {}).get("problems", []):
        out.append(Finding("python", problem["path"], "unverifiable", None, problem["problem"], "warning"))


def _canonical(name: str) -> str:
    """PEP 503's normalised name (as packaging.utils.canonicalize_name, without importing packaging.tags: the
    check path stays light)."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _local_install(direct_url: Any) -> str | None:
    """"editable: /src" or "local: file:///x.whl" for an install that did not come from an index."""
    if not isinstance(direct_url, dict):
        return None
    url = str(direct_url.get("url", ""))
    if (direct_url.get("dir_info") or {}).get("editable"):
        return f"editable: {url}"
    if url.startswith("file:") or "vcs_info" in direct_url or "dir_info" in direct_url:
        return f"local: {url}"
    return None


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True  # nearly always: packaging loads only for the rest ("1.0" against "1.0.0", say)
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _system(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]],
            strict: bool) -> None:
    if lock.system is None:
        return
    dpkg = facts.get("dpkg")
    if dpkg is None:
        checked.append(("system", "dpkg"))
        out.append(Finding("system", "dpkg", "unverifiable", f"{len(lock.system.packages)} packages",
                           "no /var/lib/dpkg/status", "warning"))
        return
    for pkg in lock.system.packages:
        checked.append(("system", pkg.name))
        have = dpkg.get(pkg.name)
        if have is None:
            out.append(Finding("system", pkg.name, "missing", pkg.version, None))
        elif have["version"] != pkg.version:
            out.append(Finding("system", pkg.name, "changed", pkg.version, have["version"]))
    if strict:
        locked = {p.name for p in lock.system.packages}
        for name in sorted(set(dpkg) - locked):
            out.append(Finding("system", name, "extra", None, dpkg[name]["version"]))


def _os(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    if lock.target.distro is None:
        return
    checked.append(("os", lock.target.distro))
    release = facts.get("os")
    if release is None:
        out.append(Finding("os", lock.target.distro, "unverifiable", lock.target.distro, None, "warning"))
        return
    found = f"{release['id']}:{release['version_id']}"
    if found != lock.target.distro:
        out.append(Finding("os", lock.target.distro, "changed", lock.target.distro, found))


def _cuda(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    if lock.cuda is None:
        return
    gpu = facts.get("nvidia")
    checked.append(("driver", "nvidia"))
    if gpu is None or not gpu.get("driver"):
        # A host without a GPU (a CI runner, a login node) is normal: the lock's CUDA can't run here, said as such.
        out.append(Finding("driver", "nvidia", "missing", f">= {lock.cuda.min_driver}", None, "warning"))
        return
    if _driver_key(gpu["driver"]) < _driver_key(lock.cuda.min_driver):
        out.append(Finding("driver", "nvidia", "changed", f">= {lock.cuda.min_driver}", gpu["driver"]))
    for index, device in enumerate(gpu.get("gpus") or []):
        name = f"{index}: {device.get('name')}"
        checked.append(("gpu", name))
        out.append(Finding("gpu", name, "unverifiable", "a capability the locked "
                           "build supports", f"sm {device.get('compute_capability')}", "warning"))


def _cuda_libraries(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    """cudart, cuDNN and NCCL as the environment loads them must be the locked ones."""
    if lock.cuda is None or facts.get("cuda") is None:
        return
    loaded = facts["cuda"]
    for name, wanted, width in (("cudart", lock.cuda.runtime, 2), ("cudnn", lock.cuda.cudnn, 3),
                                ("nccl", lock.cuda.nccl, 3)):
        if wanted is None:
            continue
        checked.append(("cuda", name))
        lib = loaded.get(name)
        if lib is None:
            out.append(Finding("cuda", name, "unverifiable", wanted, "not found or not loadable", "warning"))
        elif lib["version"].split(".")[:width] != wanted.split(".")[:width]:
            out.append(Finding("cuda", name, "changed", wanted, f"{lib['version']} ({lib['path']})"))


def _driver_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _env(lock: Lock, facts: dict[str, Any], out: list[Finding], checked: list[tuple[str, str]]) -> None:
    values = facts.get("env")
    for name, wanted in lock.env:
        checked.append(("env", name))
        if values is None:
            out.append(Finding("env", name, "unverifiable", wanted, None, "warning"))
        elif values.get(name) is None:
            out.append(Finding("env", name, "missing", wanted, None))
        elif values[name] != wanted:
            out.append(Finding("env", name, "changed", wanted, values[name]))
