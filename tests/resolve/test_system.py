"""The apt closure against a real mirror on 127.0.0.1 serving real bookworm stanzas (plus a few synthetic ones)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envbuild.adapters.apt import AptError, Source
from envbuild.adapters.openpgp import Keyring
from envbuild.resolve.closure import SystemResolutionError, UnknownSystemPackages, resolve_closure
from envbuild.resolve.system import (
    Trust,
    interpreter,
    load_universe,
    resolve_system,
    sources_for,
    upstream_version,
)
from envbuild.spec import parse_distro
from tests.conftest import envbuild, write_spec
from tests.support.apt import AptMirror, stanza
from tests.support.pypi import LocalIndex

BOOKWORM = parse_distro("debian:bookworm")
EXTRA = [
    stanza("alt-user", "1.0", depends="no-such-lib | libgomp1"),
    stanza("wants-new-libc", "1.0", depends="libc6 (>= 99) | zlib1g"),
    stanza("needs-awk", "1.0", depends="awk"),
    stanza("top-tool", "1.0", depends="mid-lib"),
    stanza("mid-lib", "2.0", depends="libc6 (>= 99)"),
    stanza("needs-ghost", "1.0", depends="ghost-lib (>= 1)"),
    stanza("needs-debconf2", "1.0", depends="debconf-2.0"),
    stanza("tiny-debconf", "1.0", provides="debconf-2.0"),
    stanza("sslish-tool", "3.0.22+b1", source="sslish (3.0.22)", depends="libsslish (>= 3.0.9), otherlib (>= 1)"),
    stanza("libsslish", "3.0.22", source="sslish"),
    stanza("otherlib", "2.0"),
    stanza("needs-otherlib", "1.0", depends="otherlib"),
]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[AptMirror]:
    with AptMirror(tmp_path / "mirror", extra_main=EXTRA) as served:
        yield served


def trusting(mirror: AptMirror) -> Trust:
    """The loopback mirror's own key, as [system] signed-by gives it."""
    return Trust(signed_by=Keyring("the test key", (mirror.key_file.read_bytes(),)))


def universe_of(mirror: AptMirror, platform: str = "linux/amd64"):
    return load_universe(sources_for(BOOKWORM, platform, f"{mirror.url}/debian", f"{mirror.url}/debian-security",
                                     trusting(mirror)), platform)


def test_closure_follows_depends_and_takes_security_updates(mirror: AptMirror) -> None:
    closure = {p.name: p for p in resolve_closure(["git"], universe_of(mirror))}
    assert {"git", "git-man", "libcurl3-gnutls", "perl", "liberror-perl", "libc6", "zlib1g"} <= set(closure)
    assert closure["git"].version == "1:2.39.5-0+deb12u3", "bookworm-security's git is newer than main's"
    assert closure["git"].architecture == "amd64" and closure["git-man"].architecture == "all"
    assert len(closure["git"].sha256) == 64
    assert "python3" not in closure, "nothing in git's closure needs Python"


def test_every_chosen_package_that_needs_one_is_kept_as_its_parent(mirror: AptMirror) -> None:
    """The edges `envbuild why` follows: a package two chosen packages need has both as parents, not only the one
    that brought it in first; through a virtual package, its provider has them; a root keeps its own too."""
    universe = universe_of(mirror)
    closure = {p.name: p for p in resolve_closure(["sslish-tool", "needs-otherlib", "otherlib"], universe)}
    assert closure["otherlib"].via == ("needs-otherlib", "sslish-tool") and closure["otherlib"].requested
    assert closure["needs-otherlib"].via == () and closure["needs-otherlib"].requested
    closure = {p.name: p for p in resolve_closure(["needs-debconf2", "tiny-debconf"], universe)}
    assert closure["tiny-debconf"].via == ("needs-debconf2",), "it provides debconf-2.0, which needs-debconf2 needs"
    closure = {p.name: p for p in resolve_closure(["git"], universe)}
    libc = closure["libc6"].via
    assert {"git", "libcurl3-gnutls", "zlib1g"} <= set(libc) and list(libc) == sorted(libc), libc
    assert not closure["libc6"].requested and closure["git"].via == ()


def test_the_first_satisfiable_alternative_is_taken(mirror: AptMirror) -> None:
    names = {p.name for p in resolve_closure(["alt-user"], universe_of(mirror))}
    assert "libgomp1" in names and "no-such-lib" not in names


def test_versioned_relations_are_honoured(mirror: AptMirror) -> None:
    names = {p.name for p in resolve_closure(["wants-new-libc"], universe_of(mirror))}
    assert "zlib1g" in names, "libc6 (>= 99) is not available, so the alternative must be used"


