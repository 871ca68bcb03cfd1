"""Capture a file a team already has (``envbuild init --from FILE``): a requirements.txt, a pyproject.toml or a
conda environment.yml.

A plain requirements file (requirements and ``-r`` includes only) is referenced by the spec
(``requirements-files``), so the team keeps editing it; one with pip options has its requirements copied in, its
indexes moved to ``[python]`` and whatever cannot be kept (``-e``, ``--find-links``, local paths) said.  The target is
this host's platform and distro when envbuild knows them, else linux/amd64 on Debian bookworm, noted in the spec.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envbuild.capture import Draft, Note, clean_name
from envbuild.compat import tomllib
from envbuild.errors import ConfigError, EnvbuildError
from envbuild.platforms import PLATFORMS, host
from envbuild.spec.python import logical_lines

FALLBACK = ("linux/amd64", "debian:bookworm", "3.11")  # platform, distro, its python3
_MINORS = tuple(f"3.{n}" for n in range(8, 15))


def capture_file(path: Path, spec_dir: Path) -> Draft:
    if not path.is_file():
        raise EnvbuildError(f"--from {path}: no such file")
    name = path.name.lower()
    if name.endswith((".yml", ".yaml")):
        return _environment_yml(path)
    if name == "pyproject.toml":
        return _pyproject(path)
    if name.endswith((".txt", ".in")) or "requirements" in name:
        return _requirements(path, spec_dir)
    raise EnvbuildError(f"--from {path}: not a file init reads (a requirements .txt/.in, a pyproject.toml or a "
                        "conda environment.yml)")


def default_target(root: Path = Path("/")) -> tuple[str, str, str, list[Note]]:
    """(platform, distro, the distro's python3, notes): this host's when envbuild knows it, else FALLBACK."""
    from envbuild.capture.host import host_distro
    from envbuild.spec import parse_distro

    platform = host()
    if platform is not None and PLATFORMS[platform].linux:
        try:
            distro, release = host_distro(root)
        except EnvbuildError:
            pass
        else:
            return platform, distro, parse_distro(distro).python3, [Note(
                "environment", f"the target is this host's platform and distro ({release}); set base-image or "
                               "distro to your cluster's", warn=False)]
    return (*FALLBACK, [Note("environment", f"the target is {FALLBACK[0]} on {FALLBACK[1]} (this host is not a "
                                            "Linux envbuild knows); set base-image or distro to your cluster's")])


def _python_for(requires: str | None, distro_python: str, where: str) -> tuple[str, list[Note]]:
    """The Python to ask for: the distro's when REQUIRES (requires-python) allows it, else the oldest it allows."""
    if not requires:
        return distro_python, []
    try:
        allowed = SpecifierSet(requires)
    except InvalidSpecifier:
        raise EnvbuildError(f"{where}: requires-python {requires!r} is not a version specifier") from None
    if allowed.contains(f"{distro_python}.0") or allowed.contains(f"{distro_python}.99"):
        return distro_python, []
    for candidate in _MINORS:
        if allowed.contains(f"{candidate}.0") or allowed.contains(f"{candidate}.99"):
            return candidate, [Note("environment", f"requires-python {requires!r} excludes the distro's Python "
                                                   f"{distro_python}: set base-image to an image with Python "
                                                   f"{candidate} (for example docker.io/library/python:{candidate}-"
                                                   "slim-bookworm)")]
    raise EnvbuildError(f"{where}: requires-python {requires!r} allows no CPython envbuild knows")


def _target_draft(source: str, requires_python: str | None, where: str, **fields: Any) -> Draft:
    platform, distro, distro_python, notes = default_target()
    python, more = _python_for(requires_python, distro_python, where)
    fields.setdefault("notes", ())
    return Draft(source=source, platform=platform, distro=distro, python=python,
                 **{**fields, "notes": (*notes, *more, *fields["notes"])})


# ---------------------------------------------------------------------------------------------------------
# requirements.txt


def _requirements(path: Path, spec_dir: Path) -> Draft:
    requirements, options, notes = read_pip_file(path)
    try:
        relative = Path(os.path.relpath(path.resolve(), spec_dir.resolve()))
    except ValueError:  # another drive
        relative = path
    inside = not relative.is_absolute() and ".." not in relative.parts
    name = clean_name(spec_dir.resolve().name)  # the project's folder: a requirements file names no project
    if inside and not options and not notes:
        return _target_draft(str(path), None, str(path), name=name, requirements_files=(relative.as_posix(),))
    return _target_draft(str(path), None, str(path), name=name, requirements=tuple(requirements),
                         index_url=options.get("index-url"), extra_index_urls=tuple(options.get("extra", ())),
                         notes=tuple(notes))


_OPTION = re.compile(r"^(-[a-zA-Z]|--[a-z-]+)(?:[ =]\s*(\S+))?\s*(.*)$")


def read_pip_file(path: Path, _seen: frozenset[Path] = frozenset()) -> tuple[list[str], dict[str, Any], list[Note]]:
    """(requirements, {index-url, extra}, notes) of a pip requirements file, following ``-r``."""
    if path.resolve() in _seen:
        raise ConfigError(str(path), "", "includes itself (a -r cycle)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None
    requirements: list[str] = []
    options: dict[str, Any] = {}
    notes: list[Note] = []
    for lineno, raw in logical_lines(text):
        where = f"{path.name} line {lineno}"
        line = re.sub(r"\s--hash[ =]\S+", "", raw).strip()  # hashes come from the lock
        if line.startswith("-"):
            match = _OPTION.match(line)
            flag, value = (match.group(1), match.group(2)) if match else (line.split()[0], None)
            if flag in ("-r", "--requirement") and value:
                more, more_options, more_notes = read_pip_file(path.parent / value, _seen | {path.resolve()})
                requirements += more
                notes += more_notes
                options.setdefault("extra", []).extend(more_options.get("extra", []))
                options.setdefault("index-url", more_options.get("index-url"))
                options = {k: v for k, v in options.items() if v}
                options.setdefault("-r", True)
            elif flag in ("-i", "--index-url") and value:
                options["index-url"] = value
            elif flag == "--extra-index-url" and value:
                options.setdefault("extra", []).append(value)
            elif flag in ("-e", "--editable"):
                notes.append(Note("python", f"{where}: {line}: not captured, an editable install (install it "
                                            "yourself after envbuild sync: pip install -e <path> --no-deps)"))
            else:
                notes.append(Note("python", f"{where}: {line}: not captured, pip option {flag} has no place in a "
                                            "spec (indexes go in [python] index-url / extra-index-urls)"))
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            notes.append(Note("python", f"{where}: {line}: not captured, not a PEP 508 requirement (a local path "
                                        "or URL?)"))
            continue
        if req.url:
            notes.append(Note("python", f"{where}: {line}: not captured, a direct URL requirement (add it to "
                                        "[python] requirements if it is reachable: it is locked with its sha256, "
                                        "or its commit; a local file must lie inside the project)"))
            continue
        requirements.append(str(req))
    options.pop("-r", None)
    return requirements, options, notes


# ---------------------------------------------------------------------------------------------------------
# pyproject.toml


def _pyproject(path: Path) -> Draft:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "cannot read: nested deeper than a pyproject.toml can be") from None
    project = doc.get("project")
    if not isinstance(project, dict):
        raise ConfigError(str(path), "[project]", "missing: init reads [project] dependencies")
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise ConfigError(str(path), "[project] -> dependencies", "must be a list of strings")
    notes = []
    requirements = []
    for text in dependencies:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise ConfigError(str(path), "[project] -> dependencies", f"{text!r}: {exc}") from None
        if req.url:
            notes.append(Note("python", f"{text}: not captured, a direct URL requirement"))
        else:
            requirements.append(str(req))
    name = str(project.get("name", "default"))
    optional = sorted(project.get("optional-dependencies", {}) or {})
    if optional:
        notes.append(Note("python", f"optional dependencies ({', '.join(optional)}) are not included; add the ones "
                                    "your environment needs to requirements", warn=False))
    notes.append(Note("python", f"the project itself ({name}) is not in the lock: after envbuild sync, install it "
                                "with pip install -e . --no-deps", warn=False))
    requires = project.get("requires-python")
    return _target_draft(str(path), requires if isinstance(requires, str) else None, f"{path} [project]",
                         name=clean_name(name), requirements=tuple(requirements), notes=tuple(notes))


# ---------------------------------------------------------------------------------------------------------
# environment.yml


def _environment_yml(path: Path) -> Draft:
    try:
        import yaml
    except ImportError:
        raise EnvbuildError("reading a conda environment.yml needs the conda extra: pip install 'envbuild[conda]'"
                            ) from None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "cannot read: nested deeper than an environment file can be") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        raise ConfigError(str(path), "dependencies", "missing: a conda environment file lists its dependencies")
    channels = [str(c) for c in doc.get("channels") or [] if str(c) != "nodefaults"] or ["conda-forge"]
    packages: list[str] = []
    pip: list[str] = []
    notes: list[Note] = []
    for i, item in enumerate(doc["dependencies"]):
        if isinstance(item, str):
            packages.append(" ".join(item.split()))
        elif isinstance(item, dict) and set(item) == {"pip"} and isinstance(item["pip"], list):
            pip += [str(p) for p in item["pip"]]
        else:
            raise ConfigError(str(path), f"dependencies[{i}]", "is neither a MatchSpec nor a pip: list")
    requirements, options, pip_notes = _pip_lines(pip, path)
    notes += pip_notes
    platform, distro, distro_python, target_notes = default_target()
    from envbuild.capture.host import gpu_facts

    facts, cuda = gpu_facts()
    if cuda:
        notes.append(Note("conda", f"cuda = \"{cuda}\" is this host's driver ({facts[0].rstrip('.')}): CUDA builds are "
                                   "chosen for it; set the driver's CUDA version of the cluster you train on",
                          warn=False))
    python, packages, more = _conda_python(packages, distro_python)
    notes += more
    if requirements and not any(re.match(r"^pip\b", p) for p in packages):
        packages.append("pip")
    return Draft(source=str(path), platform=platform, distro=distro, python=python,
                 name=clean_name(str(doc.get("name") or "default")), conda_channels=tuple(channels),
                 conda_packages=tuple(packages), conda_cuda=cuda, requirements=tuple(requirements),
                 facts=tuple(facts),
                 index_url=options.get("index-url"), extra_index_urls=tuple(options.get("extra", ())),
                 notes=(*target_notes, *notes))


def _pip_lines(lines: list[str], path: Path) -> tuple[list[str], dict[str, Any], list[Note]]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="envbuild-init-") as tmp:
        pip_file = Path(tmp) / "pip"
        pip_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        requirements, options, notes = read_pip_file(pip_file)
    return requirements, options, [Note(n.section, n.text.replace("pip line", f"{path.name} pip: line"), n.warn)
                                   for n in notes]


def _conda_python(packages: list[str], distro_python: str) -> tuple[str, list[str], list[Note]]:
    """The Python the conda environment holds ("3.11"), with its MatchSpec pinned to a minor when it was bare (the
    distro's: without conda's, the interpreter is the distro's)."""
    for i, spec in enumerate(packages):
        match = re.match(r"^python(?:\s*[= ]=?\s*|\s*==\s*)(3\.\d+)", spec)
        if match:
            return match.group(1), packages, []
        if re.fullmatch(r"python(\s*[<>].*)?", spec):
            chosen = distro_python
            pinned = [*packages[:i], f"python={chosen}", *packages[i + 1:]]
            return chosen, pinned, [Note("conda", f"{spec!r} pinned to python={chosen}: the spec names the exact "
                                                  "Python release the environment is for")]
    return distro_python, packages, []
