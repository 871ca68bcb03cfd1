"""envbuild diff: pairs of locks made here (an upgrade, a downgrade, a base-image digest change, a CUDA change, a
hash-only change, apt packages pulled in by a new top-level package), shown as text, markdown and JSON against
golden files; the HEAD default in a git repository made by the test; the lock an image carries; exit codes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envbuild import lockfile
from envbuild.lockfile import Lock, PythonFile, PythonPackage, SystemPackage
from tests.commands.test_conda import conda_lock
from tests.conftest import FIXTURES, envbuild
from tests.support.pypi import LocalIndex
from tests.support.registry import DEBIAN_12, Registry, layer

BASE = FIXTURES / "render" / "envbuild.lock"
GOLDEN = FIXTURES / "golden" / "diff"


def changed(lock: Lock) -> Lock:
    """Every kind of change a review meets, at once."""
    python = []
    for package in lock.python.packages:
        if package.name == "numpy":  # a major upgrade
            package = dataclasses.replace(package, version="2.0.0", hashes=("sha256:" + "e" * 64,),  # noqa: PLW2901
                                          requested=True)
        elif package.name == "nvidia-cuda-runtime-cu12":  # a re-upload: same version, other hashes
            package = dataclasses.replace(package, hashes=("sha256:" + "f" * 64,), files=tuple(  # noqa: PLW2901
                dataclasses.replace(f, hash="sha256:" + "f" * 64) for f in package.files))
        python.append(package)
    python.append(PythonPackage("triton", "3.1.0", ("sha256:" + "7" * 64,),
                                (PythonFile("triton-3.1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "https://f/t.whl",
                                            "sha256:" + "7" * 64),), via=("numpy",)))
    assert lock.system is not None and lock.cuda is not None and lock.base_image is not None
    system = [dataclasses.replace(p, version="1:2.39.2-1.1") if p.name == "git" else p for p in lock.system.packages]
    system += [SystemPackage("curl", "7.88.1-10+deb12u8", "amd64", "8" * 64, requested=True),  # a new top-level
               SystemPackage("libcurl4", "7.88.1-10+deb12u8", "amd64", "9" * 64, via=("curl",))]  # package's closure
    return dataclasses.replace(
        lock, python=dataclasses.replace(lock.python, packages=tuple(sorted(python, key=lambda p: p.name))),
        system=dataclasses.replace(lock.system, packages=tuple(sorted(system, key=lambda p: p.name))),
        cuda=dataclasses.replace(lock.cuda, runtime="12.6.77", min_driver="525.60.13"),
        base_image=dataclasses.replace(lock.base_image, digest="sha256:" + "c" * 64),
        env=(*lock.env, ("NCCL_DEBUG", "WARN")))


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    old = dataclasses.replace(lockfile.read_lock(BASE), version=lockfile.LOCK_VERSION)  # with edges (version 4)
    (tmp_path / "old.lock").write_text(lockfile.dumps(old))
    (tmp_path / "new.lock").write_text(lockfile.dumps(changed(old)))
    return tmp_path / "old.lock", tmp_path / "new.lock"


@pytest.mark.parametrize(("args", "golden"), [([], "diff.txt"), (["--format", "markdown"], "diff.md"),
                                              (["--json"], "diff.json")])
def test_each_form_matches_its_golden_file(pair: tuple[Path, Path], args: list[str], golden: str,
                                           update_goldens: bool) -> None:
    done = envbuild("diff", "old.lock", "new.lock", *args, cwd=pair[0].parent)
    assert done.returncode == 1, done.stderr
    if update_goldens:
        (GOLDEN / golden).write_text(done.stdout)
    assert done.stdout == (GOLDEN / golden).read_text(), "the diff output changed; --update-goldens if intended"


def test_a_diff_runs_without_the_cyclic_collector_and_a_caller_gets_it_back(pair: tuple[Path, Path],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The diff's process makes tens of thousands of objects and no cycle worth collecting (the collector cost 6 ms
    of a cold diff of two large locks); a program that calls the entry point and goes on keeps its collector."""
    import gc

    from envbuild.commands import diff as command
    from envbuild.entry import main

    seen = []
    compare = command.compare

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return compare(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "compare", watched)
    assert gc.isenabled()
    with pytest.raises(SystemExit) as leaving:
        main(["diff", str(pair[0]), str(pair[1]), "--json"])
    assert leaving.value.code == 1 and seen == [False] and gc.isenabled()