def test_virtual_packages_resolve_through_provides(mirror: AptMirror) -> None:
    universe = universe_of(mirror)
    assert {p.name for p in resolve_closure(["needs-awk"], universe)} >= {"needs-awk", "mawk"}
    assert "mawk" in {p.name for p in resolve_closure(["awk"], universe)}, "awk: one provider, so it is chosen"
    # debconf-2.0 is provided by debconf (Priority: required) and cdebconf (optional): apt's choice is debconf
    closure = {p.name for p in resolve_closure(["needs-debconf2"], universe)}
    assert "debconf" in closure and "cdebconf" not in closure
    # ...and as a root it is ambiguous
    with pytest.raises(SystemResolutionError,
                       match=r"debconf-2\.0 is a virtual package provided by debconf, cdebconf, tiny-debconf"):
        resolve_closure(["debconf-2.0"], universe)
    # a provider already selected meets the relation: nothing else is pulled in for it
    assert {p.name for p in resolve_closure(["tiny-debconf", "needs-debconf2"], universe)} == {
        "tiny-debconf", "needs-debconf2"}


def test_an_unsatisfiable_relation_names_the_chain(mirror: AptMirror) -> None:
    universe = universe_of(mirror)
    with pytest.raises(SystemResolutionError) as info:
        resolve_closure(["top-tool"], universe)
    message = str(info.value)
    assert message.startswith("top-tool -> mid-lib -> libc6 (>= 99): nothing satisfies it (available: libc6 2.36-")
    with pytest.raises(SystemResolutionError, match=r"needs-ghost -> ghost-lib \(>= 1\): nothing satisfies it "
                                                    r"\(no such package\)"):
        resolve_closure(["needs-ghost"], universe)
    with pytest.raises(SystemResolutionError, match="no-such-package: no such package in the target's apt sources"):
        resolve_closure(["no-such-package"], universe)
    with pytest.raises(UnknownSystemPackages) as unknown:  # every unknown one at once, for the user and for init
        resolve_closure(["git", "nope-a", "curl", "nope-b"], universe)
    assert unknown.value.names == ("nope-a", "nope-b")
    assert str(unknown.value) == "nope-a, nope-b: no such package in the target's apt sources"


def test_what_the_base_image_has_is_left_out(mirror: AptMirror) -> None:
    universe = universe_of(mirror)
    full = {p.name for p in resolve_closure(["git"], universe)}
    libc = universe.candidates["libc6"].version
    slim = {p.name for p in resolve_closure(["git"], universe, installed={"libc6": libc, "zlib1g": "1:1.2.13.dfsg-1"})}
    assert full - slim >= {"libc6", "zlib1g"}
    # an installed version too old for a relation does not count as present
    old = {p.name for p in resolve_closure(["git"], universe, installed={"libc6": "2.10-1"})}
    assert "libc6" in old


def test_an_installed_dependency_from_the_same_source_is_upgraded_as_apt_does(mirror: AptMirror) -> None:
    """apt-get install openssl=3.0.22 upgrades the base image's libssl3 3.0.20 (same source, same version) though
    3.0.20 satisfies openssl's "libssl3 (>= 3.0.9)"; the lock must hold what apt will install."""
    universe = universe_of(mirror)
    closure = {p.name: p.version for p in resolve_closure(["sslish-tool"], universe,
                                                          installed={"libsslish": "3.0.20", "otherlib": "1.0"})}
    assert closure == {"sslish-tool": "3.0.22+b1", "libsslish": "3.0.22"}, "otherlib is another source: kept"
    same = {p.name for p in resolve_closure(["sslish-tool"], universe, installed={"libsslish": "3.0.22",
                                                                                  "otherlib": "1.0"})}
    assert same == {"sslish-tool"}


def test_the_interpreter_comes_from_the_distro_package(mirror: AptMirror) -> None:
    universe = universe_of(mirror)
    package, version = interpreter(universe, BOOKWORM, "3.11")
    assert package == "python3.11" and version == "3.11.2"
    with pytest.raises(SystemResolutionError, match=r"debian:12 \(bookworm\) has no python3.12 package \(it offers "
                                                    r"python3.11\)"):
        interpreter(universe, BOOKWORM, "3.12")
    with pytest.raises(SystemResolutionError,
                       match=r"debian:12 provides Python 3.11.2 .*not 3.11.9; ask for python = \"3.11\" or use"):
        interpreter(universe, BOOKWORM, "3.11.9")
    assert upstream_version("3.11.2-6+deb12u6") == "3.11.2"
    assert upstream_version("1:2.39.5-0+deb12u3") == "2.39.5"


def test_a_checksum_mismatch_is_refused(mirror: AptMirror) -> None:
    index = mirror.root / "debian" / "dists" / "bookworm" / "main" / "binary-amd64" / "Packages.xz"
    index.write_bytes(index.read_bytes() + b"tampered")
    with pytest.raises(AptError, match=r"bookworm/main/binary-amd64/Packages.xz: checksum mismatch"):
        universe_of(mirror)


