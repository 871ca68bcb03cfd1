"""Capture a live environment (``envbuild init --from-host [--python PATH]``): its top-level Python distributions
at their installed versions, the distro and interpreter, the apt packages installed on purpose, and the GPU.

The environment is the one ``envbuild check`` would look at (``check.locate``), read by the check's own probe, so
the spec written from it describes what the check will compare.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from envbuild.capture import Draft, Note
from envbuild.capture.dists import Installed, markers, read_dist_info, top_level
from envbuild.errors import EnvbuildError
from envbuild.platforms import PLATFORMS, host
from envbuild.versions import minor

KEEP_PRIORITIES = ("required",)  # every install of the distro has these: not asked for by anyone


def capture_host(python: str | None, lock: Path, root: Path = Path("/"), python_image: str | None = None) -> Draft:
    """The environment of PYTHON (else the one the check would pick for LOCK) on this host (its files under ROOT).
    An interpreter that is not the distro's release is pinned through a base image that has it: PYTHON_IMAGE, else
    the official python image of this Debian release."""
    from envbuild.check import locate, probe, query

    where = locate.target(python=python, lock=str(lock))
    executable = str(where["path"])
    info = query.describe(executable)
    found = probe.distributions(info["path"])
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
    pinned = Pinned(minor(info["version"]))
    if PLATFORMS[platform].linux:
        distro, release = host_distro(root)
        facts.append(f"Host: {release}, {platform}.")
        dpkg = _dpkg(root)
        system, apt_notes = manual_packages(dpkg, _auto(root), PLATFORMS[platform].deb_arch or "")
        notes += apt_notes
        pinned = pin_interpreter(executable, info, dpkg, distro, python_image)
        notes += pinned.notes
    facts += gpu_facts(root)[0]
    if not captured.requirements:
        notes.append(Note("python", "no Python distribution was found to capture; add your requirements"))
    return Draft(source=f"the Python environment of {executable}", python=pinned.python, platform=platform,
                 name=_name(info["prefix"]), distro=None if pinned.base_image else distro,
                 base_image=pinned.base_image, distro_fallback=distro if pinned.base_image and not python_image
                 else None, requirements=captured.requirements, system=system,
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


@dataclass(frozen=True)
class Pinned:
    """How the spec pins the captured interpreter: its [environment] python, and the base image that has it."""

    python: str  # "3.11" (the distro's release of it), or the exact "3.11.7" a base image provides
    base_image: str | None = None
    notes: tuple[Note, ...] = ()


def pin_interpreter(executable: str, info: dict[str, str], dpkg: list[dict[str, str]], distro: str,
                    python_image: str | None) -> Pinned:
    """The distro's interpreter is pinned by the lock as the distro's package.  Another one (pyenv's, uv's, one
    built into /usr/local) of another release is pinned exactly, through a base image that has it: PYTHON_IMAGE,
    else the official python image of this Debian release (python:3.11.7-slim-bookworm); the lock then finds
    that release in the image (PYTHON_VERSION, and the interpreter on its PATH) and pins its digest."""
    real = os.path.realpath(executable)
    version = info["version"]
    package = f"python{minor(version)}"
    versions = {s.get("Package"): s.get("Version", "") for s in dpkg if s.get("Status", "").endswith(" installed")}
    if (Path(info["prefix"]) / "conda-meta").is_dir():
        return Pinned(minor(version), notes=(Note(
            "environment", f"the interpreter is a conda environment's ({info['prefix']}); its conda packages are not "
                           "captured: export them (conda env export --from-history > environment.yml) and run "
                           "envbuild init --from environment.yml"),))
    release = _upstream(versions.get(package, ""))
    if python_image is None and (release == version or (real.startswith("/usr/bin/") and package in versions)):
        same = "" if real.startswith("/usr/bin/") else (
            f"the interpreter ({real}) is not the distro's {package}, but the same release ({version}): the lock "
            "pins the distro's")
        return Pinned(minor(version), notes=(Note("environment", same, warn=False),) if same else ())
    distro_id, _, codename = distro.partition(":")
    image = python_image or (f"docker.io/library/python:{version}-slim-{codename}" if distro_id == "debian" else None)
    where = f"the distro's {package} is {release}" if release else f"the distro's {package} is not installed"
    if image is None:
        return Pinned(minor(version), notes=(Note(
            "environment", f"the interpreter ({real}) is Python {version}, and {where}: the lock pins the distro's; "
                           f"give --python-image REF (an image of {distro} that has Python {version} on its PATH "
                           "and says PYTHON_VERSION) to pin this one"),))
    return Pinned(version, image, notes=(Note(
        "environment", f"the interpreter ({real}) is Python {version}, and {where}: pinned through the base image "
                       f"{image}, which has it{'' if python_image else ' (--python-image REF names another)'}"),))


def _upstream(debian_version: str) -> str | None:
    """The upstream release of a Debian version (3.11.2-6+deb12u6 -> 3.11.2), None for none."""
    text = debian_version.partition(":")[2] if ":" in debian_version else debian_version
    head = text.split("-", 1)[0].split("+", 1)[0].split("~", 1)[0]
    return head or None


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