def test_the_diff_parses_its_own_options_and_never_loads_click(pair: tuple[Path, Path]) -> None:
    """The same parser behind `envbuild diff` (the console script) and the click group's diff command; click, which
    costs 25-30 ms of a diff of two large locks, is not imported on its path."""
    helped = envbuild("diff", "--help", cwd=pair[0].parent)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: envbuild diff [OPTIONS] [OLD] [NEW]")
    assert "Examples:" in helped.stdout and "--format FORMAT" in helped.stdout and "-l, --lock PATH" in helped.stdout
    from click.testing import CliRunner

    from envbuild.cli.app import cli

    via_click = CliRunner().invoke(cli, ["diff", "--help"])
    assert via_click.exit_code == 0 and via_click.output == helped.stdout
    assert "diff" in envbuild("--help", cwd=pair[0].parent).stdout
    expected = envbuild("diff", "old.lock", "new.lock", "--format", "markdown", cwd=pair[0].parent).stdout
    for form in (["--format=markdown", "old.lock", "new.lock"], ["old.lock", "--format", "markdown", "new.lock"],
                 ["--format", "markdown", "--", "old.lock", "new.lock"]):
        done = envbuild("diff", *form, cwd=pair[0].parent)
        assert done.returncode == 1 and done.stdout == expected, form
    via_click = CliRunner().invoke(cli, ["diff", str(pair[0]), str(pair[1]), "--format", "markdown"],
                                   standalone_mode=False)
    assert via_click.return_value == 1 and via_click.output == expected.replace("old.lock", str(pair[0])).replace(
        "new.lock", str(pair[1]))
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich', "
            "'tomlkit', 'requests')), file=sys.stderr))\n"
            "from envbuild.entry import main\n"
            "main(['diff', 'old.lock', 'new.lock', '--json'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=pair[0].parent,
                          check=False)
    assert done.returncode == 1 and done.stderr.strip() == "[]", done.stderr
    for args, message in ((["--bogus"], "no such option: --bogus"), (["--format", "html"], "--format takes human "
                                                                                            "or markdown, not 'html'"),
                          (["a", "b", "c"], "unexpected argument: 'c'"), (["-l"], "-l requires an argument (PATH)"),
                          (["--json=1"], "--json takes no value")):
        done = envbuild("diff", *args, cwd=pair[0].parent)
        assert done.returncode == 2 and done.stderr == f"envbuild diff: error: {message} (see envbuild diff " \
                                                       "--help)\n", (args, done.stderr)


def test_the_changes_are_what_happened(pair: tuple[Path, Path]) -> None:
    done = envbuild("diff", "old.lock", "new.lock", "--json", cwd=pair[0].parent)
    changes = {(c["part"], c["name"]): c for c in json.loads(done.stdout)["changes"]}
    assert changes["python", "numpy"]["change"] == "upgraded" and changes["python", "numpy"]["major"] is True
    assert changes["python", "nvidia-cuda-runtime-cu12"]["change"] == "rebuilt", "same version, other hashes"
    assert changes["python", "triton"] == {"part": "python", "name": "triton", "change": "added", "old": None,
                                           "new": "3.1.0", "via": ["numpy==2.0.0"]}
    assert changes["system", "git"]["change"] == "downgraded"
    assert {n for (part, n), c in changes.items() if part == "system" and c["change"] == "added"} == {"curl",
                                                                                                    "libcurl4"}
    assert changes["system", "libcurl4"]["via"] == ["curl"] and changes["system", "curl"]["via"] == []
    assert changes["cuda", "runtime"]["change"] == "upgraded"
    assert changes["image", "docker.io/library/debian:bookworm-slim"]["change"] == "changed"
    assert changes["env", "NCCL_DEBUG"]["change"] == "added"
    same = envbuild("diff", "old.lock", "old.lock", cwd=pair[0].parent)
    assert same.returncode == 0 and "are the same environment" in same.stdout


