"""Compare what the probe read with what the lock says: the findings of a check (only departures from the lock).

A finding is the report's own shape (schema 1): ``{"kind", "name", "status", "expected", "found", "severity"}``.
``Outcome.checked`` lists every item compared, so that JUnit can show a testcase for each.
"""

from envbuild.check.probe import normalise
from envbuild.versions import within

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

    from envbuild.check.shapes import Expected, Facts, Finding

ALWAYS_IGNORED = ("envbuild",)  # the checker itself, when it is installed into the environment it checks
SEVERITY_ORDER = {"error": 0, "warning": 1}


class Outcome:
    """The findings, worst first, and the (kind, name) of every item compared."""

    __slots__ = ("checked", "findings")

    def __init__(self, findings: "list[Finding]", checked: list[tuple[str, str]]) -> None:
        self.findings = sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f["severity"], 2), f["kind"], f["name"]))
        self.checked = checked

    @property
    def ok(self) -> bool:
        return not any(f["severity"] == "error" for f in self.findings)


def finding(kind: str, name: str, status: str, expected: "str | None", found: "str | None", *,
            severity: str = "error") -> "Finding":
    return {"kind": kind, "name": name, "status": status, "expected": expected, "found": found,
            "severity": severity}


def compare(expected: "Expected", facts: "Facts", *, strict: bool = False, scope: str = "host") -> Outcome:
    """The findings of FACTS against EXPECTED.  SCOPE "venv": what envbuild sync made (``venv.py``), so the host's
    apt packages and OS are not held to the lock, another micro release of the interpreter is a warning (sync
    said so when it made the venv), and [env] is what the venv's bin/activate exports."""
    out: list[Finding] = []
    checked: list[tuple[str, str]] = []
    venv = scope == "venv"
    _interpreter(expected, facts, out, checked, venv)
    _python(expected, facts, out, checked)
    _built(facts, out, checked)
    if not venv:
        _system(expected, facts, out, checked, strict)
        _os(expected, facts, out, checked)
    _driver(expected, facts, out, checked)
    _gpus(expected, facts, out, checked)
    _cuda_libraries(expected, facts, out, checked)
    if venv:
        _activation_env(expected, facts, out, checked)
    else:
        _env(expected, facts, out, checked)
    _conda(expected, facts, out, checked)
    for problem in facts.get("files") or []:
        out.append(finding("file", problem["path"], problem["status"], "as in RECORD", problem["status"]))
    for problem in facts.get("conda_files") or []:
        out.append(finding("file", problem["path"], problem["status"],
                           f"as conda-meta records it ({problem['package']})", problem["status"],
                           severity="warning" if problem["status"] == "unverifiable" else "error"))
    return Outcome(out, checked)


def _interpreter(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]],
                 venv: bool = False) -> None:
    """The exact interpreter the lock froze; in a venv sync made, another micro release of it is a warning (the
    wheels are for the minor release, and sync said the interpreter differs)."""
    found = (facts.get("interpreter") or {}).get("version")
    wanted = expected["python"]
    checked.append(("interpreter", "python"))
    if found is None:
        out.append(finding("interpreter", "python", "unverifiable", wanted, None, severity="warning"))
    elif not within(found, wanted):
        same_minor = found.split(".")[:2] == wanted.split(".")[:2]
        out.append(finding("interpreter", "python", "changed", wanted, found,
                           severity="warning" if venv and same_minor else "error"))


