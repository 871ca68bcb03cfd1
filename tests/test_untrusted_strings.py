"""No string from a spec or a lock adds a line to a generated file (issue: strings that become lines).

Every string slot of a full spec and of a full lock gets a control character and a marker (``...\\nINJECTED``): the
readers refuse it with the slot's key path.  A lock made in code, past the readers, goes to every writer of a
line-oriented file (requirements files and the per-sdist ones, the Dockerfile, the Apptainer recipe, apt sources,
conda's @EXPLICIT file): each refuses it, or the character never reaches the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envbuild import lockfile
from envbuild.compat import tomllib
from envbuild.errors import ConfigError, EnvbuildError
from envbuild.lockfile import (
    AptRelease,
    BaseImage,
    CondaLock,
    CondaPackage,
    CudaLock,
    Lock,
    PythonFile,
    PythonIndex,
    PythonLock,
    PythonPackage,
    SystemLock,
    SystemPackage,
    Target,
)
from envbuild.spec import parse_spec
from tests.support.apt import archive_key

# characters that end a line for pip, apt, a shell or Python's splitlines, and other controls
BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\t", "\x1b",
          "\u202e", "\u00a0"]
MARK = "INJECTED --index-url http://evil/"

SHA = "sha256:" + "a" * 64
HEX = "b" * 64
KEY = str(archive_key().extract_certificate()).strip()  # a real armored key: render reads its fingerprint

SPEC = {
    "environment": {"name": "trainer", "platform": "linux/amd64", "base-image": "registry.example/base:1",
                    "python": "3.11"},
    "python": {"requirements": ["torch==2.5.1", "numpy<2", "flash-attn"], "index-url": "https://pypi.example/simple",
               "extra-index-urls": ["https://extra.example/simple"], "resolver": "uv",
               "indexes": [{"name": "cu124", "url": "https://download.example/whl/cu124", "explicit": True}],
               "sources": {"torch": "cu124"}, "build-dependencies": {"flash-attn": ["torch"]},
               "no-build-isolation": ["flash-attn"], "build-env": {"MAX_JOBS": "4"}},
    "system": {"packages": ["git", "libgomp1"], "mirror": "http://mirror.example/debian",
               "security-mirror": "http://mirror.example/debian-security"},
    "cuda": {"version": "auto"},
    "conda": {"channels": ["conda-forge"], "packages": ["libopenblas"], "cuda": "12.4", "prefix": "/opt/conda"},
    "env": {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"},
    "check": {"ignore-extra": ["pip"]},
}


def slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every string in VALUE (dict keys of name tables too, as ("key", ...))."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out += slots(item, (*path, key))
        return out
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in slots(item, (*path, i))]
    return []


def mutated(document: Any, path: tuple[Any, ...], char: str, position: int) -> Any:
    """DOCUMENT (a copy) with CHAR and the marker put into the string at PATH, at POSITION (never at an end, which
    a reader may strip)."""
    import copy

    out = copy.deepcopy(document)
    holder = out
    for key in path[:-1]:
        holder = holder[key]
    text = holder[path[-1]]
    at = 1 + position % max(1, len(text) - 1)
    holder[path[-1]] = text[:at] + char + MARK + text[at:]
    return out


def named(path: tuple[Any, ...]) -> str:
    """The last key of PATH that an error's key path shows ("url" for (..., "indexes", 0, "url"))."""
    return next(str(k) for k in reversed(path) if isinstance(k, str))


def test_the_full_spec_is_valid(tmp_path: Path) -> None:
    parse_spec(SPEC, tmp_path / "envbuild.toml")  # the baseline: every refusal below is the injected character's


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(slots(SPEC)), char=st.sampled_from(BREAKS), position=st.integers(0, 50))
def test_a_control_character_in_any_string_of_a_spec_is_refused_with_its_key(
        tmp_path: Path, path: tuple[Any, ...], char: str, position: int) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_spec(mutated(SPEC, path, char, position), tmp_path / "envbuild.toml")
    assert named(path) in str(refused.value) and "\n" not in str(refused.value)


