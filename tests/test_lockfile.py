from __future__ import annotations

import dataclasses
import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envbuild import lockfile
from envbuild.errors import ConfigError, EnvbuildError, LockfileError, MissingLockfileVersion, UnknownLockfileVersion
from envbuild.lockfile import (
    AptRelease,
    BaseImage,
    CondaLock,
    CondaPackage,
    CudaLock,
    Lock,
    LockFile,
    PythonFile,
    PythonIndex,
    PythonLock,
    PythonPackage,
    SystemPackage,
    Target,
    TargetLock,
)
from tests.conftest import FIXTURES

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64
H3 = "sha256:" + "3" * 64

SAMPLE = Lock(
    spec_hash="sha256:" + "a" * 64,
    name="trainer",
    target=Target(platform="linux/amd64", distro="debian:12", python_platform="x86_64-manylinux_2_36"),
    python=PythonLock(
        requested="3.11",
        resolver="uv",
        index_url="https://${USER}:${TOKEN}@pypi.corp/simple",
        extra_index_urls=("https://pypi.org/simple",),
        packages=(
            PythonPackage("numpy", "1.26.4", (H2, H1), (
                PythonFile("numpy-1.26.4.tar.gz", "https://files.example/numpy-1.26.4.tar.gz", H2),
                PythonFile("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", "https://files.example/n.whl", H1),
            )),
            PythonPackage("beta", "1.0", (H3,)),
        ),
    ),
    env=(("PYTHONHASHSEED", "0"), ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")),
    ignore_extra=("wheel", "pip"),
    cuda=CudaLock(runtime="12.4.127", cudnn="9.1.0.70", nccl="2.21.5", min_driver="525.60.13",
                  toolkit_driver="550.54.15"),
    base_image=BaseImage("127.0.0.1:5000/debian:bookworm", "sha256:" + "b" * 64,
                         packages=(("base-files", "12.4+deb12u5"), ("bash", "5.2.15-2+b2"))),
)


AMD, ARM = "linux/amd64", "linux/arm64"
SAMPLE_MULTI = LockFile(
    spec_hash="sha256:" + "c" * 64,
    name="trainer",
    targets=(
        TargetLock(AMD, distro="debian:12", python_platform="x86_64-manylinux_2_36", python_version="3.11.2",
                   python_source="system", base_digest="sha256:" + "d" * 64,
                   base_packages=(("base-files", "12.4+deb12u5"),), apt_sources=("http://deb.debian.org/debian "
                                                                                   "bookworm main",),
                   cuda=CudaLock(runtime="12.4.127", cudnn="9.1.0.70", nccl="2.21.5", min_driver="525.60.13"),
                   apt_releases=(AptRelease("http://deb.debian.org/debian bookworm", "2025-11-01T10:00:00Z",
                                            "4d64fec119c2029067d6e791f8d2585b8783d481"),)),
        TargetLock(ARM, distro="debian:12", python_platform="aarch64-manylinux_2_36", python_version="3.11.2",
                   python_source="system", base_digest="sha256:" + "e" * 64, base_packages=(),
                   apt_sources=("http://deb.debian.org/debian bookworm main",)),
    ),
    python=PythonLock(requested="3.11", resolver="uv", index_url="https://pypi.org/simple", packages=(
        PythonPackage("numpy", "1.26.4", (H1, H2), (
            PythonFile("numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl", "https://f/a.whl", H2, (ARM,)),
            PythonFile("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", "https://f/x.whl", H1, (AMD,)))),
        PythonPackage("nvidia-cuda-runtime-cu12", "12.4.127", (H3,), (
            PythonFile("nvidia_cuda_runtime_cu12-12.4.127-py3-none-manylinux2014_x86_64.whl", "https://f/n.whl",
                       H3),), platforms=(AMD,)),
        PythonPackage("six", "1.16.0", (H3,), (PythonFile("six-1.16.0-py2.py3-none-any.whl", "https://f/s.whl", H3),)),
    )),
    system=(SystemPackage("libgomp1", "12.2.0-14", "amd64", "1" * 64, (AMD,)),
            SystemPackage("libgomp1", "12.2.0-14", "arm64", "2" * 64, (ARM,)),
            SystemPackage("tzdata", "2024a-0+deb12u1", "all", "3" * 64)),
    base_reference="127.0.0.1:5000/debian:bookworm",
    env=(("PYTHONHASHSEED", "0"),),
    ignore_extra=("pip",),
    apt_key="-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ0\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----",
    conda=CondaLock(channels=("conda-forge", "https://${CHAN_USER}@conda.corp/ml"), prefix="/opt/conda", cuda="12.4",
                    packages=(
        CondaPackage("libopenblas", "0.3.27", "pthreads_h413a1c8_0", 0, "linux-64",
                     "https://conda.anaconda.org/conda-forge/", "https://conda.anaconda.org/conda-forge/linux-64/"
                     "libopenblas-0.3.27-pthreads_h413a1c8_0.conda", "4" * 64, "5" * 32, 5598747,
                     ("libgcc-ng >=12", "libgfortran5 >=12.3.0"), ("openblas >=0.3.27,<0.3.28.0a0",),
                     license="BSD-3-Clause", platforms=(AMD,)),
        CondaPackage("libopenblas", "0.3.27", "pthreads_h076ed1e_0", 0, "linux-aarch64",
                     "https://conda.anaconda.org/conda-forge/", "https://conda.anaconda.org/conda-forge/"
                     "linux-aarch64/libopenblas-0.3.27-pthreads_h076ed1e_0.conda", "6" * 64, "7" * 32,
                     platforms=(ARM,)),
        CondaPackage("tzdata", "2024a", "h0c530f3_0", 0, "noarch", "https://conda.anaconda.org/conda-forge/",
                     "https://conda.anaconda.org/conda-forge/noarch/tzdata-2024a-h0c530f3_0.conda", "8" * 64,
                     "9" * 32, 119815, noarch="generic", license="LicenseRef-Public-Domain"))),
)


@pytest.mark.parametrize(("name", "lock"), [("lock-sample.toml", SAMPLE), ("lock-sample-multi.toml", SAMPLE_MULTI)])
def test_writer_matches_the_golden_file(name: str, lock: Lock | LockFile, update_goldens: bool) -> None:
    golden = FIXTURES / "golden" / name
    text = lockfile.dumps(lock, regenerate="envbuild lock -s envbuild.toml")
    if update_goldens:
        golden.write_text(text)
    assert text == golden.read_text(), "the lock writer's output changed; rerun with --update-goldens if intended"
    assert lockfile.dumps(lockfile.loads_file(text), regenerate="envbuild lock -s envbuild.toml") == text


def test_one_platform_s_view_holds_its_records_only() -> None:
    whole = lockfile.loads_file(lockfile.dumps(SAMPLE_MULTI))
    assert whole == SAMPLE_MULTI and whole.platforms == (AMD, ARM)
    arm = whole.view(ARM)
    assert arm.target.python_platform == "aarch64-manylinux_2_36" and arm.cuda is None
    assert [(p.name, [f.name for f in p.files], p.hashes) for p in arm.python.packages] == [
        ("numpy", ["numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl"], (H2,)),
        ("six", ["six-1.16.0-py2.py3-none-any.whl"], (H3,))]
    assert arm.system is not None and [(p.name, p.architecture) for p in arm.system.packages] == [
        ("libgomp1", "arm64"), ("tzdata", "all")]
    assert arm.base_image == BaseImage("127.0.0.1:5000/debian:bookworm", "sha256:" + "e" * 64, ())
    amd = whole.view(AMD)
    assert amd.cuda is not None and "nvidia-cuda-runtime-cu12" in amd.python.by_name()
    assert arm.python.version == amd.python.version == "3.11.2" and amd.platforms == (AMD, ARM)
    with pytest.raises(LockfileError, match=r"has no platform 'macos/arm64' \(it holds linux/amd64, linux/arm64\)"):
        lockfile.loads(lockfile.dumps(SAMPLE_MULTI), platform="macos/arm64")


def test_the_build_group_and_the_build_image_round_trip_and_each_platform_sees_its_own() -> None:
    """Lock version 6: [[python.build-packages]] (records like [[python.packages]], with platforms), [python]
    build-image once, and each target's digest, interpreter command and CUDA of it."""
    from envbuild.lockfile import BuildImage

    group = (PythonPackage("ninja", "1.11.1", (H2, H3), (
                 PythonFile("ninja-1.11.1-py3-none-manylinux_2_17_aarch64.whl", "https://f/na.whl", H2, (ARM,)),
                 PythonFile("ninja-1.11.1-py3-none-manylinux_2_17_x86_64.whl", "https://f/nx.whl", H3, (AMD,)))),
             PythonPackage("setuptools", "75.1.0", (H1,), (PythonFile("setuptools-75.1.0-py3-none-any.whl",
                                                                      "https://f/st.whl", H1),), requested=True),
             PythonPackage("triton", "3.1.0", (H3,), platforms=(AMD,)))
    amd_image = BuildImage("sha256:" + "a" * 64, "python3.11", "12.4.1")
    whole = dataclasses.replace(
        SAMPLE_MULTI, python=dataclasses.replace(SAMPLE_MULTI.python, build_packages=group,
                                                 build_image="nvcr.io/nvidia/cuda:12.4.1-devel-ubuntu22.04",
                                                 build_dependencies=(("flash-attn", ("ninja", "setuptools")),)),
        targets=(dataclasses.replace(SAMPLE_MULTI.targets[0], build_image=amd_image),
                 dataclasses.replace(SAMPLE_MULTI.targets[1], build_image=BuildImage("sha256:" + "b" * 64,
                                                                                     "python3.11"))))
    text = lockfile.dumps(whole)
    assert "\n[[python.build-packages]]\n" in text and text.count("[[python.build-packages]]") == 3
    assert 'build-image = {digest = "sha256:' + "a" * 64 + '", python = "python3.11", cuda = "12.4.1"}' in text
    again = lockfile.loads_file(text)
    assert again == whole and lockfile.dumps(again) == text
    amd, arm = again.view(AMD), again.view(ARM)
    assert [p.name for p in amd.python.build_packages] == ["ninja", "setuptools", "triton"]
    assert [(p.name, p.hashes) for p in arm.python.build_packages] == [("ninja", (H2,)), ("setuptools", (H1,))]
    assert amd.build_image == dataclasses.replace(amd_image, reference="nvcr.io/nvidia/cuda:12.4.1-devel-ubuntu22.04")
    assert arm.build_image is not None and arm.build_image.cuda is None
    assert amd.python.built_with_group == {"flash-attn"}
    bad = text.replace('python = "python3.11", cuda', 'python = "/bin/sh", cuda')
    from envbuild.errors import ConfigError

    with pytest.raises(ConfigError, match=r"targets\[0\] -> build-image -> python: .* not an interpreter's command"):
        lockfile.loads_file(bad)


def test_records_name_only_the_lock_s_platforms() -> None:
    text = lockfile.dumps(SAMPLE_MULTI)
    with pytest.raises(ConfigError, match=r"\[python\] -> packages\[1\] -> platforms\[0\]: 'linux/s390x' is not one"):
        lockfile.loads_file(text.replace('platforms = ["linux/amd64"]\nhashes', 'platforms = ["linux/s390x"]\nhashes'))
    twice = text.replace('platform = "linux/arm64"', 'platform = "linux/amd64"')
    with pytest.raises(ConfigError, match=r"targets: names a platform twice"):
        lockfile.loads_file(twice)
    unknown = text.replace('platform = "linux/arm64"', 'platform = "linux/s390x"')
    with pytest.raises(ConfigError, match=r"targets\[1\] -> platform: 'linux/s390x' is not a platform envbuild"):
        lockfile.loads_file(unknown)
    v1 = lockfile.dumps(dataclasses.replace(SAMPLE, version=1)).replace('platform = "linux/amd64"',
                                                                        'platform = "linux/amd64; rm -rf ~"')
    with pytest.raises(ConfigError, match=r"\[target\] -> platform: 'linux/amd64; rm -rf ~' is not a platform"):
        lockfile.loads_file(v1)  # a version 1 lock's one platform too (render took it as a key: a KeyError)
    broken = text.replace('"base-files=12.4+deb12u5"', '"base-files"')
    with pytest.raises(ConfigError, match=r"targets\[0\] -> base-image-packages\[0\]: 'base-files' is not NAME"):
        lockfile.loads_file(broken)


def test_version_1_locks_stay_readable() -> None:
    """A lock written before version 2 ([target], one platform) reads, and writes back unchanged."""
    text = (FIXTURES / "golden" / "lock-sample-v1.toml").read_text()
    old = lockfile.loads(text)
    assert old.version == 1 and old.base_image is None and old.platforms == ("linux/amd64",)
    assert old.python.version is None and old.cuda == SAMPLE.cuda and old.target == SAMPLE.target
    assert {p.name: p.version for p in old.python.packages} == {"beta": "1.0", "numpy": "1.26.4"}
    assert lockfile.dumps(old, regenerate="envbuild lock -s envbuild.toml") == text
    v1_with_image = lockfile.dumps(dataclasses.replace(SAMPLE, version=1))
    assert lockfile.loads(v1_with_image).base_image == dataclasses.replace(SAMPLE.base_image, packages=None)
    assert "[[targets]]" not in v1_with_image and "[target]" in v1_with_image


def test_writer_sorts_packages_hashes_env_and_starts_with_the_header() -> None:
    text = lockfile.dumps(SAMPLE)
    assert text.startswith("# This file is generated by envbuild. Do not edit it by hand.\n"
                           "# Regenerate it with: envbuild lock\n")
    assert text.index('name = "beta"') < text.index('name = "numpy"')
    assert text.index(H1) < text.index(H2)
    assert text.index("CUBLAS_WORKSPACE_CONFIG") < text.index("PYTHONHASHSEED")
    parsed = lockfile.loads(text)
    assert [p.name for p in parsed.python.packages] == ["beta", "numpy"]
    assert parsed.python.by_name()["numpy"].hashes == (H1, H2)


LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
# The strings of a regex, drawn from its parts: st.from_regex costs several times more to draw from, which made the
# property tests below the slowest of the fast suite.
names = st.tuples(st.sampled_from(LOWER), st.text(LOWER + DIGITS + "-", max_size=12),  # [a-z][a-z0-9-]{0,12}[a-z0-9]
                  st.sampled_from(LOWER + DIGITS)).map("".join)
# [0-9]{1,3}(\.[0-9]{1,3}){0,3}
versions = st.lists(st.text(DIGITS, min_size=1, max_size=3), min_size=1, max_size=4).map(".".join)
env_names = st.tuples(st.sampled_from(UPPER + "_"), st.text(UPPER + DIGITS + "_", max_size=10)).map("".join)
hex_digests = st.binary(min_size=32, max_size=32).map(bytes.hex)  # [0-9a-f]{64}
hashes = hex_digests.map("sha256:".__add__)
# a lock's strings print as themselves on one line (validate.unprintable): any such text round-trips
text_values = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Cn", "Co", "Zl", "Zp", "Zs"),
                                    whitelist_characters=" "), min_size=1, max_size=30).filter(lambda s: s.strip() == s)
