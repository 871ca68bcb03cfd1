"""Finding, reading and validating the spec: every error names the file and the key path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envbuild import data
from envbuild.compat import tomllib
from envbuild.errors import ConfigError, EnvbuildError, SpecNotFound
from envbuild.platforms import PLATFORMS, canonical
from envbuild.spec.builds import canonical_names
from envbuild.spec.conda import parse_conda
from envbuild.spec.model import (
    DEFAULT_IGNORE_EXTRA,
    PYPROJECT,
    SPEC_FILE,
    CheckSpec,
    CudaSpec,
    Distro,
    Environment,
    Spec,
    SystemSpec,
)
from envbuild.spec.python import parse_python
from envbuild.spec.urls import check_url
from envbuild.validate import Table
from envbuild.validate import shown as shown_path

_PYTHON_RE = re.compile(r"^3\.\d{1,2}(\.\d{1,3})?$")
_APT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$")
_CUDA_RE = re.compile(r"^(auto|none|\d{1,2}\.\d{1,2}(\.\d{1,3})?)$")

def find_spec(path: Path | None = None, cwd: Path | None = None) -> Path:
    """The spec file to use: PATH as given, else ./envbuild.toml, else ./pyproject.toml with [tool.envbuild]."""
    if path is not None:
        if path.is_dir():
            return find_spec(None, cwd=path)
        if not path.exists():
            raise EnvbuildError(f"{path}: no such spec file")
        return path
    here = cwd or Path.cwd()
    candidate = here / SPEC_FILE
    if candidate.is_file():
        return candidate
    pyproject = here / PYPROJECT
    if pyproject.is_file() and b"[tool.envbuild" in pyproject.read_bytes():
        return pyproject
    raise SpecNotFound([SPEC_FILE, f"[tool.envbuild] in {PYPROJECT}"])


def load_spec(path: Path | None = None) -> Spec:
    """Find, read and validate the spec.  Raises ``ConfigError`` naming the file and key on bad input."""
    spec_path = find_spec(path)
    shown = shown_path(spec_path)
    try:
        raw = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"invalid TOML: {exc}") from None
    except RecursionError:  # tomllib's own limit for inline arrays and tables, or Python's
        raise ConfigError(shown, "", "invalid TOML: nested deeper than a spec can be") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, "", f"cannot read: {exc}") from None
    prefix = ""
    if spec_path.name == PYPROJECT:
        tool = raw.get("tool", {})
        if not isinstance(tool, dict) or "envbuild" not in tool:
            raise ConfigError(shown, "", "no [tool.envbuild] table")
        raw = tool["envbuild"]
        prefix = "tool.envbuild."
        if not isinstance(raw, dict):
            raise ConfigError(shown, "[tool.envbuild]", "must be a table")
    return parse_spec(raw, spec_path.resolve(), shown=shown, prefix=prefix)


_TABLES = ("environment", "python", "system", "cuda", "conda", "env", "check", "image")


def parse_spec(raw: dict[str, Any], path: Path, *, shown: str | None = None, prefix: str = "") -> Spec:
    """Validate a parsed TOML document into a ``Spec``."""
    shown = shown or str(path)
    for key in sorted(raw):
        if key not in _TABLES:
            where = f"[{prefix.rstrip('.')}] -> {key}" if prefix else key
            raise ConfigError(shown, where, f"unknown key (known tables: {', '.join(_TABLES)})")

    def table(name: str) -> Table:
        return Table(shown, prefix + name, raw.get(name))

    environment = _parse_environment(table("environment"))
    python = parse_python(table("python"), path.parent, shown)
    system = _parse_system(table("system"), path.parent)
    if system.packages and not environment.linux:
        raise ConfigError(shown, f"[{prefix}system] -> packages", "apt packages need a Linux platform "
                          f"(the spec's: {', '.join(environment.platforms)})")
    cuda = _parse_cuda(table("cuda"))
    env = table("env").variables()
    check = _parse_check(table("check"))
    conda = parse_conda(table("conda"))
    from envbuild.layerplan import parse_layers

    image_layers = parse_layers(table("image"))
    if not python.requirements and not conda.present:
        raise ConfigError(shown, f"[{prefix}python] -> requirements", "lists no Python requirement (here or in "
                          "requirements-files), and there are no [conda] packages")
    if python.from_conda and not conda.present:
        raise ConfigError(shown, f"[{prefix}python] -> from-conda", "names Python packages of the conda environment, "
                          "but the spec has no [conda] packages")
    if conda.present and python.resolver != "uv":
        raise ConfigError(shown, f"[{prefix}python] -> resolver", "with [conda], the pip layer is resolved by uv, for "
                          "the conda environment's interpreter; remove resolver = \"pip-tools\"")
    return Spec(path=path, environment=environment, python=python, system=system, cuda=cuda, env=env,
                check=check, conda=conda, image_layers=image_layers)


def _parse_environment(t: Table) -> Environment:
    t.only("name", "platform", "platforms", "python", "base-image", "distro")
    name = t.string("name", default=None) or "default"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
        raise t.error(["name"], f"{name!r}: use letters, digits, '.', '_' and '-'")
    platforms = _parse_platforms(t)
    python = t.string("python", required=True) or ""
    if not _PYTHON_RE.match(python):
        raise t.error(["python"], f"{python!r} is not a CPython version such as \"3.11\" or \"3.11.9\"")
    base_image = t.string("base-image")
    distro_text = t.string("distro")
    distro = parse_distro(distro_text, t) if distro_text else None
    linux = any(PLATFORMS[p].linux for p in platforms)
    if linux and base_image is None and distro is None:
        raise t.error(["distro"], 'is required when there is no base-image (for example "debian:bookworm")')
    if not linux and (base_image or distro):
        raise t.error(["base-image" if base_image else "distro"], "applies to Linux platforms, and "
                      f"{', '.join(platforms)} has none")
    return Environment(name=name, platforms=platforms, python=python, base_image=base_image, distro=distro)


def _parse_platforms(t: Table) -> tuple[str, ...]:
    """``platform = "linux/amd64"`` (the default), or ``platforms = [...]`` for one lock of several targets."""
    if t.get("platform") is not None and t.get("platforms") is not None:
        raise t.error(["platforms"], "give platform or platforms, not both")
    if t.get("platforms") is not None:
        given, key = list(t.strings("platforms")), "platforms"
        if not given:
            raise t.error(["platforms"], "lists no platform")
    else:
        given, key = [t.string("platform", default="linux/amd64") or "linux/amd64"], "platform"
    out: list[str] = []
    for i, text in enumerate(given):
        platform = canonical(text)
        where: list[str | int] = [key, i] if key == "platforms" else [key]
        if platform not in PLATFORMS:
            raise t.error(where, f"{text!r} is not supported (use one of: {', '.join(PLATFORMS)})")
        if platform in out:
            raise t.error(where, f"{platform!r} is listed twice")
        out.append(platform)
    return tuple(out)


def known_distros() -> Iterator[Distro]:
    for distro_id, releases in data.load("distros").items():
        for version, row in releases.items():
            yield Distro(id=distro_id, version=version, codename=row["codename"], glibc=row["glibc"],
                         python3=row["python3"])


def parse_distro(text: str, t: Table | None = None) -> Distro:
    """``debian:bookworm``, ``debian:12`` or ``ubuntu:22.04`` to a known ``Distro``."""
    distro_id, _, release = text.lower().partition(":")
    for distro in known_distros():
        if distro.id == distro_id and release in (distro.version, distro.codename):
            return distro
    known = ", ".join(f"{d.id}:{d.codename}" for d in known_distros())
    problem = f"{text!r} is not a distribution envbuild knows (known: {known})"
    if t is None:
        raise EnvbuildError(problem)
    raise t.error(["distro"], problem)



def _parse_system(t: Table, root: Path) -> SystemSpec:
    t.only("packages", "mirror", "security-mirror", "signed-by", "insecure-unsigned")
    packages = t.strings("packages")
    for i, name in enumerate(packages):
        if not _APT_NAME_RE.match(name):
            raise t.error(["packages", i], f"{name!r} is not a Debian package name")
    mirror = t.string("mirror")
    if mirror is not None and mirror.startswith("snapshot:"):
        if not re.fullmatch(r"snapshot:\d{8}T\d{6}Z", mirror):
            raise t.error(["mirror"], f"{mirror!r}: write a snapshot as snapshot:YYYYMMDDTHHMMSSZ "
                                      "(e.g. snapshot:20251120T000000Z)")
    elif mirror is not None:
        check_url(mirror, lambda problem: t.error(["mirror"], problem))
    security = t.string("security-mirror")
    if security is not None and security != "none":
        check_url(security, lambda problem: t.error(["security-mirror"], problem))
    signed_by = t.string("signed-by")
    if signed_by is not None:
        if mirror is None and security is None:
            raise t.error(["signed-by"], "is the key of a mirror the spec names; set mirror (or security-mirror), "
                                         "or remove it: the distribution's own archives use its archive keys")
        if not (root / signed_by).is_file():
            raise t.error(["signed-by"], f"{signed_by}: no such key file (paths are relative to the spec)")
    insecure = t.boolean("insecure-unsigned")
    if insecure and signed_by:
        raise t.error(["insecure-unsigned"], "and signed-by contradict each other; keep one")
    return SystemSpec(packages=tuple(sorted(set(packages))), mirror=mirror, security_mirror=security,
                      signed_by=signed_by, insecure_unsigned=insecure)


def _parse_cuda(t: Table) -> CudaSpec:
    t.only("version")
    version = t.string("version", default="auto") or "auto"
    if not _CUDA_RE.match(version):
        raise t.error(["version"], f'{version!r}: use "auto", "none" or a CUDA version such as "12.4"')
    return CudaSpec(version=version)


def _parse_check(t: Table) -> CheckSpec:
    t.only("ignore-extra")
    value = t.get("ignore-extra")
    if value is None:
        return CheckSpec(ignore_extra=DEFAULT_IGNORE_EXTRA)  # already normalised and sorted
    return CheckSpec(ignore_extra=canonical_names(t.strings("ignore-extra")))