def _python(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    installed: dict[str, Any] = (facts.get("python") or {}).get("packages", {})
    for name, version in expected["packages"].items():
        checked.append(("python", name))
        dist = installed.get(name)
        if dist is None:
            out.append(finding("python", name, "missing", version, None))
            continue
        local = _local_install(dist.get("direct_url"))
        if local and _expected_file(name, dist, expected.get("from_file", {}).get(name)):
            local = None
        if local:
            out.append(finding("python", name, "changed", version, f"{dist['version']} ({local})"))
        elif not _same_version(version, dist["version"]):
            out.append(finding("python", name, "changed", version, dist["version"]))
    extra = set(installed) - set(expected["packages"]) - {normalise(n) for n in (*expected["ignore_extra"],
                                                                                   *ALWAYS_IGNORED)}
    conda = (facts.get("conda") or {}).get("records")
    if extra and conda:  # a conda package's own dist-info is checked as conda's (names normalised only when needed)
        extra -= {normalise(n) for n in conda}
    for name in sorted(extra):
        checked.append(("python", name))
        out.append(finding("python", name, "extra", None, installed[name]["version"]))
    for problem in (facts.get("python") or {}).get("problems", []):
        out.append(finding("python", problem["path"], "unverifiable", None, problem["problem"], severity="warning"))
    for dup in (facts.get("python") or {}).get("duplicates", []):
        # two installs of one project: in one folder, which Python reads is a matter of chance (an install that a
        # tool left half-removed): drift; in two folders of the path, the first shadows the second: said
        import os

        same = os.path.dirname(dup["path"]) == os.path.dirname(dup["first"])
        checked.append(("python", dup["name"]))
        out.append(finding("python", dup["name"], "changed", expected["packages"].get(dup["name"]),
                           f"two installs: {dup['first_version']} ({dup['first']}) and {dup['version']} "
                           f"({dup['path']}{', shadowed' if not same else ''})",
                           severity="error" if same else "warning"))


def _built(facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    """The wheels the image built from sdists: each installed as that build installed it (its RECORD's sha256); a
    wheel of the same version built again, differently, and installed over it is drift."""
    for entry in facts.get("built") or []:
        if entry.get("found") is None:  # not installed: the package's own finding says so
            continue
        checked.append(("built", entry["name"]))
        if entry["found"] != entry.get("record"):
            out.append(finding("python", entry["name"], "changed",
                               f"{entry.get('wheel')} as the image built it ({str(entry.get('sha256'))[:19]}...)",
                               "another build of it (the RECORD its install wrote differs)"))


def _expected_file(name: str, dist: "dict[str, Any]", allowed: "str | None") -> bool:
    """Was DIST installed from the file the lock names (ALLOWED: its name, or "*.whl" for a wheel built from the
    locked sdist), at the locked version?"""
    if allowed is None:
        return False
    direct = dist.get("direct_url") or {}
    url = str(direct.get("url", ""))
    base = url.rsplit("/", 1)[-1]
    if allowed.startswith("vcs:") and "vcs_info" in direct:  # a checkout: of the locked commit
        return bool((direct.get("vcs_info") or {}).get("commit_id") == allowed[len("vcs:"):])
    if not url.startswith("file:") or "vcs_info" in direct or "dir_info" in direct:
        return False
    if allowed == "*.whl" or allowed.startswith("vcs:"):  # a wheel built from the sdist or the checkout
        return base.endswith(".whl") and normalise(base.split("-", 1)[0]) == name
    return base == allowed


def _local_install(direct_url: "Any") -> "str | None":
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


def _system(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]],
            strict: bool) -> None:
    """The lock's apt closure must be installed at its versions.  STRICT: so must the base image's packages,
    and any other package is drift (an image built from the lock holds exactly base + closure)."""
    locked = expected["system"]
    if expected.get("apt_unsigned"):
        checked.append(("system", "apt-signatures"))
        out.append(finding("system", "apt-signatures", "unverifiable", "signed Release files",
                           "the lock took them unsigned ([system] insecure-unsigned)", severity="warning"))
    if locked is None and not strict:
        return
    dpkg = facts.get("dpkg")
    if dpkg is None:
        checked.append(("system", "dpkg"))
        out.append(finding("system", "dpkg", "unverifiable", f"{len(locked or {})} packages",
                           "no /var/lib/dpkg/status", severity="warning"))
        return
    for name, version in (locked or {}).items():
        checked.append(("system", name))
        have = dpkg.get(name)
        if have is None:
            out.append(finding("system", name, "missing", version, None))
        elif have != version:
            out.append(finding("system", name, "changed", version, have))
    if not strict:
        return
    base = expected["base_packages"]
    if base is None and expected["base_image"] is not None:
        checked.append(("system", "base-image"))
        out.append(finding("system", "base-image", "unverifiable", "the base image's packages",
                           f"not recorded in lock version {expected['lock_version']}: re-lock for a strict check",
                           severity="warning"))
        return
    for name in sorted(set(dpkg) - set(locked or {})):
        checked.append(("system", name))
        if base is not None and name in base:
            if dpkg[name] != base[name]:
                out.append(finding("system", name, "changed", f"{base[name]} (base image)", dpkg[name]))
        else:
            out.append(finding("system", name, "extra", None, dpkg[name]))