word_values = text_values.map(lambda s: s.replace(" ", "_"))  # what lands as one word of a line: a URL, a name
files = st.builds(PythonFile, name=names.map(lambda n: n + ".whl"), url=names.map(lambda n: f"https://x/{n}.whl"),
                  hash=hashes)


@st.composite
def packages(draw: st.DrawFn, platforms: list[str] | None = None) -> PythonPackage:
    """A package whose hashes are its files' (the model's invariant), on some of PLATFORMS."""
    where = st.lists(st.sampled_from(platforms), unique=True).map(lambda p: tuple(sorted(p))) if platforms else \
        st.just(())
    chosen = draw(st.lists(files, max_size=3, unique_by=lambda f: f.name))
    chosen = [dataclasses.replace(f, platforms=draw(where)) for f in chosen]
    hashes = tuple(sorted({f.hash for f in chosen})) or tuple(draw(st.lists(hashes_, min_size=1, max_size=3,
                                                                            unique=True)))
    origin = draw(st.sampled_from(["index", "named", "url", "path", "vcs"]))  # where it is installed from
    return PythonPackage(draw(names), draw(versions), hashes, tuple(sorted(chosen, key=lambda f: f.name)),
                         platforms=draw(where), index=draw(names) if origin == "named" else None,
                         direct_url=draw(names).join(("https://x/", ".whl")) if origin == "url" else None,
                         path=draw(names).join(("wheels/", ".whl")) if origin == "path" else None,
                         vcs=draw(names).join(("git+https://g/", f"@{'a' * 40}")) if origin == "vcs" else None,
                         requested=draw(st.booleans()),
                         via=tuple(sorted(draw(st.lists(names, max_size=3, unique=True)))))


