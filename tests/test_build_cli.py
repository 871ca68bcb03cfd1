"""envbuild build's errors that need no engine: each is one line and exit code 2, before any work is done."""

from __future__ import annotations

from pathlib import Path

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
