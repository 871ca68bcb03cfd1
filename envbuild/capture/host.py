"""Capture a live environment (``envbuild init --from-host [--python PATH]``): its top-level Python distributions
at their installed versions, the distro and interpreter, the apt packages installed on purpose, and the GPU.

The environment is the one ``envbuild check`` would look at (``check.locate``), read by the check's own probe, so
the spec written from it describes what the check will compare.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from envbuild.capture import Draft, Note
from envbuild.capture.dists import Installed, markers, read_dist_info, top_level
from envbuild.errors import EnvbuildError
from envbuild.platforms import PLATFORMS, host
from envbuild.versions import minor

KEEP_PRIORITIES = ("required",)  # every install of the distro has these: not asked for by anyone


def capture_host(python: str | None, lock: Path, root: Path = Path("/")) -> Draft:
    """The environment of PYTHON (else the one the check would pick for LOCK) on this host (its files under ROOT)."""
    from envbuild.check import locate, probe

    where = locate.target(python=python, lock=str(lock))
    executable = str(where["path"])
    info = locate.describe(executable)
    found = probe.distributions([*info["base"], *info["sites"]], tuple(info["sites"]))
    installed = []
    for name, dist in found["packages"].items():
        meta = read_dist_info(dist["path"])
        requires, extras = (meta[2], meta[3]) if meta else ((), ())
        installed.append(Installed(name=name, version=dist["version"], requires=requires, extras=extras,
                                   direct_url=dist["direct_url"], installer=probe.installer(dist["path"])))
    captured = top_level(installed, markers(info["version"], implementation=info.get("implementation", "cpython")))
    platform = host()
    if platform is None:
        raise EnvbuildError(f"this host ({os.uname().sysname} {os.uname().machine}) is not a platform envbuild locks "
                            f"for ({', '.join(PLATFORMS)})")
    notes = list(captured.notes)
    facts = [f"Captured by envbuild init --from-host from {executable} ({where['why'] or '--python'}): "
             f"Python {info['version']}, {len(installed)} distributions."]
    distro: str | None = None
    system: tuple[str, ...] = ()
    if PLATFORMS[platform].linux:
        distro, release = host_distro(root)
        facts.append(f"Host: {release}, {platform}.")
        dpkg = _dpkg(root)
        system, apt_notes = manual_packages(dpkg, _auto(root), PLATFORMS[platform].deb_arch or "")
        notes += apt_notes
        notes += _interpreter_notes(executable, info, dpkg)
    facts += gpu_facts(root)[0]
    if not captured.requirements:
        notes.append(Note("python", "no Python distribution was found to capture; add your requirements"))
    return Draft(source=f"the Python environment of {executable}", python=minor(info["version"]), platform=platform,
                 name=_name(info["prefix"]), distro=distro, requirements=captured.requirements, system=system,
                 facts=tuple(facts), notes=tuple(notes), prefer=captured.prefer)


def _name(prefix: str) -> str:
    """A name for the environment: its venv's project folder (``~/src/trainer/.venv`` -> trainer)."""
    path = Path(prefix)
    name = path.parent.name if path.name in (".venv", "venv", "env") else path.name
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip(".-_")
    return cleaned if cleaned and cleaned not in ("usr", "local") else "default"


def host_distro(root: Path) -> tuple[str, str]:
    from envbuild.check import probe
    from envbuild.spec import parse_distro

    release = probe.os_release(str(root))
    if release is None:
        raise EnvbuildError(f"{root / 'etc/os-release'}: not found, so the distribution is unknown")
    distro = parse_distro(f"{release['id']}:{release['version_id']}")
    return f"{distro.id}:{distro.codename}", release["pretty"] or distro.name


def _dpkg(root: Path) -> list[dict[str, str]]:
    """The stanzas of dpkg's status file, with the fields init needs ([] when the host has no dpkg)."""
    from envbuild.check.probe import read_stanzas

    fields = ("Package", "Status", "Architecture", "Priority", "Essential", "Version")
    return read_stanzas(str(root / "var/lib/dpkg/status"), fields) or []


