"""``envbuild init``: write an ``envbuild.toml`` from what exists, then lock it.

One path: capture a ``Draft`` (``envbuild.capture``), render it, validate it with the spec's own parser, write it
(never over an existing file), lock it with the captured versions as preferences, and, for a live environment,
check that environment against its new lock.  A requirement the index does not have (a private or local build)
or an apt package the mirror does not have is left out, said in the spec, and the lock is tried again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envbuild.capture import Draft
from envbuild.capture.write import spec_text
from envbuild.errors import EnvbuildError, ResolutionError
from envbuild.paths import LOCK_FILE
from envbuild.spec import PYPROJECT, SPEC_FILE, parse_spec
from envbuild.validate import shown

if TYPE_CHECKING:
    from envbuild.commands.lock import LockResult

Status = Callable[[str], AbstractContextManager[None]]
RETRIES = 10  # requirements left out, one lock attempt each, before init gives up


@dataclass(frozen=True)
class Source:
    """What to capture: one of a FILE, this host's Python environment (PYTHON, or the check's choice), an IMAGE."""

    file: Path | None = None
    host: bool = False
    python: str | None = None
    image: str | None = None
    index_url: str | None = None  # the index the Python distributions come from (else the source's, else PyPI)
    mirror: str | None = None  # the apt mirror (and its security archive) the host's packages come from
    security_mirror: str | None = None
    signed_by: str | None = None  # the mirror's OpenPGP key file
    root: Path = Path("/")  # where the host's files are (tests give a prepared one)
    python_image: str | None = None  # the base image that has the host's interpreter, when it is not the distro's


@dataclass(frozen=True)
class InitResult:
    spec: Path
    draft: Draft  # as finally written (with what the lock left out)
    lock: LockResult | None  # None: not locked (--no-lock, or nothing to lock yet)
    verdict: str | None = None  # the captured environment checked against its lock
    clean: bool | None = None
    findings: tuple[str, ...] = ()


class InitLockFailed(EnvbuildError):
    def __init__(self, spec: Path, cause: EnvbuildError) -> None:
        super().__init__(f"wrote {shown(spec)}, but locking it failed: {cause}; fix the spec and run envbuild lock")


def init(source: Source, output: Path | None = None, *, lock: bool = True, status: Status | None = None,
         ) -> InitResult:
    output = output if output is not None else Path(SPEC_FILE)
    _refuse_existing(output, lock)
    draft = capture(source, output.parent)
    draft = replace(draft, index_url=source.index_url or draft.index_url, mirror=source.mirror or draft.mirror,
                    security_mirror=source.security_mirror or draft.security_mirror,
                    signed_by=_key_path(source.signed_by, output.parent) if source.signed_by else draft.signed_by)
    draft = _without_credentials(draft)
    text = _validated(draft, output, locked=lock)
    _write_new(output, text)
    if not lock:
        return InitResult(output, draft, None)
    if not (draft.requirements or draft.requirements_files or draft.conda_packages):
        return InitResult(output, draft, None)
    draft, result = _lock(draft, output, status)
    if not (source.host or source.python):
        return InitResult(output, draft, result)
    return _checked(InitResult(output, draft, result), source)


def _without_credentials(draft: Draft) -> Draft:
    """DRAFT with every URL's userinfo left out (a token alone, user:password) but ${VAR} placeholders: a spec is
    committed, and a token in it is a leaked token.  Said, with where credentials go instead."""
    from envbuild.capture import Note
    from envbuild.lockfile import strip_credentials
    from envbuild.spec.urls import literal_credentials

    def clean(url: str | None) -> str | None:
        if url is None or not literal_credentials(url):
            return url
        left_out.append(strip_credentials(url))
        return strip_credentials(url)

    left_out: list[str] = []
    cleaned = replace(draft, index_url=clean(draft.index_url), mirror=clean(draft.mirror),
                      security_mirror=clean(draft.security_mirror),
                      extra_index_urls=tuple(clean(u) or u for u in draft.extra_index_urls))
    if not left_out:
        return draft
    note = Note("python", f"the credentials in {', '.join(left_out)} were left out of the spec (it is committed): "
                          "put them in ~/.netrc, or write https://${USER_VAR}:${TOKEN_VAR}@host/... and set those")
    return replace(cleaned, notes=(*draft.notes, note))


def _key_path(key: str, spec_dir: Path) -> str:
    """KEY as the spec names it: relative to the spec when it is inside the project, else absolute."""
    path = Path(key).resolve()
    if not path.is_file():
        raise EnvbuildError(f"--signed-by {key}: no such key file")
    try:
        return path.relative_to(spec_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def capture(source: Source, spec_dir: Path) -> Draft:
    if sum((source.file is not None, source.host or source.python is not None, source.image is not None)) != 1:
        raise EnvbuildError("give one of --from FILE, --from-host (or --python PATH) and --from-image REF")
    if source.file is not None:
        from envbuild.capture.files import capture_file

        return capture_file(source.file, spec_dir)
    if source.image is not None:
        from envbuild.capture.image import capture_image

        return capture_image(source.image)
    from envbuild.capture.host import capture_host

    return capture_host(source.python, spec_dir / LOCK_FILE, source.root, source.python_image)


def _refuse_existing(output: Path, lock: bool) -> None:
    if output.exists():
        raise EnvbuildError(f"{shown(output)} already exists; init never overwrites a spec (edit it, or give -o PATH)")
    pyproject = output.parent / PYPROJECT
    if output.name == SPEC_FILE and pyproject.is_file() and b"[tool.envbuild" in pyproject.read_bytes():
        raise EnvbuildError(f"{shown(pyproject)} already holds the spec ([tool.envbuild]); init never overwrites one")
    if not output.parent.is_dir():
        raise EnvbuildError(f"{shown(output.parent)}: no such directory")
    beside = output.parent / LOCK_FILE
    if lock and beside.exists():
        raise EnvbuildError(f"{shown(beside)} already exists; init locks a new spec and never replaces a lock "
                            "(move it away, or give --no-lock)")


def _validated(draft: Draft, output: Path, *, locked: bool = True) -> str:
    """The spec's text, read back by the spec's own parser (a draft that does not parse is envbuild's bug)."""
    from envbuild.compat import tomllib

    text = spec_text(draft, locked=locked)
    if draft.requirements or draft.requirements_files or draft.conda_packages:
        parse_spec(tomllib.loads(text), output.resolve(), shown=shown(output))
    return text


def _write_new(output: Path, text: str) -> None:
    """Write OUTPUT, which must not exist (``envbuild.atomic``: a link from a finished temporary file, so no half
    file is ever seen and nothing that appeared meanwhile is replaced)."""
    from envbuild import atomic

    try:
        atomic.write(output, text.encode("utf-8"), replace=False)
    except FileExistsError:
        raise EnvbuildError(f"{shown(output)} already exists; init never overwrites a spec") from None
    except OSError as exc:
        raise EnvbuildError(f"{shown(output)}: cannot write: {exc.strerror or exc}") from None



def _lock(draft: Draft, output: Path, status: Status | None) -> tuple[Draft, LockResult]:
    from envbuild import lockfile
    from envbuild.commands.lock import lock as lock_spec
    from envbuild.resolve.closure import UnknownSystemPackages

    for _ in range(RETRIES):
        try:
            return draft, lock_spec(output, None, status=status, prefer=draft.prefer)
        except UnknownSystemPackages as exc:
            if not set(exc.names) <= set(draft.system):
                raise InitLockFailed(output, exc) from None
            draft = draft.without_system(exc.names, "not in the target's apt sources (installed from another "
                                                    "repository or by hand)")
        except ResolutionError as exc:
            missing = not_on_index(exc.detail, draft)
            if not missing:
                raise InitLockFailed(output, exc) from None
            draft = draft.without_requirement(missing, "the index has no such version (a private index, or a "
                                                       "local build?)")
        except EnvbuildError as exc:
            if draft.distro_fallback is None or draft.base_image is None or draft.base_image not in str(exc):
                raise InitLockFailed(output, exc) from None
            draft = draft.on_the_distro_python(str(exc).removeprefix(f"{draft.base_image}: "))
        lockfile.write_atomic(output, _validated(draft, output))
    raise EnvbuildError(f"wrote {shown(output)}, but more than {RETRIES} requirements are missing from the index; "
                        "fix the spec and run envbuild lock")


_NOT_FOUND = (re.compile(r"no version of ([A-Za-z0-9][A-Za-z0-9._-]*)"),
              re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry"))


def not_on_index(detail: str, draft: Draft) -> str | None:
    """The captured requirement that uv says the index lacks, from its message (None: another failure)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    ours = {canonicalize_name(Requirement(r).name) for r in draft.requirements}
    for pattern in _NOT_FOUND:
        for match in pattern.finditer(detail):
            name = canonicalize_name(re.split(r"[=<>!~\[]", match.group(1))[0])
            if name in ours:
                return str(name)
    return None


def _checked(result: InitResult, source: Source) -> InitResult:
    """RESULT with the captured environment checked against its new lock."""
    from envbuild import lockview
    from envbuild.check.evaluate import evaluate
    from envbuild.check.report import verdict

    options: dict[str, Any] = {"lock": str(result.lock.path if result.lock else result.spec.parent / LOCK_FILE)}
    if source.python:
        options["python"] = source.python
    data, outcome = evaluate(options, read_lock=lockview.read)
    return InitResult(result.spec, result.draft, result.lock, verdict(data), outcome.ok,
                      summarise(data["findings"]))


def _sides(finding: dict[str, Any]) -> str:
    """The lock's side and this host's, in words where one side has nothing (an extra, a missing package)."""
    lock, here = finding.get("expected"), finding.get("found")
    return (f"lock {lock}" if lock is not None else "not in the lock") + ", " + (
        f"here {here}" if here is not None else "not here")


def summarise(findings: list[dict[str, Any]]) -> tuple[str, ...]:
    """One line per finding, except the apt ones, counted: a host behind its mirror has many, with one cause."""
    lines = [f"{f['kind']} {f['name']}: {f['status']} ({_sides(f)})" for f in findings if f["kind"] != "system"]
    system = [f for f in findings if f["kind"] == "system"]
    if system:
        counts = ", ".join(f"{sum(1 for f in system if f['status'] == s)} {s}"
                           for s in ("changed", "missing", "extra", "unverifiable") if any(f["status"] == s
                                                                                          for f in system))
        lines.append(f"system: {counts} apt packages ({', '.join(f['name'] for f in system[:5])}"
                     f"{', ...' if len(system) > 5 else ''}): the lock has the mirror's current versions; this host "
                     "has others (apt-get update && apt-get upgrade brings it level, or a snapshot mirror pins older "
                     "ones)")
    return tuple(lines)