def test_a_second_load_revalidates_release_files_and_downloads_no_index(mirror: AptMirror) -> None:
    universe_of(mirror)
    first = list(mirror.requests)
    assert sum(path.endswith("Packages.xz") for path, _ in first) == 3
    universe_of(mirror)
    second = mirror.requests[len(first):]
    assert sorted(status for _, status in second) == [304, 304, 304], second
    assert all(path.endswith("/InRelease") for path, _ in second)


def test_a_missing_suite_says_so(mirror: AptMirror) -> None:
    from envbuild.adapters.apt import index_files

    with pytest.raises(AptError, match=r"dists/sid/InRelease: not found, nor Release \(is 'sid' a suite of"):
        index_files(Source(f"{mirror.url}/debian", "sid", ("main",)), "amd64")


def test_sources_follow_distro_mirror_and_snapshot() -> None:
    debian = sources_for(BOOKWORM, "linux/amd64")
    assert [(s.url, s.suite) for s in debian] == [
        ("http://deb.debian.org/debian", "bookworm"), ("http://deb.debian.org/debian", "bookworm-updates"),
        ("http://deb.debian.org/debian-security", "bookworm-security")]
    snap = sources_for(BOOKWORM, "linux/amd64", "snapshot:20251120T000000Z")
    assert snap[0].url == "http://snapshot.debian.org/archive/debian/20251120T000000Z"
    assert snap[2].url == "http://snapshot.debian.org/archive/debian-security/20251120T000000Z"
    noble_arm = sources_for(parse_distro("ubuntu:24.04"), "linux/arm64")
    assert noble_arm[0].url == "http://ports.ubuntu.com/ubuntu-ports" and noble_arm[0].components == ("main",
                                                                                                       "universe")
    assert len(sources_for(BOOKWORM, "linux/amd64", security_mirror="none")) == 2


def test_resolve_system_adds_the_interpreter_and_its_venv(mirror: AptMirror) -> None:
    system, version = resolve_system(BOOKWORM, "linux/amd64", ["git"], "3.11", mirror=f"{mirror.url}/debian",
                                     security_mirror=f"{mirror.url}/debian-security", trust=trusting(mirror))
    names = {p.name for p in system.packages}
    assert {"git", "python3.11", "python3.11-venv"} <= names and version == "3.11.2"
    assert system.sources[0] == f"{mirror.url}/debian bookworm main"


def test_lock_writes_the_apt_closure_and_a_bad_package_keeps_the_old_lock(tmp_path: Path, index: LocalIndex) -> None:
    spec = write_spec(tmp_path, index.url, ["alpha"], system=["git", "libgomp1"])
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "envbuild.lock").read_text()
    assert '[[system.packages]]\nname = "git"\nversion = "1:2.39.5-0+deb12u3"\narchitecture = "amd64"\nsha256 = "' \
        in text
    assert 'python = "3.11.2"\npython-source = "system"' in text
    before = (tmp_path / "envbuild.lock").read_bytes()
    spec.write_text(spec.read_text().replace('"libgomp1"', '"libgomp-nope"'))
    bad = envbuild("lock", cwd=tmp_path)
    assert bad.returncode == 2 and "libgomp-nope: no such package in the target's apt sources" in bad.stderr
    assert (tmp_path / "envbuild.lock").read_bytes() == before


def test_a_mirror_update_is_seen_despite_the_closure_cache(mirror: AptMirror) -> None:
    kwargs = {"mirror": f"{mirror.url}/debian", "security_mirror": f"{mirror.url}/debian-security",
              "trust": trusting(mirror)}
    first, _ = resolve_system(BOOKWORM, "linux/amd64", ["alt-user"], "3.11", **kwargs)
    assert first.by_name()["alt-user"].version == "1.0"
    again, _ = resolve_system(BOOKWORM, "linux/amd64", ["alt-user"], "3.11", **kwargs)
    assert again == first
    mirror.publish(extra_main=[*EXTRA, stanza("alt-user", "2.0", depends="libgomp1")])
    updated, _ = resolve_system(BOOKWORM, "linux/amd64", ["alt-user"], "3.11", **kwargs)
    assert updated.by_name()["alt-user"].version == "2.0"


def test_a_new_interpreter_release_reaches_the_python_pins(tmp_path: Path, index: LocalIndex) -> None:
    with AptMirror(tmp_path / "m") as apt:
        write_spec(tmp_path, index.url, ["alpha"], apt=apt)
        assert envbuild("lock", cwd=tmp_path).returncode == 0
        assert 'python = "3.11.2"' in (tmp_path / "envbuild.lock").read_text()
        # a point release lands in bookworm-security: the speculative uv run (3.11.2) must not be kept
        apt.publish(extra_security=[stanza("python3.11", "3.11.9-1+deb12u1", depends="libc6"),
                                    stanza("python3.11-venv", "3.11.9-1+deb12u1",
                                           depends="python3.11 (= 3.11.9-1+deb12u1)")])
        done = envbuild("lock", "-v", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert 'python = "3.11.9"' in (tmp_path / "envbuild.lock").read_text()
        assert done.stdout.count("stage    python (uv)") == 2, done.stdout
