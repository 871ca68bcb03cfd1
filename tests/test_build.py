"""envbuild build, end to end on a real engine: lock a spec on the CI base image (in the loopback registry), with
python3.11 and an apt package from the Debian mirror and wheels from a loopback index behind basic auth; build
with BuildKit; the image checks itself; no secret reaches a layer; a pin change rebuilds from the apt cache;
drift, a failed step and an unreachable registry are exit codes 1, 2 and 2.

Marked docker and network (apt inside the build fetches .debs from deb.debian.org); each skips with the reason.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import envbuild, skip_unless_reachable
from tests.support.pypi import LocalIndex, Wheel

MIRROR = "http://deb.debian.org/debian"
BUILD_TIMEOUT = 900


@dataclass
class Project:
    directory: Path
    index: LocalIndex
    env: dict[str, str]  # what `envbuild build` runs with: credentials, the CA, the netrc
    markers: dict[str, str]  # secret -> a value that must appear in no layer
    tag: str = ""
    first: subprocess.CompletedProcess[str] | None = None

    def spec(self, base: str, requirements: list[str]) -> None:
        (self.directory / "envbuild.toml").write_text(f"""
[environment]
name = "e2e"
platform = "linux/amd64"
base-image = "{base}"
python = "3.11"

[python]
requirements = {json.dumps(requirements)}
index-url = "http://${{IDX_USER}}:${{IDX_PASS}}@127.0.0.1:{self.index.port}/simple"

[system]
packages = ["libgomp1"]
mirror = "{MIRROR}"

