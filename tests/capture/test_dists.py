"""The top-level distributions of an environment: what a person asked for, and a closure that brings back all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from envbuild.capture.dists import Installed, parse_metadata, top_level

MARKERS = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
           "platform_machine": "x86_64", "implementation_name": "cpython", "platform_system": "Linux",
           "os_name": "posix", "platform_python_implementation": "CPython", "platform_release": "",
           "platform_version": "", "implementation_version": "3.11.2"}


def dist(name: str, version: str = "1.0", requires: tuple[str, ...] = (), extras: tuple[str, ...] = (),
         **kw: object) -> Installed:
    return Installed(name=name, version=version, requires=requires, extras=extras, **kw)  # type: ignore[arg-type]


def test_the_dependencies_of_others_are_not_top_level() -> None:
    got = top_level([dist("app", "2.0", ("lib>=1", "old; python_version < '3.9'")), dist("lib", "1.5"),
                     dist("old", "0.1"), dist("pip", "24.0")], MARKERS)
    # old is required only under a marker that is false here: someone asked for it; pip never counts
    assert got.requirements == ("app==2.0", "old==0.1")
    assert dict(got.prefer) == {"app": "2.0", "lib": "1.5", "old": "0.1", "pip": "24.0"}


def test_an_extra_installed_whole_is_put_on_its_parent() -> None:
    installed = [
        dist("requests", "2.31.0", ("urllib3", "pysocks; extra == 'socks'", "chardet; extra == 'chardet'"),
             ("socks", "chardet")),
        dist("urllib3", "2.0", ("pysocks; extra == 'socks'",), ("socks",)),
        dist("pysocks", "1.7.1"),
        # an extra of which only one dependency is installed was not asked for: requests stays top-level
        dist("markdown-it-py", "3.0", ("mdurl", "pytest; extra == 'testing'", "requests; extra == 'testing'"),
             ("testing",)),
        dist("mdurl", "0.1"),
    ]
    got = top_level(installed, MARKERS)
    assert got.requirements == ("markdown-it-py==3.0", "requests[socks]==2.31.0")


def test_what_cannot_be_captured_is_said_and_its_dependencies_are_pinned() -> None:
    installed = [
        dist("mine", "0.1", ("helper",), direct_url={"url": "file:///src/mine", "dir_info": {"editable": True}}),
        dist("helper", "3.0"),
        dist("tool", "1.0", direct_url={"url": "https://github.com/x/tool", "vcs_info": {"vcs": "git",
                                                                                       "commit_id": "ab" * 20}}),
        dist("wheelish", "1.0", direct_url={"url": "file:///tmp/wheelish-1.0-py3-none-any.whl",
                                            "archive_info": {}}),
        dist("yaml", "6.0", installer="debian"),
    ]
    got = top_level(installed, MARKERS)
    assert got.requirements == ("helper==3.0", f"tool @ git+https://github.com/x/tool@{'ab' * 20}")
    texts = [n.text for n in got.notes]
    assert any(t.startswith("mine==0.1: not captured, an editable install of file:///src/mine") for t in texts)
    assert any("local file file:///tmp/wheelish-1.0-py3-none-any.whl" in t for t in texts)
    assert any(t == "helper: pinned, since mine (not captured) needs it" for t in texts)
    assert any("1 distributions belong to the system's package manager (yaml)" in t for t in texts)
    assert [n.warn for n in got.notes if ": not captured," in n.text] == [True, True]
    assert "tool" not in dict(got.prefer), "its version comes from its commit, not from an index"


def test_a_git_checkout_or_a_url_is_named_with_where_it_came_from_even_when_required() -> None:
    """A package installed from git (at its commit, with its subdirectory) or from an archive on a web server is
    captured as a direct reference, also when another package requires it: named by version alone, the lock would
    take an index's package of that name.  What only this machine has (an editable git checkout, a git install
    with no commit recorded) is not captured, and said so."""
    commit = "cd" * 20
    installed = [
        dist("app", "1.0", ("core>=1", "fmt")),
        dist("core", "1.2.dev0", direct_url={"url": "https://git.example.com/ml/core.git", "subdirectory": "py",
                                             "vcs_info": {"vcs": "git", "commit_id": commit}}),
        dist("fmt", "2.0", direct_url={"url": "https://files.example.com/fmt-2.0-py3-none-any.whl",
                                       "archive_info": {"hashes": {"sha256": "0" * 64}}}),
        dist("dev", "0.1", direct_url={"url": "https://github.com/x/dev", "dir_info": {"editable": True},
                                       "vcs_info": {"vcs": "git", "commit_id": commit}}),
        dist("nocommit", "0.1", direct_url={"url": "https://bot:t0ken@github.com/x/nc", "vcs_info": {"vcs": "git"}}),
        dist("secret", "0.2", direct_url={"url": "https://bot:s3cret@git.example.com/ml/secret.git",
                                          "vcs_info": {"vcs": "git", "commit_id": commit}}),
        dist("over-ssh", "0.3", direct_url={"url": "ssh://git@git.example.com/ml/ssh.git",
                                            "vcs_info": {"vcs": "git", "commit_id": commit}}),
    ]
    got = top_level(installed, MARKERS)
    assert got.requirements == ("app==1.0", f"core @ git+https://git.example.com/ml/core.git@{commit}#subdirectory=py",
                                "fmt @ https://files.example.com/fmt-2.0-py3-none-any.whl",
                                f"over-ssh @ git+ssh://git@git.example.com/ml/ssh.git@{commit}",
                                f"secret @ git+https://git.example.com/ml/secret.git@{commit}"), "never a password"
    for req in got.requirements:
        Requirement(req)  # each one a valid PEP 508 requirement
    texts = [n.text for n in got.notes]
    assert any(t.startswith("dev==0.1: not captured, an editable install of") for t in texts)
    assert any(t.startswith("nocommit==0.1: not captured, installed from git https://github.com/x/nc@") for t in texts)
    assert "t0ken" not in " ".join(texts), "a password is said nowhere either"
    assert dict(got.prefer) == {"app": "1.0"}, "neither what came from git or a URL, nor what was not captured"


def test_a_cycle_is_broken_by_pinning_one_of_it() -> None:
    got = top_level([dist("a", "1", ("b",)), dist("b", "2", ("a",))], MARKERS)
    assert got.requirements == ("a==1",)


def test_metadata_headers_folded_lines_and_the_body_are_read_right() -> None:
    text = (b"Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nRequires-Dist: a (>=1,\n <2)\n"
            b"Provides-Extra: Fast\nRequires-Dist: b ; extra == 'fast'\n\nRequires-Dist: not-a-header\n")
    assert parse_metadata(text) == ("Foo_Bar", "1.0", ("a (>=1, <2)", "b ; extra == 'fast'"), ("fast",))
    assert parse_metadata(b"Name: x\n\nVersion: 1\n") is None


@st.composite
def environments(draw: st.DrawFn) -> list[Installed]:
    """Random installed sets: each distribution requires some earlier ones, some through an extra."""
    count = draw(st.integers(1, 12))
    out = []
    for i in range(count):
        requires, extras = [], []
        for j in range(i):
            how = draw(st.sampled_from(["none", "none", "base", "extra", "marker-false"]))
            if how == "base":
                requires.append(f"d{j}")
            elif how == "extra":
                extras.append(f"x{j}")
                requires.append(f"d{j}; extra == 'x{j}'")
            elif how == "marker-false":
                requires.append(f"d{j}; python_version < '3'")
        out.append(dist(f"d{i}", f"{i}.0", tuple(requires), tuple(extras)))
    return out


def _closure(requirements: tuple[str, ...], installed: list[Installed]) -> set[str]:
    """The installed distributions REQUIREMENTS bring, by pip's rules, computed apart from the code under test."""
    by_name = {d.name: d for d in installed}
    seen: set[tuple[str, str]] = set()
    queue = [(r.name, e) for r in map(Requirement, requirements) for e in ("", *r.extras)]
    while queue:
        name, extra = queue.pop()
        if (name, extra) in seen or name not in by_name:
            continue
        seen.add((name, extra))
        for text in by_name[name].requires:
            req = Requirement(text)
            if (req.marker is None and not extra) or (req.marker is not None and req.marker.evaluate(
                    {**MARKERS, "extra": extra})):
                queue += [(req.name, e) for e in ("", *req.extras)]
    return {n for n, _ in seen}


@settings(max_examples=200, deadline=None)
@given(environments())
def test_the_captured_requirements_bring_back_every_installed_distribution(installed: list[Installed]) -> None:
    got = top_level(installed, MARKERS)
    assert _closure(got.requirements, installed) == {d.name for d in installed}
    for text in got.requirements:  # each at its installed version
        req = Requirement(text)
        assert str(req.specifier) == f"=={next(d.version for d in installed if d.name == req.name)}"