def _auto(root: Path) -> set[tuple[str, str]]:
    """(package, architecture) that apt marked automatically installed (``apt-mark showauto``)."""
    from envbuild.check.probe import read_stanzas

    stanzas = read_stanzas(str(root / "var/lib/apt/extended_states"), ("Package", "Architecture", "Auto-Installed"))
    return {(s["Package"], s.get("Architecture", "")) for s in stanzas or ()
            if s.get("Auto-Installed") == "1" and "Package" in s}


def manual_packages(dpkg: list[dict[str, str]], auto: set[tuple[str, str]], arch: str,
                    ) -> tuple[tuple[str, ...], list[Note]]:
    """The packages installed on purpose: not marked automatic by apt, not part of every install of the distro
    (Essential, or Priority required), of this architecture."""
    chosen, foreign, basic = [], [], 0
    for stanza in dpkg:
        name, package_arch = stanza.get("Package", ""), stanza.get("Architecture", "")
        if not name or not stanza.get("Status", "").endswith(" installed") or (name, package_arch) in auto:
            continue
        if stanza.get("Essential") == "yes" or stanza.get("Priority") in KEEP_PRIORITIES:
            basic += 1
        elif package_arch not in (arch, "all"):
            foreign.append(f"{name}:{package_arch}")
        else:
            chosen.append(name)
    notes = [Note("system", f"{len(chosen)} apt packages were installed on purpose (apt-mark showmanual); "
                            f"{basic} more come with every install of the distro (Essential or Priority: required)",
                  warn=False)] if dpkg else []
    if foreign:
        notes.append(Note("system", f"{', '.join(sorted(foreign))}: not captured, packages of another "
                                    "architecture (multiarch)"))
    return tuple(sorted(set(chosen))), notes


def _interpreter_notes(executable: str, info: dict[str, str], dpkg: list[dict[str, str]]) -> list[Note]:
    """Is the interpreter the distro's (which the lock then pins)?  Say so when it is not."""
    real = os.path.realpath(executable)
    package = f"python{minor(info['version'])}"
    installed = {s.get("Package") for s in dpkg if s.get("Status", "").endswith(" installed")}
    if real.startswith("/usr/bin/") and package in installed:
        return []
    if (Path(info["prefix"]) / "conda-meta").is_dir():
        return [Note("environment", f"the interpreter is a conda environment's ({info['prefix']}); its conda "
                                    "packages are not captured: export them (conda env export --from-history > "
                                    "environment.yml) and run envbuild init --from environment.yml")]
    return [Note("environment", f"the interpreter ({real}) is not the distro's {package}; the lock pins the "
                                "distro's, so set base-image to an image with this Python, or install "
                                f"{package} from the distro")]


def gpu_facts(root: Path = Path("/")) -> tuple[list[str], str | None]:
    """(comment lines on the driver, GPUs and a CUDA toolkit in /usr/local/cuda; the driver's CUDA version)."""
    from envbuild.check import nvidia

    facts = []
    gpu = nvidia.devices() if root == Path("/") else None
    if gpu:
        names = ", ".join(f"{g['name']} (sm {g['compute_capability']})" for g in gpu.get("gpus") or [])
        facts.append(f"NVIDIA driver {gpu['driver']}" + (f", CUDA {gpu['cuda_driver']}" if gpu.get("cuda_driver")
                                                         else "") + (f": {names}" if names else "") + ".")
    version_file = root / "usr/local/cuda/version.json"
    try:
        toolkit = json.loads(version_file.read_text())["cuda"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        toolkit = None
    if toolkit:
        facts.append(f"CUDA toolkit {toolkit} in /usr/local/cuda (not from apt: not in the lock).")
    return facts, (gpu or {}).get("cuda_driver")