hashes_ = hashes
locks = st.builds(
    Lock,
    spec_hash=hashes,
    name=names,
    target=st.builds(Target, platform=st.sampled_from(["linux/amd64", "linux/arm64"]),
                     distro=st.none() | st.just("debian:12"), python_platform=st.none() | names),
    python=st.builds(PythonLock, requested=st.just("3.11"), resolver=st.sampled_from(["uv", "pip-tools"]),
                     index_url=word_values, extra_index_urls=st.lists(word_values, max_size=2).map(tuple),
                     packages=st.lists(packages(), max_size=5, unique_by=lambda p: p.name).map(tuple),
                     version=st.none() | versions, source=st.none() | st.sampled_from(["system", "image"])),
    env=st.dictionaries(env_names, text_values, max_size=4).map(
        lambda d: tuple(d.items())),
    ignore_extra=st.lists(names, max_size=3, unique=True).map(tuple),
    cuda=st.none() | st.builds(CudaLock, runtime=versions, min_driver=versions, cudnn=st.none() | versions,
                               nccl=st.none() | versions, toolkit_driver=st.none() | versions),
)


@settings(max_examples=150, deadline=None)
@given(locks)
def test_write_read_write_is_the_identity(lock: Lock) -> None:
    text = lockfile.dumps(lock)
    again = lockfile.loads(text)
    assert lockfile.dumps(again) == text
    assert {p.name: p.version for p in again.python.packages} == {p.name: p.version for p in lock.python.packages}
    assert dict(again.env) == dict(lock.env)
    assert again.cuda == lock.cuda


