"""A sound apt closure: Conflicts and Breaks are honoured, against what is chosen and what the base image holds.
Each case is one where a naive closure (first alternative, first provider) would pick a conflicting package."""

from __future__ import annotations

from pathlib import Path

import pytest

from envbuild.adapters.apt import scan
from envbuild.resolve.closure import SystemResolutionError, Universe, resolve_closure
from tests.conftest import envbuild, write_spec
from tests.support.apt import FIXTURES, AptMirror, stanza
from tests.support.pypi import LocalIndex

CASES = [
    # an alternative that conflicts with a root is passed over for the next one
    stanza("needs-mta", "1.0", depends="mta-a | mta-b"),
    stanza("mta-a", "1.0"),
    stanza("mta-b", "1.0"),
    stanza("mta-hater", "1.0", conflicts="mta-a"),
    # a provider that conflicts with what is chosen is passed over for the next provider
    stanza("needs-editor", "1.0", depends="editor"),
    stanza("aa-editor", "1.0", provides="editor", conflicts="shared-lib"),
    stanza("bb-editor", "1.0", provides="editor"),
    stanza("shared-lib", "1.0"),
    # Breaks with a version: the old one is broken, the new one is fine
    stanza("new-lib", "2.0", breaks="old-tool (<< 2.0)"),
    stanza("old-tool", "2.0"),
    # mutually exclusive by a virtual name that both provide and conflict with (as MTAs do)
    stanza("mail-one", "1.0", provides="mail-agent", conflicts="mail-agent"),
    stanza("mail-two", "1.0", provides="mail-agent", conflicts="mail-agent"),
    # nothing avoids it: a chain into a package that conflicts with a root
    stanza("top-app", "1.0", depends="mid-part"),
    stanza("mid-part", "1.0", depends="bad-part"),
    stanza("bad-part", "1.0", conflicts="top-app"),
]


def universe() -> Universe:
    text = (FIXTURES / "bookworm-main.Packages").read_bytes().rstrip(b"\n") + b"\n\n" + b"\n".join(CASES)
    return Universe(list(scan(text)), "amd64")


def names(roots: list[str], installed: dict[str, str] | None = None) -> set[str]:
    return {p.name for p in resolve_closure(roots, universe(), installed)}


def test_an_alternative_that_conflicts_is_passed_over() -> None:
    assert names(["needs-mta"]) >= {"mta-a"}, "naively: the first alternative"
    chosen = names(["mta-hater", "needs-mta"])
    assert "mta-b" in chosen and "mta-a" not in chosen


def test_a_provider_that_conflicts_is_passed_over() -> None:
    assert "aa-editor" in names(["needs-editor"]), "the preferred provider, when nothing conflicts"
    chosen = names(["shared-lib", "needs-editor"])
    assert "bb-editor" in chosen and "aa-editor" not in chosen


def test_a_break_against_the_base_image_upgrades_it_as_apt_would() -> None:
    chosen = {p.name: p.version for p in resolve_closure(["new-lib"], universe(), {"old-tool": "1.0"})}
    assert chosen == {"new-lib": "2.0", "old-tool": "2.0"}
    without = Universe([r for r in universe().candidates.values() if r.package != "old-tool"], "amd64")
    with pytest.raises(SystemResolutionError, match=r"new-lib conflicts with old-tool 1.0 \(in the base image\)"):
        resolve_closure(["new-lib"], without, {"old-tool": "1.0"})


def test_two_packages_that_exclude_each_other_are_an_error() -> None:
    with pytest.raises(SystemResolutionError, match="mail-two: mail-two conflicts with mail-agent, which mail-one "
                                                    "provides"):
        resolve_closure(["mail-one", "mail-two"], universe())
    assert names(["mail-one"]) == {"mail-one"}, "a package may conflict with a name it provides itself"


def test_a_conflict_nothing_avoids_names_the_chain() -> None:
    with pytest.raises(SystemResolutionError) as info:
        resolve_closure(["top-app"], universe())
    assert str(info.value) == ("top-app -> mid-part -> bad-part: every choice conflicts (bad-part conflicts with "
                               "top-app)")


def test_lock_refuses_a_conflicting_closure_and_keeps_the_old_lock(tmp_path: Path, index: LocalIndex) -> None:
    with AptMirror(tmp_path / "mirror", extra_main=CASES) as mirror:
        spec = write_spec(tmp_path / "p", index.url, ["alpha"], system=["mta-hater", "needs-mta"], apt=mirror)
        done = envbuild("lock", cwd=spec.parent)
        assert done.returncode == 0, done.stderr
        before = (spec.parent / "envbuild.lock").read_bytes()
        assert b'name = "mta-b"' in before and b'name = "mta-a"' not in before
        spec.write_text(spec.read_text().replace('"mta-hater", "needs-mta"', '"top-app"'))
        done = envbuild("lock", cwd=spec.parent)
        assert done.returncode == 2 and "every choice conflicts (bad-part conflicts with top-app)" in done.stderr
        assert (spec.parent / "envbuild.lock").read_bytes() == before
