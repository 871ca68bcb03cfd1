"""Signed apt indexes, failing closed: a loopback mirror whose Release files are signed by a key the tests make,
served valid, unsigned, signed by another key, tampered after signing and expired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envbuild import data, lockfile
from envbuild.adapters.apt import AptError, Source, release_index
from envbuild.adapters.openpgp import Keyring, SignatureError, fingerprints_of
from envbuild.resolve.system import archive_keyring
from tests.conftest import envbuild, write_spec
from tests.support.apt import AptMirror, archive_key, sign
from tests.support.pypi import LocalIndex


def test_every_shipped_archive_key_is_the_one_keys_toml_lists() -> None:
    from importlib import resources

    for distro, table in data.load("keys").items():
        for row in table["keys"]:
            blob = resources.files("envbuild.data").joinpath("keys", row["file"]).read_bytes()
            assert [f.upper() for f in fingerprints_of(blob)] == [row["fingerprint"]], row["file"]
        assert len(archive_keyring(distro).fingerprints()) == len(table["keys"])


def locked(tmp_path: Path, index: LocalIndex, mirror: AptMirror, **spec: object) -> tuple[int, str, Path]:
    write_spec(tmp_path, index.url, ["alpha"], system=["git"], apt=mirror)
    path = tmp_path / "envbuild.toml"
    text = path.read_text()
    for key, value in spec.items():
        text = text.replace("[system]\n", f"[system]\n{key.replace('_', '-')} = {json.dumps(value)}\n", 1)
    path.write_text(text)
    done = envbuild("lock", cwd=tmp_path)
    return done.returncode, done.stdout + done.stderr, tmp_path / "envbuild.lock"


def suite(mirror: AptMirror, name: str = "bookworm", archive: str = "debian") -> Path:
    return mirror.root / archive / "dists" / name


def test_a_signed_mirror_locks_and_the_lock_says_which_state_and_signer(tmp_path: Path, index: LocalIndex) -> None:
    with AptMirror(tmp_path / "mirror") as mirror:
        code, output, lock_path = locked(tmp_path / "p", index, mirror)
        assert code == 0, output
        lock = lockfile.read_lockfile(lock_path)
        assert lock.version >= 3
        releases = lock.targets[0].apt_releases
        fingerprint = mirror.key.extract_certificate().fingerprint
        assert [(r.source, r.date, r.signer) for r in releases] == [
            (f"{mirror.url}/debian bookworm", "2025-11-01T10:00:00Z", fingerprint),
            (f"{mirror.url}/debian bookworm-updates", "2025-11-01T10:00:00Z", fingerprint),
            (f"{mirror.url}/debian-security bookworm-security", "2025-11-01T10:00:00Z", fingerprint)]
        before = lock_path.read_bytes()
        assert envbuild("lock", cwd=tmp_path / "p").returncode == 0 and lock_path.read_bytes() == before
        # Release + Release.gpg, as older mirrors serve them
        for name in ("bookworm", "bookworm-updates"):
            (suite(mirror, name) / "InRelease").unlink()
        (suite(mirror, "bookworm-security", "debian-security") / "InRelease").unlink()
        assert envbuild("lock", cwd=tmp_path / "p").returncode == 0 and lock_path.read_bytes() == before


@pytest.mark.parametrize("how", ["unsigned", "another key", "tampered", "expired", "no signed-by"])
def test_a_mirror_that_cannot_vouch_for_its_indexes_gives_no_lock(tmp_path: Path, index: LocalIndex,
                                                                  how: str) -> None:
    with AptMirror(tmp_path / "mirror") as mirror:
        code, output, lock_path = locked(tmp_path / "p", index, mirror)
        assert code == 0, output
        before = lock_path.read_bytes()
        main = suite(mirror)
        expected = {
            "unsigned": "the Release file is not signed (no InRelease, no Release.gpg)",
            "another key": "(InRelease): no good signature by",
            "tampered": "(InRelease): no good signature by",
            "expired": "the Release file expired on 2025-11-02T00:00:00Z (Valid-Until)",
            "no signed-by": "(InRelease): no good signature by the debian archive keys",
        }[how]
        if how == "unsigned":
            (main / "InRelease").unlink()
            (main / "Release.gpg").unlink()
        elif how == "another key":
            (main / "InRelease").write_bytes(sign((main / "Release").read_bytes(), archive_key("intruder")))
        elif how == "tampered":
            text = (main / "InRelease").read_bytes()
            (main / "InRelease").write_bytes(text.replace(b"Origin: envbuild-tests", b"Origin: envbuild-testz"))
        elif how == "expired":
            mirror.valid_until = "Sun, 02 Nov 2025 00:00:00 UTC"
            mirror.publish()
        else:
            spec = tmp_path / "p" / "envbuild.toml"
            spec.write_text("\n".join(line for line in spec.read_text().splitlines()
                                      if not line.startswith("signed-by")) + "\n")
        done = envbuild("lock", cwd=tmp_path / "p")
        assert done.returncode == 2, done.stdout + done.stderr
        assert expected in done.stderr and f"{mirror.url}/debian bookworm" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert lock_path.read_bytes() == before, "the old lock stays byte-identical"


def test_insecure_unsigned_is_recorded_and_said_by_lock_and_check(tmp_path: Path, index: LocalIndex) -> None:
    with AptMirror(tmp_path / "mirror") as mirror:
        for name, archive in (("bookworm", "debian"), ("bookworm-updates", "debian"),
                              ("bookworm-security", "debian-security")):
            for file in ("InRelease", "Release.gpg"):
                (suite(mirror, name, archive) / file).unlink()
        write_spec(tmp_path, index.url, ["alpha"], system=["git"], apt=mirror)
        spec = tmp_path / "envbuild.toml"
        spec.write_text(spec.read_text().replace(f'signed-by = "{mirror.key_file}"', "insecure-unsigned = true"))
        done = envbuild("lock", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "warning: [system] insecure-unsigned" in done.stderr
        lock = lockfile.read_lock(tmp_path / "envbuild.lock")
        assert lock.system is not None and lock.system.unsigned
        assert {r.signer for r in lock.system.releases} == {"unsigned"}
        done = envbuild("lock", cwd=tmp_path)
        assert "warning: [system] insecure-unsigned" in done.stderr, "in every run"
        check = envbuild("check", "--json", cwd=tmp_path)
        findings = json.loads(check.stdout)["findings"]
        assert {"kind": "system", "name": "apt-signatures", "status": "unverifiable",
                "expected": "signed Release files",
                "found": "the lock took them unsigned ([system] insecure-unsigned)",
                "severity": "warning"} in findings


def test_a_snapshot_archive_is_frozen_so_valid_until_does_not_apply(tmp_path: Path) -> None:
    with AptMirror(tmp_path / "mirror", valid_until="Sun, 02 Nov 2025 00:00:00 UTC") as mirror:
        keys = Keyring("the test key", (mirror.key_file.read_bytes(),))
        live = Source(f"{mirror.url}/debian", "bookworm", ("main",), keys)
        with pytest.raises(AptError, match="expired on 2025-11-02T00:00:00Z"):
            release_index(live, "amd64")
        files, facts = release_index(Source(live.url, live.suite, live.components, keys, snapshot=True), "amd64")
        assert files and facts.signer == mirror.key.extract_certificate().fingerprint


def test_a_release_is_parsed_once_yet_its_signature_and_valid_until_are_checked_every_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-lock against an unchanged mirror reads the Release's parse back (kept under the text's sha256) and
    does not load python-debian; the same text signed by another key, or past its Valid-Until, still fails."""
    import debian.deb822

    monkeypatch.setenv("ENVBUILD_CACHE_DIR", str(tmp_path / "cache"))
    with AptMirror(tmp_path / "mirror", valid_until="Sun, 02 Nov 2025 00:00:00 UTC") as mirror:
        keys = Keyring("the test key", (mirror.key_file.read_bytes(),))
        live = Source(f"{mirror.url}/debian", "bookworm", ("main",), keys)
        frozen = Source(live.url, live.suite, live.components, keys, snapshot=True)
        first = release_index(frozen, "amd64")
        assert len(list((tmp_path / "cache").rglob("releases/*.json"))) == 1

        def refuse(*_: object, **__: object) -> None:
            raise AssertionError("the Release was parsed again")

        monkeypatch.setattr(debian.deb822, "Release", refuse)
        assert release_index(frozen, "amd64") == first
        with pytest.raises(AptError, match="expired on 2025-11-02T00:00:00Z"):
            release_index(live, "amd64")
        main = suite(mirror)
        (main / "InRelease").write_bytes(sign((main / "Release").read_bytes(), archive_key("intruder")))
        with pytest.raises(SignatureError, match=r"\(InRelease\): no good signature by the test key"):
            release_index(frozen, "amd64")


def test_signed_by_must_name_a_key_of_a_named_mirror(tmp_path: Path, index: LocalIndex) -> None:
    write_spec(tmp_path, index.url, ["alpha"])
    spec = tmp_path / "envbuild.toml"
    text = spec.read_text()
    spec.write_text(text.replace("signed-by = ", "signed-by = \"keys/none.asc\"\n#"))
    done = envbuild("lock", "--check", cwd=tmp_path)
    assert done.returncode == 2 and "[system] -> signed-by: keys/none.asc: no such key file" in done.stderr
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "none.asc").write_text("not a key\n")
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 2 and "keys/none.asc: not an OpenPGP public key" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