def test_with_no_argument_heads_lock_against_the_working_trees(pair: tuple[Path, Path], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    (repo / "envbuild.lock").write_bytes(pair[0].read_bytes())
    subprocess.run([*git, "-C", str(repo), "add", "envbuild.lock"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "lock"], check=True)
    assert envbuild("diff", cwd=repo).returncode == 0, "nothing changed yet"
    (repo / "envbuild.lock").write_bytes(pair[1].read_bytes())
    done = envbuild("diff", cwd=repo)
    assert done.returncode == 1 and done.stdout.startswith("HEAD:envbuild.lock -> envbuild.lock: 9 changes"), \
        done.stdout
    assert envbuild("diff", "HEAD", "envbuild.lock", cwd=repo).stdout == done.stdout
    image = "nor an image reference (REGISTRY/NAME:TAG or NAME@sha256:...)"
    bad = envbuild("diff", "no-such-rev", cwd=repo)
    assert bad.returncode == 2 and bad.stderr == (
        f"envbuild: error: no-such-rev: no such lock file, nor a commit of the git repository at {repo}, {image}\n")
    # CI's checkout: a shallow clone, without the branch a pull request is compared with; the error says what to do
    subprocess.run([*git, "-C", str(repo), "remote", "add", "origin", repo.as_uri()], check=True)
    unfetched = envbuild("diff", "--format", "markdown", "origin/main", cwd=repo)
    assert unfetched.returncode == 2 and unfetched.stderr.endswith(
        f"{image}; origin's branches are what was last fetched: git fetch origin main\n"), unfetched.stderr
    subprocess.run([*git, "clone", "-q", "--depth", "1", repo.as_uri(), str(tmp_path / "shallow")], check=True)
    shallow = envbuild("diff", "HEAD~1", cwd=tmp_path / "shallow")
    assert shallow.returncode == 2 and shallow.stderr.endswith(
        "; this clone is shallow (as CI's checkouts often are): git fetch --unshallow\n"), shallow.stderr
    plain = tmp_path / "plain"  # no git repository around it: no HEAD to default to
    plain.mkdir()
    (plain / "envbuild.lock").write_bytes(pair[1].read_bytes())
    outside = envbuild("diff", cwd=plain)
    assert outside.returncode == 2 and outside.stderr == (
        "envbuild: error: envbuild.lock: no commit holds it (not in a git repository, or no commit yet), so there is "
        "no HEAD to compare with; name both locks: envbuild diff OLD NEW\n"), outside.stderr
    elsewhere = envbuild("diff", "HEAD", "envbuild.lock", cwd=plain)
    assert elsewhere.returncode == 2 and elsewhere.stderr == (
        f"envbuild: error: HEAD: no such lock file, {image}; and {plain} is in no git repository to read a revision "
        "from\n"), elsewhere.stderr


def test_a_revision_names_a_lock_in_a_folder_even_one_the_working_tree_has_dropped(pair: tuple[Path, Path],
                                                                                    tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "gpu").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "gpu" / "envbuild.lock").write_bytes(pair[0].read_bytes())
    subprocess.run([*git, "add", "gpu/envbuild.lock"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lock"], check=True)
    (repo / "gpu" / "envbuild.lock").write_bytes(pair[1].read_bytes())
    inside = envbuild("diff", cwd=repo / "gpu")  # HEAD against the tree, from the lock's own folder
    assert inside.returncode == 1 and inside.stdout.startswith("HEAD:envbuild.lock -> envbuild.lock: 9 changes"), \
        inside.stdout + inside.stderr
    (repo / "envbuild.lock").write_bytes(pair[1].read_bytes())
    subprocess.run([*git, "rm", "-qrf", "gpu"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one lock now"], check=True)
    assert not (repo / "gpu").exists()
    done = envbuild("diff", "HEAD~1:gpu/envbuild.lock", "envbuild.lock", cwd=repo)
    assert done.returncode == 1 and done.stdout.startswith("HEAD~1:gpu/envbuild.lock -> envbuild.lock: 9 changes"), \
        done.stdout + done.stderr
    gone = envbuild("diff", "HEAD:gpu/envbuild.lock", "envbuild.lock", cwd=repo)
    assert gone.returncode == 2 and gone.stderr.strip() == (
        "envbuild: error: HEAD:gpu/envbuild.lock: not in the repository (path 'gpu/envbuild.lock' does not exist in "
        "'HEAD')"), gone.stderr
    (repo / "elsewhere.lock").symlink_to(pair[0])  # a link out of the repository: git holds no such file
    outside = envbuild("diff", "HEAD:elsewhere.lock", "envbuild.lock", cwd=repo)
    assert outside.returncode == 2 and outside.stderr.startswith("envbuild: error: elsewhere.lock: outside the git "
                                                                 "repository at "), outside.stderr


def test_an_image_built_by_envbuild_carries_its_lock(pair: tuple[Path, Path], registry: Registry) -> None:
    registry.image("envbuild/built", "v1", [layer({"etc/os-release": DEBIAN_12,
                                                   "opt/envbuild/envbuild.lock": pair[0].read_bytes()})])
    done = envbuild("diff", f"{registry.host}/envbuild/built:v1", "new.lock", cwd=pair[0].parent)
    assert done.returncode == 1 and "9 changes" in done.stdout.splitlines()[0], done.stdout + done.stderr
    registry.image("envbuild/plain", "v1", [layer({"etc/os-release": DEBIAN_12})])
    done = envbuild("diff", f"{registry.host}/envbuild/plain:v1", "new.lock", cwd=pair[0].parent)
    assert done.returncode == 2 and "carries no /opt/envbuild/envbuild.lock" in done.stderr


@pytest.mark.docker
def test_an_image_by_the_local_tag_build_printed(pair: tuple[Path, Path], docker_engine: Any,
                                                 registry: Registry) -> None:
    """trainer:3f2a9c1b4d5e, as envbuild build prints it: read from the local engine (no registry has it); a
    REV:PATH that looks like NAME:TAG is still read from git first."""
    import io
    import tarfile

    content = io.BytesIO()
    with tarfile.open(fileobj=content, mode="w") as tar:
        for name, data in (("etc/os-release", DEBIAN_12), ("opt/envbuild/envbuild.lock", pair[0].read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    docker_engine.api.import_image_from_data(content.getvalue(), repository="envbuild-test-trainer", tag="3f2a9c1b4d5e")
    try:
        done = envbuild("diff", "envbuild-test-trainer:3f2a9c1b4d5e", "new.lock", cwd=pair[0].parent)
        assert done.returncode == 1 and done.stdout.startswith(
            "envbuild-test-trainer:3f2a9c1b4d5e -> new.lock: 9 changes"), done.stdout + done.stderr
        same = envbuild("diff", "docker-daemon:envbuild-test-trainer:3f2a9c1b4d5e", str(pair[0]), cwd=pair[0].parent)
        assert same.returncode == 0, same.stdout + same.stderr
    finally:
        docker_engine.images.remove("envbuild-test-trainer:3f2a9c1b4d5e", force=True)
    assert envbuild("diff", "envbuild-test-trainer:3f2a9c1b4d5e", "new.lock", cwd=pair[0].parent).returncode == 2
    registry.image("envbuild/pushed", "v2", [layer({"etc/os-release": DEBIAN_12,
                                                   "opt/envbuild/envbuild.lock": pair[0].read_bytes()})])
    remote = envbuild("diff", f"{registry.host}/envbuild/pushed:v2", "new.lock", cwd=pair[0].parent)
    assert remote.returncode == 1, "not in the engine: from the registry"


def test_conda_changes_from_two_real_locks(tmp_path: Path, index: LocalIndex, conda_channel: Any) -> None:
    """The conda part: an upgrade, a new build of the same version (the __cuda build once the spec names a CUDA),
    a removal, an added package and the one its depends pulled in (with what brought it), and the [cuda] the
    conda records imply."""
    first = conda_lock(tmp_path, index, conda_channel, ["liba <1.1", "cudalib", "pure"])
    assert first.returncode == 0, first.stderr
    (tmp_path / "envbuild.lock").rename(tmp_path / "old.lock")
    second = conda_lock(tmp_path, index, conda_channel, ["libb", "cudalib", "cudnn"], cuda="12.4")
    assert second.returncode == 0, second.stderr
    done = envbuild("diff", "old.lock", "envbuild.lock", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    changes = {(c["part"], c["name"]): c for c in json.loads(done.stdout)["changes"]}
    conda = {name: (c["change"], c["old"], c["new"], c["via"]) for (part, name), c in changes.items()
             if part == "conda"}
    assert conda == {"liba": ("upgraded", "1.0", "1.1", []), "pure": ("removed", "3.0", None, []),
                     "cudalib": ("rebuilt", "1.0", "1.0", []), "libb": ("added", None, "2.0", []),
                     "cudnn": ("added", None, "9.1.0.70", []),
                     "cuda-cudart": ("added", None, "12.4.127", ["cudnn=9.1.0.70"])}, conda
    assert {name for (part, name) in changes if part == "cuda"} >= {"runtime", "cudnn"}
    markdown = envbuild("diff", "old.lock", "envbuild.lock", "--format", "markdown", cwd=tmp_path).stdout
    assert "Conda packages" in markdown and "cudalib" in markdown.split("Conda packages", 1)[1], markdown


def test_build_group_changes_are_their_own_part(tmp_path: Path, index: LocalIndex) -> None:
    """A reviewer sees what the kernels compile with change: the build group (lock version 6) apart from the
    runtime's packages."""
    from tests.conftest import write_spec
    from tests.support.pypi import make_sdist

    make_sdist(index.root, "needsix", "0.2", needs="beta", runtime=False)
    spec = write_spec(tmp_path, index.url, ["needsix", "gamma"])
    base = spec.read_text()
    spec.write_text(base + 'build-dependencies = {needsix = ["beta==1.0"]}\n')
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    (tmp_path / "envbuild.lock").rename(tmp_path / "old.lock")
    spec.write_text(base + 'build-dependencies = {needsix = ["beta==1.1", "alpha"]}\n')
    assert envbuild("lock", cwd=tmp_path).returncode == 0
    done = envbuild("diff", "old.lock", "envbuild.lock", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    changes = {(c["part"], c["name"]): (c["change"], c["old"], c["new"]) for c in json.loads(done.stdout)["changes"]}
    assert changes == {("build", "beta"): ("upgraded", "1.0", "1.1"), ("build", "alpha"): ("added", None, "1.1")}
    human = envbuild("diff", "old.lock", "envbuild.lock", cwd=tmp_path).stdout
    assert "build group and build image" in human, human