@st.composite
def lockfiles(draw: st.DrawFn) -> LockFile:
    platforms = draw(st.lists(st.sampled_from([AMD, ARM, "macos/arm64"]), min_size=1, unique=True))
    targets = tuple(TargetLock(p, python_version=draw(st.none() | versions),
                               apt_sources=draw(st.none() | st.just(("http://m bookworm main",))),
                               apt_releases=tuple(draw(st.lists(st.builds(
                                   AptRelease, names, st.just("2025-11-01T10:00:00Z"), names | st.just("unsigned")),
                                   max_size=2))),
                               base_digest=draw(st.none() | hashes), cuda=draw(st.none() | st.builds(
                                   CudaLock, runtime=versions, min_driver=versions))) for p in sorted(platforms))
    python = PythonLock(requested="3.11", resolver="uv", index_url="https://i/simple", packages=tuple(
        draw(st.lists(packages(platforms), max_size=5, unique_by=lambda p: p.name))),  # two of one name: refused
        indexes=tuple(draw(st.lists(st.builds(PythonIndex, names, names.map(lambda n: f"https://{n}/simple"),
                                              st.booleans()), max_size=2, unique_by=lambda i: i.name))),
        build_dependencies=tuple(sorted(draw(st.dictionaries(names, st.lists(names, min_size=1, max_size=2).map(
            lambda r: tuple(sorted(r))), max_size=2)).items())),
        no_build_isolation=tuple(sorted(draw(st.lists(names, max_size=2, unique=True)))),
        build_env=tuple(sorted(draw(st.dictionaries(env_names,
                                                    text_values, max_size=2)).items())))
    return LockFile(spec_hash=draw(hashes), name=draw(names), targets=targets, python=python,
                    base_reference=draw(st.none() | st.just("debian:bookworm")))


