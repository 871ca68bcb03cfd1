"""Resolve ``[environment] base-image`` to the facts the lock needs: the platform manifest's digest, the distro
(from os-release), the installed dpkg set, the image's env (PYTHON_VERSION, CUDA_VERSION, ...).

Remote images are cached by manifest digest: a second ``lock`` asks the registry for the digest only and
downloads no layer.  ``oci-layout:PATH[:TAG]`` and ``docker-archive:PATH`` are read from disk, and
``docker-daemon:NAME`` is exported from the local Docker engine (as ``docker save`` does).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from envbuild.adapters import registry
from envbuild.adapters.http import cache_dir, write_cache
from envbuild.adapters.layers import Image
from envbuild.errors import EnvbuildError
from envbuild.platforms import PLATFORMS
from envbuild.spec import Distro, parse_distro

FILES = ("etc/os-release", "var/lib/dpkg/status")
LINK_TARGETS = ("usr/lib/os-release",)  # etc/os-release is usually a symlink to it
CACHE_SCHEMA = "2"  # 2: the interpreter PYTHON_VERSION promises, as found on the image's PATH
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what Docker runs a command with


@dataclass(frozen=True)
class ImageFacts:
    reference: str
    digest: str
    distro: Distro
    env: tuple[tuple[str, str], ...]
    installed: tuple[tuple[str, str], ...]  # dpkg name -> version of what the image has installed
    python_path: str | None = None  # where the PYTHON_VERSION's pythonX.Y is on the image's PATH (None: nowhere)

    @property
    def python_version(self) -> str | None:
        """Official python images say which Python they built (PYTHON_VERSION)."""
        return dict(self.env).get("PYTHON_VERSION")


def promised_interpreter(env: dict[str, str]) -> tuple[str, list[str]] | None:
    """(pythonX.Y, where a build looks for it) when the image's ENV says PYTHON_VERSION: the directories of its
    PATH (Docker's default when its config sets none), as paths inside the image; None: it promises none."""
    version = env.get("PYTHON_VERSION")
    if not version:
        return None
    command = "python" + ".".join(version.split(".")[:2])
    directories = [d.strip("/") for d in (env.get("PATH") or DEFAULT_PATH).split(":") if d.startswith("/")]
    return command, [f"{d}/{command}".lstrip("/") for d in directories]


def resolve_image(text: str, platform: str) -> ImageFacts:
    if text.startswith(LOCAL):
        with open_image(text, platform) as image:
            return _facts(text, image)
    manifest = registry.platform_manifest(registry.parse_reference(text), "linux", _arch(text, platform))
    digest = manifest.digest
    memo = cache_dir("images") / f"{digest.replace(':', '-')}.v{CACHE_SCHEMA}.json"
    if memo.exists():
        saved = json.loads(memo.read_text())
        return ImageFacts(reference=text, digest=digest, distro=parse_distro(saved["distro"]),
                          env=tuple((str(k), str(v)) for k, v in saved["env"]),
                          installed=tuple((str(k), str(v)) for k, v in saved["installed"]),
                          python_path=saved["python-path"])
    facts = _facts(text, registry.remote_image(manifest))
    write_cache(memo, json.dumps({"distro": facts.distro.name, "env": facts.env, "installed": facts.installed,
                                  "python-path": facts.python_path}).encode())
    return facts


LOCAL = ("oci-layout:", "docker-archive:", "docker-daemon:")


def _arch(text: str, platform: str) -> str:
    arch = PLATFORMS[platform].oci_arch
    if arch is None:
        raise EnvbuildError(f"{text}: {platform} has no container images")
    return arch


@contextmanager
def open_image(text: str, platform: str) -> Iterator[Image]:
    """The image TEXT names, for PLATFORM: in a registry, an OCI layout, a docker-save archive or the Docker engine."""
    arch = _arch(text, platform)
    if text.startswith("oci-layout:"):
        location = text.removeprefix("oci-layout:")
        path, _, tag = location.rpartition(":") if not Path(location).exists() else (location, "", "")
        yield registry.oci_layout_image(Path(path), tag or None, "linux", arch, text)
    elif text.startswith("docker-archive:"):
        yield registry.docker_archive_image(Path(text.removeprefix("docker-archive:")), text)
    elif text.startswith("docker-daemon:"):
        import tempfile

        from envbuild.adapters.engine import save_image

        with tempfile.TemporaryDirectory(prefix="envbuild-image-") as tmp:
            yield registry.docker_archive_image(save_image(text.removeprefix("docker-daemon:"), Path(tmp)), text)
    else:
        yield registry.remote_image(registry.platform_manifest(registry.parse_reference(text), "linux", arch))


def python_files(text: str, platform: str) -> dict[str, bytes]:
    """The METADATA, INSTALLER and direct_url.json of every Python distribution the image's site directories hold,
    by path (every layer is read)."""
    def wanted(name: str) -> bool:
        parts = name.split("/")
        return (len(parts) >= 3 and parts[-2].endswith(".dist-info") and parts[-3] in ("site-packages", "dist-packages")
                and parts[-1] in ("METADATA", "INSTALLER", "direct_url.json"))

    with open_image(text, platform) as image:
        return image.matching(wanted)


def _facts(text: str, image: Image) -> ImageFacts:
    env = image.env()
    promised = promised_interpreter(env)  # a build runs pythonX.Y by the image's PATH: a file, or a link to one
    interpreters = promised[1] if promised else []
    files = image.files((*FILES, *interpreters), also=LINK_TARGETS, present=interpreters)
    release = files.get("etc/os-release")
    if release is None:  # no etc/os-release at all: the other place the os-release spec allows
        release = image.files(LINK_TARGETS).get("usr/lib/os-release")
    if release is None:
        raise EnvbuildError(f"{text}: the image has no /etc/os-release, so its distribution is unknown; "
                            "set [environment] distro")
    fields = parse_os_release(release.decode("utf-8", "replace"))
    distro_id, version = fields.get("ID", ""), fields.get("VERSION_ID", "")
    if not version:
        raise EnvbuildError(f"{text}: its os-release has ID={distro_id} but no VERSION_ID (a testing or "
                            "unstable release?); set [environment] distro")
    distro = parse_distro(f"{distro_id}:{version}")
    installed = parse_dpkg_status(files.get("var/lib/dpkg/status", b"").decode("utf-8", "replace"))
    return ImageFacts(reference=text, digest=image.digest, distro=distro, env=tuple(sorted(env.items())),
                      installed=tuple(sorted(installed.items())),
                      python_path=next((f"/{p}" for p in interpreters if p in files), None))


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            parts = shlex.split(value, comments=False) if value.strip() else [""]
            out[key.strip()] = parts[0] if parts else ""
    return out


def parse_dpkg_status(text: str) -> dict[str, str]:
    """name -> version of the packages dpkg has installed ("install ok installed")."""
    out = {}
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            out[fields["Package"]] = fields.get("Version", "")
    return out
