"""The spec: ``envbuild.toml`` (or ``[tool.envbuild]`` in pyproject.toml), parsed once into frozen dataclasses.

Everything is validated here, at the edge, and every error names the file and the key path
(``envbuild.toml: [python] -> requirments: unknown key``).  After ``load_spec`` the code trusts its types.

``spec_hash`` is computed over *normalised facts* (sorted, canonical requirement strings, the contents of
requirements files rather than their paths), never over a serialised object, so that reformatting the spec
or upgrading envbuild does not invalidate every lock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envbuild import data
from envbuild.compat import tomllib
from envbuild.errors import ConfigError, EnvbuildError, SpecNotFound
from envbuild.platforms import PLATFORMS, Platform, canonical
from envbuild.validate import Table
from envbuild.validate import shown as shown_path

SPEC_FILE = "envbuild.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_INDEX = "https://pypi.org/simple"
RESOLVERS = ("uv", "pip-tools")
DEFAULT_IGNORE_EXTRA = ("pip", "setuptools", "wheel")

_PYTHON_RE = re.compile(r"^3\.\d{1,2}(\.\d{1,3})?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_APT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CUDA_RE = re.compile(r"^(auto|none|\d{1,2}\.\d{1,2}(\.\d{1,3})?)$")


@dataclass(frozen=True)
class Distro:
    """A target distribution release: ``debian:12`` (bookworm)."""

    id: str
    version: str
    codename: str
    glibc: str
    python3: str

    @property
    def name(self) -> str:
        return f"{self.id}:{self.version}"


@dataclass(frozen=True)
class Environment:
    name: str
    platforms: tuple[str, ...]  # the targets, in the spec's order (the first one leads a multi-platform lock)
    python: str
    base_image: str | None = None  # for the Linux platforms
    distro: Distro | None = None  # for the Linux platforms (else read from the base image)

    @property
    def platform(self) -> str:
        """The first (for most specs, the only) target."""
        return self.platforms[0]

    def targets(self) -> tuple[Platform, ...]:
        return tuple(PLATFORMS[p] for p in self.platforms)

    @property
    def linux(self) -> bool:
        """Does any target run Linux (so apt, CUDA and a base image apply)?"""
        return any(PLATFORMS[p].linux for p in self.platforms)


@dataclass(frozen=True)
class PythonSpec:
    requirements: tuple[str, ...]  # canonical PEP 508 strings, inline and from requirements files, sorted
    requirements_files: tuple[str, ...] = ()  # as written, relative to the spec
    index_url: str = DEFAULT_INDEX  # may hold ${VAR} placeholders; expanded only when resolving
    extra_index_urls: tuple[str, ...] = ()
    resolver: str = "uv"


@dataclass(frozen=True)
class SystemSpec:
    packages: tuple[str, ...] = ()
    mirror: str | None = None  # a URL, or "snapshot:YYYYMMDDTHHMMSSZ"
    security_mirror: str | None = None  # a URL, or "none"


@dataclass(frozen=True)
class CudaSpec:
    version: str = "auto"


@dataclass(frozen=True)
class CheckSpec:
    ignore_extra: tuple[str, ...] = DEFAULT_IGNORE_EXTRA


@dataclass(frozen=True)
class Spec:
    path: Path  # the file it was read from (envbuild.toml or pyproject.toml)
    environment: Environment
    python: PythonSpec
    system: SystemSpec = SystemSpec()
    cuda: CudaSpec = CudaSpec()
    env: tuple[tuple[str, str], ...] = ()
    check: CheckSpec = field(default_factory=CheckSpec)

    @property
    def root(self) -> Path:
        return self.path.parent

    def default_lock_path(self) -> Path:
        return self.root / "envbuild.lock"


# --------------------------------------------------------------------------------------------------------
# Finding and reading the file


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


_TABLES = ("environment", "python", "system", "cuda", "env", "check")


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
    python = _parse_python(table("python"), path.parent, shown)
    system = _parse_system(table("system"))
    if system.packages and not environment.linux:
        raise ConfigError(shown, f"[{prefix}system] -> packages", "apt packages need a Linux platform "
                          f"(the spec's: {', '.join(environment.platforms)})")
    cuda = _parse_cuda(table("cuda"))
    env = _parse_env(table("env"))
    check = _parse_check(table("check"))
    return Spec(path=path, environment=environment, python=python, system=system, cuda=cuda, env=env,
                check=check)


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


def _parse_python(t: Table, root: Path, shown: str) -> PythonSpec:
    t.only("requirements", "requirements-files", "index-url", "extra-index-urls", "resolver")
    requirements: dict[str, str] = {}
    for i, text in enumerate(t.strings("requirements")):
        req = _parse_requirement(text, lambda problem, i=i: t.error(["requirements", i], problem))
        requirements[str(req)] = str(req)
    files = t.strings("requirements-files")
    for i, rel in enumerate(files):
        file_path = root / rel
        if not file_path.is_file():
            raise t.error(["requirements-files", i], f"{rel}: no such file (paths are relative to {shown})")
        for req in read_requirements_file(file_path, shown_as=rel):
            requirements[str(req)] = str(req)
    if not requirements:
        raise t.error(["requirements"], "lists no Python requirement (here or in requirements-files)")
    index_url = t.string("index-url", default=DEFAULT_INDEX) or DEFAULT_INDEX
    _check_url(index_url, lambda problem: t.error(["index-url"], problem))
    extras = t.strings("extra-index-urls")
    for i, url in enumerate(extras):
        _check_url(url, lambda problem, i=i: t.error(["extra-index-urls", i], problem))
    resolver = t.string("resolver", default="uv") or "uv"
    if resolver not in RESOLVERS:
        raise t.error(["resolver"], f"{resolver!r} is not a resolver (use one of: {', '.join(RESOLVERS)})")
    return PythonSpec(requirements=tuple(sorted(requirements, key=_req_sort_key)), requirements_files=files,
                      index_url=index_url, extra_index_urls=extras, resolver=resolver)


def _req_sort_key(text: str) -> tuple[str, str]:
    return (canonicalize_name(Requirement(text).name), text)


def _parse_requirement(text: str, error: Any) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise error(f"invalid requirement {text!r}: {str(exc).splitlines()[0]}") from None
    req.name = canonicalize_name(req.name)
    return req


def read_requirements_file(path: Path, shown_as: str, _seen: frozenset[Path] = frozenset()) -> list[Requirement]:
    """Read a requirements file: one PEP 508 requirement a line, comments, continuations and ``-r FILE``.

    Other pip options are refused, since the spec carries indexes and the lock carries hashes.
    """
    if path.resolve() in _seen:
        raise ConfigError(shown_as, "", "includes itself (a -r cycle)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown_as, "", f"cannot read: {exc}") from None
    out: list[Requirement] = []
    for lineno, line in _logical_lines(text):
        where = f"line {lineno}"
        if line.startswith(("-r ", "--requirement ", "--requirement=")):
            target = re.split(r"[ =]", line, maxsplit=1)[1].strip()
            out += read_requirements_file(path.parent / target, f"{shown_as} -> {target}",
                                          _seen | {path.resolve()})
            continue
        if line.startswith("-"):
            raise ConfigError(shown_as, where, f"{line.split()[0]}: pip options are not read here; put indexes in "
                              "[python] index-url / extra-index-urls (hashes come from the lock)")

        def error(problem: str, where: str = where) -> ConfigError:
            return ConfigError(shown_as, where, problem)

        out.append(_parse_requirement(line, error))
    return out


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = lineno
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield start, line
    if pending.strip():
        yield start, pending.strip()


def _check_url(url: str, error: Any) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
        raise error(f"{url!r} is not an http(s) or file URL")
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo and not all(_VAR_RE.fullmatch(part) for part in userinfo.split(":")):
        raise error("holds credentials: they would be committed with the spec; write ${VARIABLE} placeholders "
                    "(expanded from the environment when locking) or use ~/.netrc")


def placeholders(url: str) -> list[str]:
    """The names of the ``${VAR}`` placeholders in URL."""
    return _VAR_RE.findall(url)


def expand_url(url: str, where: str) -> str:
    """Replace ``${VAR}`` placeholders from the environment.  Only resolvers see the result, never the lock."""

    def sub(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise EnvbuildError(f"{where}: ${{{match.group(1)}}} is not set in the environment")
        return value

    return _VAR_RE.sub(sub, url)


def _parse_system(t: Table) -> SystemSpec:
    t.only("packages", "mirror", "security-mirror")
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
        _check_url(mirror, lambda problem: t.error(["mirror"], problem))
    security = t.string("security-mirror")
    if security is not None and security != "none":
        _check_url(security, lambda problem: t.error(["security-mirror"], problem))
    return SystemSpec(packages=tuple(sorted(set(packages))), mirror=mirror, security_mirror=security)


def _parse_cuda(t: Table) -> CudaSpec:
    t.only("version")
    version = t.string("version", default="auto") or "auto"
    if not _CUDA_RE.match(version):
        raise t.error(["version"], f'{version!r}: use "auto", "none" or a CUDA version such as "12.4"')
    return CudaSpec(version=version)


def _parse_env(t: Table) -> tuple[tuple[str, str], ...]:
    out = []
    for key in sorted(t.raw):
        t.seen.add(key)
        value = t.raw[key]
        if not _ENV_NAME_RE.match(key):
            raise t.error([key], "is not a valid environment variable name")
        if not isinstance(value, str):
            raise t.error([key], f"must be a string (quote it: {key} = \"{value}\")")
        if "\n" in value or "\0" in value:
            raise t.error([key], "must not contain a newline or NUL")
        out.append((key, value))
    return tuple(out)


def _parse_check(t: Table) -> CheckSpec:
    t.only("ignore-extra")
    value = t.get("ignore-extra")
    ignore = DEFAULT_IGNORE_EXTRA if value is None else t.strings("ignore-extra")
    return CheckSpec(ignore_extra=tuple(sorted({canonicalize_name(n) for n in ignore})))


# --------------------------------------------------------------------------------------------------------
# The normalised spec and its hash


def normalized(spec: Spec) -> dict[str, Any]:
    """The facts of the spec that decide the lock, as plain sorted data (paths and formatting left out)."""
    env = spec.environment
    return {
        "environment": {
            "name": env.name,
            # one platform keeps the key it always had, so that the spec-hash of existing locks stays valid
            **({"platform": env.platform} if len(env.platforms) == 1 else {"platforms": sorted(env.platforms)}),
            "python": env.python,
            "base-image": env.base_image,
            "distro": env.distro.name if env.distro else None,
        },
        "python": {
            "requirements": list(spec.python.requirements),
            "index-url": spec.python.index_url,
            "extra-index-urls": list(spec.python.extra_index_urls),
            "resolver": spec.python.resolver,
        },
        "system": {"packages": list(spec.system.packages), "mirror": spec.system.mirror,
                   "security-mirror": spec.system.security_mirror},
        "cuda": {"version": spec.cuda.version},
        "env": dict(spec.env),
        "check": {"ignore-extra": list(spec.check.ignore_extra)},
    }


def spec_hash(spec: Spec) -> str:
    import hashlib
    import json

    payload = json.dumps(normalized(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