@settings(max_examples=150, deadline=None)
@given(lockfiles())
def test_several_platforms_write_read_write_is_the_identity(whole: LockFile) -> None:
    text = lockfile.dumps(whole)
    again = lockfile.loads_file(text)
    assert lockfile.dumps(again) == text
    assert dataclasses.replace(again.python, packages=()) == dataclasses.replace(whole.python, packages=())
    def ordered(found: tuple[PythonPackage, ...]) -> list[PythonPackage]:
        return sorted(found, key=lambda p: (p.name, p.version))

    for before, after in zip(ordered(whole.python.packages), ordered(again.python.packages), strict=True):
        assert (after.index, after.direct_url, after.path, after.vcs, after.requested, after.via) == (
            before.index, before.direct_url, before.path, before.vcs, before.requested, before.via)
    for platform in whole.platforms:
        view = again.view(platform)
        wanted = {(p.name, p.version) for p in whole.python.packages if not p.platforms or platform in p.platforms}
        assert {(p.name, p.version) for p in view.python.packages} == wanted
        for package in view.python.packages:
            source = next(p for p in whole.python.packages if (p.name, p.version) == (package.name, package.version))
            assert {f.name for f in package.files} == {f.name for f in source.files
                                                       if not f.platforms or platform in f.platforms}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_conda_records_strings_are_toml_strings(value: str) -> None:
    import tomllib

    from envbuild.lockfile.write import toml_string

    assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value