[env]
PYTHONHASHSEED = "0"
GREETING = "say \\"hi\\" to $HOME \\\\ 'now' ; exit 3"
""")

    def run(self, *args: str, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return envbuild(*args, cwd=self.directory, env=self.env, timeout=timeout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, standard_wheels: list[Wheel], base_image: str
            ) -> Iterator[Project]:
    skip_unless_reachable(f"{MIRROR}/dists/bookworm/Release", "the Debian mirror (apt in the build needs it)")
    root = tmp_path_factory.mktemp("e2e")
    password = f"idx-{uuid.uuid4().hex}"
    (root / "index").mkdir()
    with LocalIndex(root / "index", auth=("envbuild", password)) as index:
        index.publish(*standard_wheels)
        ca = root / "corp-ca.pem"
        ca_marker = f"ENVBUILD-TEST-CA-{uuid.uuid4().hex}"
        # A corporate bundle: this machine's (the proxy's CA), with a line of our own that must reach no layer.
        system_bundle = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
        ca.write_text((system_bundle.read_text() if system_bundle.is_file() else "") + f"# {ca_marker}\n")
        netrc = root / "netrc"
        netrc_marker = f"netrc-{uuid.uuid4().hex}"
        netrc.write_text(f"machine example.invalid login someone password {netrc_marker}\n")
        env = {"IDX_USER": "envbuild", "IDX_PASS": password, "ENVBUILD_CACHE_DIR": str(root / "cache"),
               "UV_CACHE_DIR": str(root / "uv-cache")}
        project = Project(root / "proj", index, env, {"ca": ca_marker, "netrc": netrc_marker, "index": password})
        project.directory.mkdir()
        project.spec(base_image, ["alpha==1.0", "gamma"])
        locked = project.run("lock", timeout=300)
        assert locked.returncode == 0, locked.stderr
        assert password not in (project.directory / "envbuild.lock").read_text()
        project.env = {**env, "SSL_CERT_FILE": str(ca), "NETRC": str(netrc)}
        project.first = project.run("build", "--engine", "docker")
        assert project.first.returncode == 0, project.first.stderr[-3000:]
        found = re.search(r"^Image\s+(\S+)", project.first.stderr, re.MULTILINE)
        assert found, project.first.stderr[-2000:]
        project.tag = found.group(1)
        yield project


pytestmark = [pytest.mark.docker, pytest.mark.network]


def in_image(client: Any, image: str, command: list[str], **kwargs: Any) -> tuple[int, str]:
    container = client.containers.run(image, command, detach=True, network_mode="none", **kwargs)
    try:
        code = container.wait(timeout=300)["StatusCode"]
        return int(code), container.logs().decode()
    finally:
        container.remove(force=True)


def test_lock_then_build_gives_an_image_that_checks_itself(project: Project, docker_engine: Any) -> None:
    lock_text = (project.directory / "envbuild.lock").read_text()
    import hashlib

    assert project.tag == f"e2e:{hashlib.sha256(lock_text.encode()).hexdigest()[:12]}"  # the lock's hash
    assert project.first is not None
    err = project.first.stderr
    assert f"Verified: OK: the image {project.tag} matches " in err and "secrets ca, index-env, netrc" in err
    assert re.search(r"stage system\s+[0-9.]+ s", err) and re.search(r"stage runtime\s+[0-9.]+ s", err)
    # --engine docker on an engine whose BuildKit is older than 0.13 (Docker 20.10 here): said, not hidden
    assert "engine docker; warning: its BuildKit is older than 0.13, so the image digest is not reproducible" in err
    code, out = in_image(docker_engine, project.tag, ["envbuild-check"])
    first, *_, last = out.strip().splitlines()
    assert code == 0 and first.startswith("Checked /opt/venv (/opt/venv/bin/python, Python 3.11.2)"), out
    assert last.startswith("OK:"), out
    code, out = in_image(docker_engine, project.tag, ["envbuild-check", "--json", "--deep"])
    assert code == 0 and json.loads(out)["ok"], out
    # what a Kubeflow step's check runs in the step's image (envbuild.integrations.kubeflow): its fingerprint output
    code, out = in_image(docker_engine, project.tag, ["sh", "-c", "envbuild-check --lock /opt/envbuild/envbuild.lock "
                                                      "--fingerprint /tmp/fingerprint.json >/dev/null && "
                                                      "cat /tmp/fingerprint.json"])
    fingerprint = json.loads(out)
    assert code == 0 and fingerprint["verdict"] == {"ok": True, "findings": {}}, out
    assert fingerprint["lock"]["sha256"] == "sha256:" + hashlib.sha256(lock_text.encode()).hexdigest()
    assert fingerprint["image"]["lock"] == "/opt/envbuild/envbuild.lock"
    code, out = in_image(docker_engine, project.tag, ["sh", "-c", 'printf %s "$GREETING"; echo; id -u; python -V'])
    assert out.splitlines() == ["say \"hi\" to $HOME \\ 'now' ; exit 3", "10001", "Python 3.11.2"], out
    # drift inside the container is exit 1, with the item
    code, out = in_image(docker_engine, project.tag, ["envbuild-check"], environment={"PYTHONHASHSEED": "1"})
    assert code == 1 and "PYTHONHASHSEED" in out and "DRIFT" in out
    # the host's envbuild check --image sees the same
    done = project.run("check", "--image", project.tag, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    labels = docker_engine.images.get(project.tag).labels
    assert labels["io.envbuild.lock.sha256"] == "sha256:" + hashlib.sha256(lock_text.encode()).hexdigest()
    assert labels["org.opencontainers.image.base.digest"].startswith("sha256:")
    # the SBOM of the lock sits next to it, the same one `envbuild export --format cyclonedx` writes
    code, out = in_image(docker_engine, project.tag, ["cat", "/opt/envbuild/sbom.cdx.json"])
    exported = project.run("export", "--format", "cyclonedx")
    assert code == 0 and out == exported.stdout and json.loads(out)["specVersion"] == "1.6"


def test_no_secret_reaches_a_layer_or_the_history(project: Project, docker_engine: Any) -> None:
    image = docker_engine.images.get(project.tag)
    archive = io.BytesIO(b"".join(image.save()))
    seen_layers = 0
    with tarfile.open(fileobj=archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()  # type: ignore[union-attr]
            blobs = [data]
            if member.name.endswith("layer.tar"):
                seen_layers += 1
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    blobs += [layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()]  # type: ignore[union-attr]
            for blob in blobs:
                for secret, marker in project.markers.items():
                    assert marker.encode() not in blob, f"the {secret} secret is in {member.name}"
    assert seen_layers >= 3
    history = json.dumps(image.history())
    for secret, marker in project.markers.items():
        assert marker not in history, f"the {secret} secret is in docker history"


def test_a_python_pin_change_rebuilds_from_the_apt_cache(project: Project, base_image: str) -> None:
    project.spec(base_image, ["alpha==1.1", "gamma"])
    relocked = project.run("lock", timeout=300)
    assert relocked.returncode == 0, relocked.stderr
    rebuilt = project.run("build", "--engine", "docker")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    apt_step = re.search(r"^#(\d+) \[system \d+/\d+\] RUN .*apt-get", rebuilt.stderr, re.MULTILINE)
    assert apt_step, rebuilt.stderr[-3000:]
    assert re.search(rf"^#{apt_step.group(1)} CACHED$", rebuilt.stderr, re.MULTILINE), "the apt layer was rebuilt"
    assert re.search(r"stage system\s+[0-9.]+ s\s+0 steps run", rebuilt.stderr)
    assert re.search(r"stage runtime\s+[0-9.]+ s\s+[1-9]", rebuilt.stderr)  # uv installed the moved layer again
    assert "Verified: OK:" in rebuilt.stderr


def override(directory: Path, block: str, body: str) -> Path:
    """A --templates folder whose Dockerfile.j2 replaces one block of the built-in one."""
    directory.mkdir()
    (directory / "Dockerfile.j2").write_text(
        f'{{% extends "builtin/Dockerfile.j2" %}}\n{{% block {block} %}}{body}\n{{% endblock %}}\n')
    return directory


def test_an_image_that_departs_from_its_lock_fails_the_build(project: Project, tmp_path: Path) -> None:
    templates = override(tmp_path / "templates", "final", '{{ super() }}ENV PYTHONHASHSEED="1"')
    done = project.run("build", "--engine", "docker", "-q", "-t", "e2e-drift", "--templates", str(templates))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "does not match its lock" in done.stderr and "PYTHONHASHSEED" in done.stdout + done.stderr


def test_a_failed_build_step_ends_with_the_step_and_its_last_lines_and_exit_2(project: Project,
                                                                              tmp_path: Path) -> None:
    templates = override(tmp_path / "templates", "user", "RUN echo broken-step && echo python3.11: not found >&2 "
                                                         "&& exit 127")
    done = project.run("build", "--engine", "docker", "-q", "-t", "e2e-broken", "--templates", str(templates))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    error = done.stderr[done.stderr.index("envbuild: error: "):].splitlines()
    assert error[0].startswith("envbuild: error: the image build failed at [") and error[0].endswith(
        "RUN echo broken-step && echo python3.11: not found >&2 && exit 127 (exit code 127); its output ended with:")
    assert sorted(error[1:]) == ["  broken-step", "  python3.11: not found"]


def test_push_to_the_loopback_registry_and_to_an_unreachable_one(project: Project, base_image: str) -> None:
    registry = base_image.split("/", 1)[0]
    done = project.run("build", "--engine", "docker", "-q", "-t", f"{registry}/team/e2e", "--push")
    assert done.returncode == 0, done.stderr[-2000:]
    pushed = re.search(r"^Pushed\s+(\S+)@(sha256:[0-9a-f]{64})$", done.stderr, re.MULTILINE)
    assert pushed, done.stderr[-2000:]
    version = pushed.group(1).rsplit(":", 1)[1]
    import requests

    answer = requests.head(f"http://{registry}/v2/team/e2e/manifests/{version}", timeout=10, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert answer.status_code == 200 and answer.headers["Docker-Content-Digest"] == pushed.group(2)
    done = project.run("build", "--engine", "docker", "-q", "-t", "127.0.0.1:9/team/e2e", "--push", timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("envbuild: error: push 127.0.0.1:9/team/e2e")


def test_the_images_own_check_is_strict(project: Project, docker_engine: Any, tmp_path: Path) -> None:
    """The lock records the base image's packages, so the image holds exactly base + closure: an apt package
    installed later, in a derived image, is drift for envbuild-check (unless --no-strict) and check --image --strict."""
    from envbuild import lockfile

    lock = lockfile.read_lock(project.directory / "envbuild.lock")
    assert lock.base_image is not None and lock.base_image.packages
    assert dict(lock.base_image.packages).get("libc6"), "the minbase's own packages are recorded"
    assert not {name for name, _ in lock.base_image.packages} & {p.name for p in lock.system.packages}
    context = tmp_path / "derived"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {project.tag}\nUSER 0\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends "
        "less >/dev/null && rm -rf /var/lib/apt/lists/*\nUSER 10001\n")
    docker_engine.images.build(path=str(context), tag="e2e-derived:strict", network_mode="host", rm=True)
    code, out = in_image(docker_engine, "e2e-derived:strict", ["envbuild-check", "--json"])
    report = json.loads(out)
    extra = {(f["kind"], f["name"], f["status"]) for f in report["findings"] if f["severity"] == "error"}
    assert code == 1 and extra == {("system", "less", "extra")}, out
    code, out = in_image(docker_engine, "e2e-derived:strict", ["envbuild-check", "--no-strict"])
    assert code == 0, out
    done = project.run("check", "--image", "e2e-derived:strict", "--strict", "--json", timeout=120)
    assert done.returncode == 1 and ("system", "less", "extra") in {
        (f["kind"], f["name"], f["status"]) for f in json.loads(done.stdout)["findings"]}, done.stderr