def _os(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    distro = expected["distro"]
    if distro is None:
        return
    checked.append(("os", distro))
    release = facts.get("os")
    if release is None:
        out.append(finding("os", distro, "unverifiable", distro, None, severity="warning"))
        return
    found = f"{release['id']}:{release['version_id']}"
    if found != distro:
        out.append(finding("os", distro, "changed", distro, found))


def _driver(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    """The driver must reach the lock's minimum; below the toolkit's own driver it runs the lock's CUDA through
    minor-version compatibility, where PTX newer than the driver cannot be JIT-compiled: a warning."""
    cuda = expected["cuda"]
    if cuda is None:
        return
    gpu = facts.get("nvidia")
    checked.append(("driver", "nvidia"))
    if gpu is None or not gpu.get("driver"):
        # A host without a GPU (a CI runner, a login node) is normal: the lock's CUDA can't run here, said as such.
        out.append(finding("driver", "nvidia", "missing", f">= {cuda['min_driver']}", None, severity="warning"))
        return
    driver = gpu["driver"]
    if _numbers(driver) < _numbers(cuda["min_driver"]):
        out.append(finding("driver", "nvidia", "changed", f">= {cuda['min_driver']}", driver))
        return
    runtime = ".".join(cuda["runtime"].split(".")[:2])
    driver_cuda = gpu.get("cuda_driver")
    older = (_numbers(driver_cuda) < _numbers(runtime) if driver_cuda
             else cuda["toolkit_driver"] is not None and _numbers(driver) < _numbers(cuda["toolkit_driver"]))
    if older:
        toolkit = f">= {cuda['toolkit_driver']}" if cuda["toolkit_driver"] else f"a CUDA {runtime} driver"
        found = driver + (f" (CUDA {driver_cuda})" if driver_cuda else "")
        out.append(finding("driver", "nvidia", "changed", f"{toolkit} (CUDA {runtime})",
                           f"{found}: minor-version compatibility; PTX built for a newer CUDA cannot be JIT-compiled",
                           severity="warning"))


def _gpus(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    """Every GPU needs kernels in the installed torch: SASS for its architecture, or PTX the driver compiles."""
    if expected["cuda"] is None:
        return
    from envbuild.check.kernels import runs_on

    kernels = facts.get("kernels")
    for index, device in enumerate((facts.get("nvidia") or {}).get("gpus") or []):
        name = f"{index}: {device.get('name')}"
        capability = device.get("compute_capability")
        if kernels is None:
            continue  # no torch here: nothing of ours to run on it
        checked.append(("gpu", name))
        if kernels["source"] is None:
            out.append(finding("gpu", name, "unverifiable", f"kernels for sm {capability}",
                               f"{kernels['package']}: its architectures are unknown (CUDA {kernels.get('cuda')}: no "
                               "readable libtorch_cuda.so and no row in the data file)", severity="warning"))
            continue
        carried = (f"{kernels['package']}: SASS {' '.join(kernels['sass']) or 'none'}, PTX "
                   f"{' '.join(kernels['ptx']) or 'none'} (from {kernels['source']})")
        if capability is None:
            out.append(finding("gpu", name, "unverifiable", "a known compute capability", carried,
                               severity="warning"))
            continue
        how = runs_on(kernels, capability)
        wanted = f"kernels for sm {capability} (SASS {capability.split('.')[0]}.x or PTX <= {capability})"
        if how is None:
            out.append(finding("gpu", name, "missing", wanted, carried))
        elif how == "ptx":
            out.append(finding("gpu", name, "unverifiable", wanted,
                               f"PTX only, compiled by the driver at first use: {carried}", severity="warning"))


def _cuda_libraries(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    """cudart, cuDNN and NCCL as the environment loads them must be the locked ones."""
    cuda = expected["cuda"]
    if cuda is None or facts.get("cuda") is None:
        return
    loaded = facts["cuda"]
    for name, wanted, width in (("cudart", cuda["runtime"], 2), ("cudnn", cuda["cudnn"], 3),
                                ("nccl", cuda["nccl"], 3)):
        if wanted is None:
            continue
        checked.append(("cuda", name))
        lib = loaded.get(name)
        if lib is None:
            out.append(finding("cuda", name, "unverifiable", wanted, "not found or not loadable", severity="warning"))
            continue
        copies = [lib, *lib.get("others", ())]  # every copy the wheels hold: the one of the locked CUDA is loaded
        if not any(c["version"].split(".")[:width] == wanted.split(".")[:width] for c in copies):
            out.append(finding("cuda", name, "changed", wanted, f"{lib['version']} ({lib['path']})"))


def _conda(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    """The conda environment must hold exactly the lock's records (name, version and build)."""
    locked = expected["conda"]
    if locked is None:
        return
    found = facts.get("conda")
    if found is None:
        checked.append(("conda", "prefix"))
        out.append(finding("conda", "prefix", "missing", f"a conda environment ({locked['prefix']})",
                           "no conda-meta there (give --prefix DIR, or run envbuild sync --prefix DIR)"))
        return
    records = found["records"]
    for name, (version, build) in sorted(locked["packages"].items()):
        checked.append(("conda", name))
        have = records.get(name)
        if have is None:
            out.append(finding("conda", name, "missing", f"{version} {build}", None))
        elif have[0] != version or have[1] != build:
            out.append(finding("conda", name, "changed", f"{version} {build}", f"{have[0]} {have[1]}"))
    for name in sorted(set(records) - set(locked["packages"])):
        checked.append(("conda", name))
        out.append(finding("conda", name, "extra", None, " ".join(records[name])))
    for problem in found.get("problems", []):
        out.append(finding("conda", problem["path"], "unverifiable", None, problem["problem"], severity="warning"))


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _activation_env(expected: "Expected", facts: "Facts", out: "list[Finding]",
                    checked: list[tuple[str, str]]) -> None:
    """[env] in a venv sync made: its bin/activate must export the lock's values; a value this shell holds must be
    the lock's (the job runs with it), and one it lacks is a warning (the venv is not activated here)."""
    values = facts.get("env") or {}
    activation = facts.get("activation") or {}
    script, exported = activation.get("script", "bin/activate"), activation.get("env") or {}
    for name, wanted in sorted(expected["env"].items()):
        checked.append(("env", name))
        here = values.get(name)
        if exported.get(name) != wanted:
            there = exported.get(name)
            out.append(finding("env", name, "missing" if there is None else "changed", wanted,
                               f"{there if there is not None else 'not set'} in {script} (envbuild sync writes it)"))
        elif here is not None and here != wanted:
            out.append(finding("env", name, "changed", wanted, f"{here} (this shell)"))
        elif here is None:
            out.append(finding("env", name, "missing", wanted, f"not in this shell (source {script})",
                               severity="warning"))


def _env(expected: "Expected", facts: "Facts", out: "list[Finding]", checked: list[tuple[str, str]]) -> None:
    values = facts.get("env")
    for name, wanted in sorted(expected["env"].items()):
        checked.append(("env", name))
        if values is None:
            out.append(finding("env", name, "unverifiable", wanted, None, severity="warning"))
        elif values.get(name) is None:
            out.append(finding("env", name, "missing", wanted, None))
        elif values[name] != wanted:
            out.append(finding("env", name, "changed", wanted, values[name]))