# what a channel may put in a record's strings (the strings themselves are the test above's)
words = st.text(LOWER + UPPER + DIGITS + "_.:/ >=<,*|~!\"\\'$\u00e9-", min_size=1).filter(lambda s: s == s.strip())
one_word = words.map(lambda s: s.replace(" ", "_"))  # a URL, a build string, a channel: no space (the reader's rule)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.builds(CondaPackage, name=names, version=versions, build=one_word, build_number=
                          st.integers(0, 10**6), subdir=st.sampled_from(["linux-64", "linux-aarch64", "noarch"]),
                          channel=one_word, url=one_word,
                          sha256=hex_digests,
                          md5=st.binary(min_size=16, max_size=16).map(bytes.hex),
                          size=st.none() | st.integers(0, 10**12), depends=st.lists(words).map(tuple),
                          constrains=st.lists(words).map(tuple), noarch=st.none() | st.sampled_from(["generic",
                                                                                                     "python"]),
                          license=st.none() | words, platforms=st.sampled_from([(), (AMD,), (ARM,)])),
                max_size=6, unique_by=lambda p: (p.name, p.subdir)))
def test_conda_records_write_read_write_is_the_identity(records: list[CondaPackage]) -> None:
    whole = dataclasses.replace(SAMPLE_MULTI, conda=CondaLock(channels=("c",), prefix="/opt/conda",
                                                              packages=tuple(records)))
    text = lockfile.dumps(whole)
    again = lockfile.loads_file(text)
    assert lockfile.dumps(again) == text
    assert again.conda is not None
    assert sorted(again.conda.packages, key=lambda p: (p.name, p.subdir)) == sorted(
        records, key=lambda p: (p.name, p.subdir))


def test_missing_and_unknown_versions_are_refused() -> None:
    with pytest.raises(MissingLockfileVersion, match="no 'version' key"):
        lockfile.loads('name = "x"\n')
    with pytest.raises(UnknownLockfileVersion, match="lock version 7 is not one this envbuild reads"):
        lockfile.loads("version = 7\n")