def full_lock() -> Lock:
    """A lock with every kind of string a lock holds: a base image, apt sources, keys and releases, packages from
    an index, a named index, a URL, a local archive and git, build options, [env], CUDA and conda."""
    files = (PythonFile("torch-2.5.1-cp311-cp311-linux_x86_64.whl", "https://files.example/torch.whl", SHA),)
    python = PythonLock(
        requested="3.11", resolver="uv", index_url="https://pypi.example/simple",
        extra_index_urls=("https://extra.example/simple",), version="3.11.2", source="image",
        indexes=(PythonIndex("cu124", "https://download.example/whl/cu124", True),),
        build_dependencies=(("flash-attn", ("torch",)),), no_build_isolation=("deepspeed",),
        build_env=(("MAX_JOBS", "4"),),
        packages=(PythonPackage("deepspeed", "0.16.0", (SHA,)),
                  PythonPackage("flash-attn", "2.7.0", (SHA,), direct_url="https://files.example/flash_attn.whl"),
                  PythonPackage("kernels", "0.3", (SHA,), path="wheels/kernels-0.3-py3-none-any.whl"),
                  PythonPackage("mytool", "1.0", (), vcs="git+https://git.example/mytool@" + "c" * 40),
                  PythonPackage("torch", "2.5.1", (SHA,), files, index="cu124", requested=True, via=("mytool",))))
    system = SystemLock(sources=("http://mirror.example/debian bookworm main",),
                        packages=(SystemPackage("git", "1:2.39.5-0+deb12u2", "amd64", HEX, requested=True),),
                        releases=(AptRelease("http://mirror.example/debian bookworm", "2025-11-01T10:00:00Z",
                                             "04b54c3cdca79751b16bc6b5225629df75b188bd"),), key=KEY)
    conda = CondaLock(channels=("https://conda.example/forge",), prefix="/opt/conda", packages=(
        CondaPackage("libopenblas", "0.3.28", "h0_0", 0, "linux-64", "https://conda.example/forge",
                     "https://conda.example/forge/linux-64/libopenblas-0.3.28-h0_0.conda", HEX, "d" * 32,
                     depends=("libgcc >=13",), license="BSD-3-Clause"),))
    return Lock(spec_hash=SHA, name="trainer", version=lockfile.LOCK_VERSION,
                target=Target("linux/amd64", "debian:12", "x86_64-manylinux_2_36"), python=python,
                env=(("PYTHONHASHSEED", "0"),), ignore_extra=("pip",),
                cuda=CudaLock("12.4.127", "525.60.13", "9.1.0.70", "2.21.5", "550.54.15"), system=system,
                base_image=BaseImage("registry.example/base:1", "sha256:" + "e" * 64, (("bash", "5.2.15"),)),
                conda=conda)


LOCK_TEXT = lockfile.dumps(full_lock())
LOCK_RAW = tomllib.loads(LOCK_TEXT)
LOCK_SLOTS = [p for p in slots(LOCK_RAW) if p != ("system", "signed-by")]  # the armored key: lines (below)


def test_the_full_lock_reads_back() -> None:
    assert lockfile.dumps(lockfile.loads(LOCK_TEXT)) == LOCK_TEXT


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(LOCK_SLOTS), st.sampled_from(BREAKS), st.integers(0, 50))
def test_a_control_character_in_any_string_of_a_lock_is_refused_with_its_key(
        path: tuple[Any, ...], char: str, position: int) -> None:
    with pytest.raises((ConfigError, EnvbuildError)) as refused:
        lockfile.loads(tomlkit.dumps(mutated(LOCK_RAW, path, char, position)))
    assert named(path) in str(refused.value) and "\n" not in str(refused.value)


def test_the_armored_key_keeps_its_lines_but_no_other_control_character() -> None:
    lockfile.loads(LOCK_TEXT)
    said = r"\[system\] -> signed-by: line 1 holds a control character \(U\+001B\) at 23"
    with pytest.raises(ConfigError, match=said):
        lockfile.loads(tomlkit.dumps(mutated(LOCK_RAW, ("system", "signed-by"), "\x1b", 22)))


# ---------------------------------------------------------------------------------------------------------
# The writers, given a lock made in code (past the readers)

def _replace(lock: Lock, where: str, value: str) -> Lock:
    """LOCK with VALUE in the slot WHERE (the writers' inputs that come from strings)."""
    py, system, conda = lock.python, lock.system, lock.conda
    assert system is not None and conda is not None

    def package(which: str, **changes: Any) -> PythonLock:
        return dataclasses.replace(py, packages=tuple(dataclasses.replace(p, **changes) if p.name == which else p
                                                       for p in py.packages))
    edits: dict[str, Any] = {
        "index-url": lambda: dataclasses.replace(lock, python=dataclasses.replace(py, index_url=value)),
        "extra-index-url": lambda: dataclasses.replace(lock, python=dataclasses.replace(
            py, extra_index_urls=(value,))),
        "named index": lambda: dataclasses.replace(lock, python=dataclasses.replace(
            py, indexes=(PythonIndex("cu124", value, True),))),
        "name": lambda: dataclasses.replace(lock, python=package("deepspeed", name=value)),
        "version": lambda: dataclasses.replace(lock, python=package("deepspeed", version=value)),
        "hash": lambda: dataclasses.replace(lock, python=package("deepspeed", hashes=(value,))),
        "direct-url": lambda: dataclasses.replace(lock, python=package("flash-attn", direct_url=value)),
        "vcs": lambda: dataclasses.replace(lock, python=package("mytool", vcs=value)),
        "env": lambda: dataclasses.replace(lock, env=(("PYTHONHASHSEED", value),)),
        "build-env": lambda: dataclasses.replace(lock, python=dataclasses.replace(
            py, build_env=(("MAX_JOBS", value),))),
        "apt source": lambda: dataclasses.replace(lock, system=dataclasses.replace(system, sources=(value,))),
        "apt version": lambda: dataclasses.replace(lock, system=dataclasses.replace(system, packages=(
            dataclasses.replace(system.packages[0], version=value),))),
        "conda url": lambda: dataclasses.replace(lock, conda=dataclasses.replace(conda, packages=(
            dataclasses.replace(conda.packages[0], url=value),))),
        "base reference": lambda: dataclasses.replace(lock, base_image=dataclasses.replace(
            lock.base_image, reference=value)),
        "name of the lock": lambda: dataclasses.replace(lock, name=value),
    }
    return edits[where]()  # type: ignore[no-any-return]


