"""envbuild build's errors that need no engine: each is one line and exit code 2, before any work is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, envbuild

LOCK = FIXTURES / "render" / "envbuild.lock"


def test_push_needs_a_registry_in_the_tag(tmp_path: Path) -> None:
    done = envbuild("build", "-l", str(LOCK), "-t", "trainer", "--push", cwd=tmp_path)
    assert done.returncode == 2 and "--push needs a tag that names a registry" in done.stderr


def test_a_bad_tag_is_refused(tmp_path: Path) -> None:
    done = envbuild("build", "-l", str(LOCK), "-t", "Trainer:latest", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("envbuild: error: -t 'Trainer:latest': not a valid image reference "
                                   "([REGISTRY/]NAME[:TAG], lower case)")


def test_no_engine_is_one_clear_line(tmp_path: Path) -> None:
    # No buildah or podman on PATH, and no Docker engine where DOCKER_HOST points.
    env = {"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "PATH": str(tmp_path)}
    for args in ([], ["--engine", "docker"]):
        done = envbuild("build", "-l", str(LOCK), *args, cwd=tmp_path, env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [done.stderr.strip()]
        assert done.stderr.startswith("envbuild: error: cannot reach the Docker engine")


def test_an_engine_that_is_not_installed_says_what_to_install(tmp_path: Path) -> None:
    done = envbuild("build", "-l", str(LOCK), "--engine", "podman", cwd=tmp_path, env={"PATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip() == ("envbuild: error: --engine podman: podman is not installed (apt-get install "
                                   "podman, or dnf install podman); or leave --engine out to use what is installed")


def test_bad_output_and_engine_are_refused_before_any_work(tmp_path: Path) -> None:
    done = envbuild("build", "-l", str(LOCK), "--output", "tar:x", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("envbuild: error: --output 'tar:x': use oci-archive:FILE")
    done = envbuild("build", "-l", str(LOCK), "--output", f"oci-archive:{tmp_path}/no/such/x.tar", cwd=tmp_path)
    assert done.returncode == 2 and "is not a directory" in done.stderr
    done = envbuild("build", "-l", str(LOCK), "--engine", "kaniko", cwd=tmp_path)
    assert done.returncode == 2 and "'kaniko' is not one of 'docker', 'buildah', 'podman'" in done.stderr


def test_an_unset_index_credential_is_named(tmp_path: Path, monkeypatch: object) -> None:
    from envbuild import lockfile
    from envbuild.build import secrets_for
    from envbuild.errors import BuildError

    lock = lockfile.read_lock(LOCK)  # its index URL is https://${USER}:${TOKEN}@pypi.corp/simple
    try:
        secrets_for(lock, {"USER": "me"}, tmp_path)
    except BuildError as exc:
        assert "${TOKEN}" in str(exc) and "as a secret" in str(exc)
    else:
        raise AssertionError("an unset ${TOKEN} must be an error")
    secrets = secrets_for(lock, {"USER": "me", "TOKEN": "t0k'en", "SSL_CERT_FILE": str(LOCK), "NETRC": "/nope"},
                          tmp_path)
    assert secrets["ca"] == LOCK and "netrc" not in secrets
    assert secrets["index-env"].read_text() == "export TOKEN='t0k'\"'\"'en'\nexport USER=me\n"
    assert secrets["index-env"].stat().st_mode & 0o777 == 0o600


def test_stage_times_come_from_buildkit_plain_progress() -> None:
    from envbuild.build.clock import StageClock

    clock = StageClock()
    for line in ["#4 [system 1/3] FROM 127.0.0.1:5000/debian@sha256:ab", "#4 DONE 0.5s",
                 "#6 [system 2/3] COPY a b", "#6 CACHED", "#8 [system 3/3] RUN apt-get update", "#8 DONE 12.25s",
                 "#9 [builder 1/2] RUN python3.11 -m venv /opt/venv", "#9 DONE 2.0s", "#10 exporting to image",
                 "#10 DONE 0.3s"]:
        clock.feed(line)
    assert clock.summary() == (("system", 12.75, 1, 1), ("builder", 2.0, 1, 0))


def test_a_named_index_s_credentials_reach_the_build_as_the_index_url_s_do(tmp_path: Path) -> None:
    """[python] indexes URLs with ${VAR}s are expanded for builds as index-url is: as a BuildKit secret.  A value
    with a line break is refused, and never said (it is a secret)."""
    import dataclasses

    from envbuild import lockfile
    from envbuild.build import secrets_for
    from envbuild.errors import BuildError
    from envbuild.lockfile import PythonIndex

    lock = lockfile.read_lock(LOCK)
    lock = dataclasses.replace(lock, python=dataclasses.replace(lock.python, indexes=(
        PythonIndex("private", "https://${PRIVATE_USER}:${PRIVATE_TOKEN}@private.example/simple", True),)))
    environ = {"USER": "me", "TOKEN": "t", "PRIVATE_USER": "ci", "PRIVATE_TOKEN": "p4ss"}
    written = secrets_for(lock, environ, tmp_path)["index-env"].read_text()
    assert "export PRIVATE_TOKEN=p4ss\n" in written and "export PRIVATE_USER=ci\n" in written
    try:
        secrets_for(lock, {**environ, "PRIVATE_TOKEN": "p4ss\nexport EVIL=1"}, tmp_path)
    except BuildError as exc:
        assert "${PRIVATE_TOKEN} holds a space or a line break" in str(exc) and "p4ss" not in str(exc)
    else:
        raise AssertionError("a value with a line break must be refused")


def test_what_the_docker_engine_cannot_do_is_refused_before_any_build(tmp_path: Path, docker_engine: object) -> None:
    """--check-reproducible needs a second storage root, and an OCI archive needs buildah or podman: with --engine
    docker each is one line and exit 2, before the build starts (not after minutes of it)."""
    done = envbuild("build", "-l", str(LOCK), "--engine", "docker", "--check-reproducible", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(
        "envbuild: error: --check-reproducible builds the second time on a storage root of its own"), done.stderr
    assert "use --engine buildah" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = envbuild("build", "-l", str(LOCK), "--engine", "docker", "--output", f"oci:{tmp_path}/layout", cwd=tmp_path)
    assert done.returncode == 2 and "the Docker engine writes docker-archive:FILE only" in done.stderr, done.stderr
    assert not (tmp_path / "layout").exists()


def test_stage_times_come_from_buildah_s_step_times_when_stages_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """buildah --jobs runs the python stage beside the system stage, interleaves their steps, and says only how long
    each step took (--log-rusage): each time goes to the running step that began that long ago."""
    from envbuild.adapters.buildah import BuildahLog
    from envbuild.build import clock as clock_module
    from envbuild.build.clock import StageClock

    now = [0.0]
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: now[0])

    def feed(lines: list[tuple[float, str]]) -> tuple[StageClock, BuildahLog]:
        clock = StageClock()
        log = BuildahLog(clock)
        for at, line in lines:
            now[0] = at
            log.add(line)
        return clock, log

    clock, log = feed([(0.0, "[1/3] STEP 1/3: FROM 127.0.0.1:5000/debian@sha256:ab AS system"),
                       (0.05, "0s(system) 0s(user) 47ms(elapsed) 0B input 0B output"),
                       (0.05, "[2/3] STEP 1/2: FROM 127.0.0.1:5000/debian@sha256:cd AS python"),
                       (0.1, "0s(system) 0s(user) 49ms(elapsed) 0B input 0B output"),
                       (0.1, "[1/3] STEP 2/3: RUN apt-get install --yes git"),
                       (5.1, "[2/3] STEP 2/2: RUN /run/envbuild-uv pip install -r /run/envbuild-layer.txt"),
                       (20.1, "--> 1be1aae34b2"),
                       (20.1, "1.2s(system) 3.1s(user) 15s(elapsed) 12MB input 118kB output"),
                       (60.1, "--> 2f823447b2a"),
                       (60.1, "20s(system) 30s(user) 1m0s(elapsed) 12MB input 204kB output"),
                       (60.1, "[1/3] STEP 3/3: RUN useradd --uid 10001 user"),
                       (61.1, "155ms(system) 224ms(user) 1s(elapsed) 0B input 69kB output"),
                       (61.1, "[3/3] STEP 1/2: FROM 8db8d81e2667 AS runtime"),
                       (61.1, "0s(system) 0s(user) 5ms(elapsed) 0B input 0B output"),
                       (61.1, "[3/3] STEP 2/2: COPY --from=python /layers/rest/ /opt/venv/"),
                       (61.2, "--> Using cache 912a6ac7046"),
                       (61.2, "0s(system) 0s(user) 12ms(elapsed) 0B input 0B output")])
    assert clock.summary() == (("system", 61.05, 2, 0), ("python", 15.05, 1, 0), ("runtime", 0.02, 0, 1))
    assert "elapsed" not in "".join(log.output), "the times are not the steps' output"
    # two steps that began together and a time that fits both: neither takes it; each ends when its stage goes on,
    # or when a step that uses its stage begins (COPY --from=python), and the other's time comes once it is alone
    clock, _ = feed([(0.0, "[1/3] STEP 1/3: FROM a@sha256:ab AS system"),
                     (0.0, "[2/3] STEP 1/3: FROM b@sha256:cd AS python"),
                     (8.0, "0s(system) 1s(user) 8s(elapsed) 0B input 0B output"),
                     (8.0, "[1/3] STEP 2/3: RUN apt-get install --yes git"),
                     (8.0, "0s(system) 1s(user) 8s(elapsed) 0B input 0B output"),
                     (8.0, "[2/3] STEP 2/3: RUN apt-get install --yes python3.11"),
                     (28.0, "0s(system) 1s(user) 20s(elapsed) 0B input 0B output"),
                     (28.0, "[2/3] STEP 3/3: RUN python3.11 -m venv /opt/venv"),
                     (29.0, "0s(system) 0s(user) 1s(elapsed) 0B input 0B output"),
                     (88.0, "0s(system) 9s(user) 1m20s(elapsed) 0B input 0B output"),
                     (88.0, "[1/3] STEP 3/3: COPY --from=python /opt/venv /opt/venv"),
                     (89.0, "0s(system) 0s(user) 1s(elapsed) 0B input 0B output")])
    assert clock.summary() == (("system", 89.0, 2, 0), ("python", 29.0, 2, 0))


def test_with_stages_at_once_a_failure_names_the_step_that_failed() -> None:
    from envbuild.adapters.buildah import BuildahLog

    log = BuildahLog()
    for line in ["[1/3] STEP 2/3: RUN apt-get install --yes git", "[2/3] STEP 2/2: RUN /run/envbuild-uv pip install x",
                 "error: hash mismatch", "[1/3] STEP 3/3: RUN useradd --uid 10001 user",
                 'Error: building at STEP "RUN /run/envbuild-uv pip install x": while running runtime: exit status 2']:
        log.add(line)
    assert log.failure().startswith(" at [stage 2] RUN /run/envbuild-uv pip install x (exit code 2)")


def test_go_durations_in_seconds() -> None:
    from envbuild.adapters.buildah import seconds_of

    assert [seconds_of(t) for t in ("47ms", "1.738s", "2m3.5s", "1h0m1s", "0s", "850µs", "1.5", "s", "3x")] == [
        0.047, 1.738, 123.5, 3601.0, 0.0, 0.00085, None, None, None]