def test_malformed_locks_name_the_key(tmp_path: Path) -> None:
    text = lockfile.dumps(SAMPLE).replace('version = "1.26.4"', "version = 3")
    with pytest.raises(ConfigError, match=r"\[python\] -> packages\[1\] -> version: must be a non-empty string"):
        lockfile.loads(text, shown="envbuild.lock")
    with pytest.raises(LockfileError, match="not valid TOML"):
        lockfile.loads("version = 1\n[[python.packages]\n")
    with pytest.raises(LockfileError, match="no such lock"):
        lockfile.read_lock(tmp_path / "absent.lock")


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "envbuild.lock"
    path.write_text("old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(EnvbuildError, match=r"envbuild.lock: cannot write: disk full"):
        lockfile.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["envbuild.lock"], "the temporary file was left behind"


def test_atomic_write_keeps_mode_and_skips_identical_content(tmp_path: Path) -> None:
    path = tmp_path / "envbuild.lock"
    path.write_text("same\n")
    path.chmod(0o600)
    assert lockfile.write_atomic(path, "same\n") is False
    assert lockfile.write_atomic(path, "other\n") is True
    assert path.read_text() == "other\n" and (path.stat().st_mode & 0o777) == 0o600


def test_stale_temporaries_of_a_killed_run_are_removed_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "envbuild.lock"
    (tmp_path / ".envbuild.lock.abc123.tmp").write_text("half")
    with lockfile.exclusive(path):
        pass
    assert not (tmp_path / ".envbuild.lock.abc123.tmp").exists()


def test_credentials_are_stripped_from_urls() -> None:
    assert lockfile.strip_credentials("https://u:p@host/x.whl") == "https://host/x.whl"
    assert lockfile.strip_credentials("https://host/x.whl") == "https://host/x.whl"


def test_a_conda_prefix_that_is_not_a_clean_absolute_path_is_refused_with_its_key_path() -> None:
    import pytest

    from envbuild.errors import ConfigError, LockfileError

    text = lockfile.dumps(lockfile.LockFile.of(SAMPLE))
    for prefix, says in (("/opt/conda\\u0000", "holds a control character \\(U\\+0000\\) at 10"),
                         ("opt/conda", "'opt/conda' is not an absolute path"),
                         ("/opt/con\\nda", "holds a control character \\(U\\+000A\\) at 8")):
        bad = text + f'\n[conda]\nchannels = ["conda-forge"]\nprefix = "{prefix}"\n'
        with pytest.raises((ConfigError, LockfileError), match=rf"\[conda\] -> prefix: {says}"):
            lockfile.loads(bad)


def test_a_conda_records_sha256_and_md5_must_be_lowercase_hex_of_their_length() -> None:
    text = lockfile.dumps(SAMPLE_MULTI)
    assert lockfile.loads_file(text).conda is not None
    for bad, key in (("4" * 63 + "A", "sha256"), ("4" * 63 + "g", "sha256"), ("4" * 63, "sha256"),
                     ("5" * 31 + "F", "md5")):
        good = "4" * 64 if key == "sha256" else "5" * 32
        with pytest.raises(ConfigError, match=rf"\[conda\] -> packages\[\d\] -> {key}: must be "
                                              rf"{len(good)} lowercase hex digits"):
            lockfile.loads_file(text.replace(f'{key} = "{good}"', f'{key} = "{bad}"', 1))


def test_with_build_image_auto_each_target_keeps_the_image_it_picked() -> None:
    from envbuild.lockfile import BuildImage

    picked = "docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel"
    whole = dataclasses.replace(
        SAMPLE_MULTI, python=dataclasses.replace(SAMPLE_MULTI.python, build_image="auto",
                                                 build_dependencies=(("flash-attn", ("torch",)),)),
        targets=(dataclasses.replace(SAMPLE_MULTI.targets[0], build_image=BuildImage(
            "sha256:" + "a" * 64, "python3.11", "12.4.1", picked)), SAMPLE_MULTI.targets[1]))
    text = lockfile.dumps(whole)
    assert 'build-image = "auto"' in text and f'build-image = {{reference = "{picked}", digest' in text
    again = lockfile.loads_file(text)
    assert again == whole
    view = again.view(AMD)
    assert view.build_image is not None and view.build_image.reference == picked
    single = lockfile.loads_file(lockfile.dumps(view)).view(AMD).build_image  # a lock of that platform alone
    assert single is not None and single.reference == picked