ORIGINAL = {"index-url": "https://pypi.example/simple", "extra-index-url": "https://extra.example/simple",
            "named index": "https://download.example/whl/cu124", "name": "deepspeed", "version": "0.16.0",
            "hash": SHA, "direct-url": "https://files.example/flash_attn.whl",
            "vcs": "git+https://git.example/mytool@" + "c" * 40, "env": "0", "build-env": "4",
            "apt source": "http://mirror.example/debian bookworm main", "apt version": "1:2.39.5-0+deb12u2",
            "conda url": "https://conda.example/forge/linux-64/libopenblas-0.3.28-h0_0.conda",
            "base reference": "registry.example/base:1", "name of the lock": "trainer"}


def line_files(lock: Lock) -> dict[str, str]:
    """Every line-oriented file the writers make of LOCK (an EnvbuildError where one refuses)."""
    from envbuild.export import requirements_text
    from envbuild.export.conda import explicit
    from envbuild.export.python import install_plan
    from envbuild.render import build_context, environment, plan

    out = {"requirements.txt": requirements_text(lock, "/opt/envbuild/wheels"), "explicit.txt": explicit(lock)}
    rest, steps = install_plan(lock, "/opt/envbuild/wheels")
    out["install plan"] = rest + "".join(text for _, text in steps)
    context = build_context(lock, LOCK_TEXT)
    env = environment(None)
    for fmt in ("dockerfile", "apptainer"):
        files = plan(lock, LOCK_TEXT, context, env, fmt, base=None)
        out.update({f"{fmt}: {name}": data.decode("utf-8", "replace") for name, data in files.items()
                    if not name.endswith((".pyz", ".json", ".lock", ".whl"))})
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(sorted(ORIGINAL)), char=st.sampled_from(BREAKS), position=st.integers(0, 50))
def test_no_writer_puts_an_injected_line_into_its_file(where: str, char: str, position: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from envbuild.render import python as render_python

    monkeypatch.setattr(render_python, "python_files", lambda lock, base: {})  # the local archive: not here
    text = ORIGINAL[where]
    at = 1 + position % max(1, len(text) - 1)
    lock = _replace(full_lock(), where, text[:at] + char + MARK + text[at:])
    try:
        files = line_files(lock)
    except EnvbuildError as refused:
        assert "\n" not in str(refused)
        return
    for name, content in files.items():
        assert char + MARK not in content, f"{where} reached {name} with {char!r}"
        assert not any(line.lstrip().startswith(MARK) for line in content.splitlines()), (where, name)


def test_the_baseline_writes_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from envbuild.render import python as render_python

    monkeypatch.setattr(render_python, "python_files", lambda lock, base: {})
    files = line_files(full_lock())
    assert "--extra-index-url https://download.example/whl/cu124" in files["requirements.txt"]
    assert any(name.endswith("apt.sources") for name in files) and "dockerfile: Dockerfile" in files


def test_a_host_s_strings_stay_within_their_line_of_a_check_report(capsys: pytest.CaptureFixture[str]) -> None:
    """A dist-info folder's name (a path of the host) with a line break in it: the text report's finding is one
    line, and the JUnit XML is XML."""
    import xml.etree.ElementTree as ET

    from envbuild.check import report

    finding = {"kind": "python", "name": "/site/x\nOK: all clean\n.dist-info", "status": "unverifiable",
               "expected": None, "found": "no METADATA\x1b[2J", "severity": "warning"}
    data = {"ok": True, "lock": {"path": "envbuild.lock"}, "host": {"hostname": "node1"}, "findings": [finding]}
    report.show(data, first_line=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["python\t/site/x\\nOK: all clean\\n.dist-info\tunverifiable\t-\tno METADATA\\x1b[2J\twarning",
                     "OK: node1 matches envbuild.lock (1 warning)"]
    xml = report.junit(data, [("python", finding["name"])])
    case = ET.fromstring(xml.split("?>", 1)[1]).find("testcase")  # noqa: S314 - our own output
    assert case is not None and case.get("name") == "/site/x\\nOK: all clean\\n.dist-info"
