from __future__ import annotations

from pathlib import Path

import pytest

from envbuild.errors import ConfigError, EnvbuildError, SpecNotFound
from envbuild.spec import expand_url, find_spec, load_spec, spec_hash

GOOD = """
[environment]
name = "trainer"
platform = "linux/amd64"
distro = "debian:bookworm"
python = "3.11"

[python]
requirements = ["torch==2.5.1", "NumPy<2"]

[system]
packages = ["git", "libgomp1"]

[env]
PYTHONHASHSEED = "0"
"""


def spec_at(tmp_path: Path, text: str, name: str = "envbuild.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_spec_parses_into_normalised_fields(tmp_path: Path) -> None:
    spec = load_spec(spec_at(tmp_path, GOOD))
    assert spec.environment.name == "trainer"
    assert spec.environment.distro is not None and spec.environment.distro.name == "debian:12"
    assert spec.environment.distro.glibc == "2.36"
    assert spec.python.requirements == ("numpy<2", "torch==2.5.1")  # canonical names, sorted
    assert spec.python.resolver == "uv"
    assert spec.python.index_url == "https://pypi.org/simple"
    assert spec.system.packages == ("git", "libgomp1")
    assert spec.env == (("PYTHONHASHSEED", "0"),)
    assert spec.check.ignore_extra == ("pip", "setuptools", "wheel")


def test_pyproject_tool_table_is_found_when_there_is_no_envbuild_toml(tmp_path: Path) -> None:
    body = GOOD.replace("[environment]", "[tool.envbuild.environment]").replace("[python]", "[tool.envbuild.python]")
    body = body.replace("[system]", "[tool.envbuild.system]").replace("[env]", "[tool.envbuild.env]")
    spec_at(tmp_path, '[project]\nname = "x"\n' + body, "pyproject.toml")
    assert find_spec(cwd=tmp_path) == tmp_path / "pyproject.toml"
    spec = load_spec(tmp_path)
    assert spec.python.requirements == ("numpy<2", "torch==2.5.1")
    # the same facts give the same hash, whichever file holds them
    (tmp_path / "other").mkdir()
    assert spec_hash(spec) == spec_hash(load_spec(spec_at(tmp_path / "other", GOOD)))


def test_no_spec_anywhere_says_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(SpecNotFound, match=r"envbuild.toml and \[tool.envbuild\] in pyproject.toml"):
        find_spec(cwd=tmp_path)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("requirements =", "requirments ="),
         r"envbuild.toml: \[python\] -> requirments: unknown key \(known: requirements, requirements-files"),
        (('"NumPy<2"', '"numpy<<2"'), r"\[python\] -> requirements\[1\]: invalid requirement 'numpy<<2'"),
        # packaging reads a name that ends in "_"; its normal form, "numpy-", is no name (found by make fuzz)
        (('"NumPy<2"', '"NumPy_<2"'), r"\[python\] -> requirements\[1\]: invalid requirement 'NumPy_<2': 'NumPy_' is "
                                     r"no project name \(letters and digits, with \. _ - only between them\)$"),
        (("[system]", '[python.build-dependencies]\nflash-attn = ["torch_"]\n\n[system]'),
         r"\[python\] -> build-dependencies -> flash-attn\[0\]: invalid requirement 'torch_': 'torch_' is no project"),
        (('python = "3.11"', 'python = "eleven"'), r"\[environment\] -> python: 'eleven' is not a CPython"),
        (('platform = "linux/amd64"', 'platform = "windows/amd64"'), r"\[environment\] -> platform: 'windows/amd64'"),
        (('distro = "debian:bookworm"', 'distro = "debian:potato"'), r"\[environment\] -> distro: 'debian:potato'"),
        (('distro = "debian:bookworm"\n', ""), r"\[environment\] -> distro: is required when there is no base-image"),
        (('"git"', '"Git Tools"'), r"\[system\] -> packages\[0\]: 'Git Tools' is not a Debian package name"),
        (('PYTHONHASHSEED = "0"', "PYTHONHASHSEED = 0"), r"\[env\] -> PYTHONHASHSEED: must be a string"),
        (("[system]", "[sytsem]"), r"envbuild.toml: sytsem: unknown key"),
        (('requirements = ["torch==2.5.1", "NumPy<2"]', "requirements = []"),
         r"\[python\] -> requirements: lists no Python requirement"),
    ],
)
def test_bad_spec_names_file_and_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    assert edit[0] in GOOD
    with pytest.raises(ConfigError, match=expected) as info:
        load_spec(spec_at(tmp_path, GOOD.replace(*edit)))
    assert "\n" not in str(info.value)


def test_invalid_toml_is_a_config_error_with_the_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"envbuild.toml: invalid TOML: .*line 3"):
        load_spec(spec_at(tmp_path, "[environment]\nname = 'x'\npython = \n"))


def test_requirements_files_are_read_relative_to_the_spec_and_hashed_by_content(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("# base\nbeta>=1  # comment\n-r extra.txt\n")
    (tmp_path / "reqs" / "extra.txt").write_text("gamma \\\n  ==1.0\n")
    path = spec_at(tmp_path, GOOD.replace("[system]", 'requirements-files = ["reqs/base.txt"]\n\n[system]'))
    spec = load_spec(path)
    assert spec.python.requirements == ("beta>=1", "gamma==1.0", "numpy<2", "torch==2.5.1")
    before = spec_hash(spec)
    (tmp_path / "reqs" / "extra.txt").write_text("gamma==2.0\n")
    assert spec_hash(load_spec(path)) != before


def test_missing_requirements_file_is_named(tmp_path: Path) -> None:
    path = spec_at(tmp_path, GOOD.replace("[system]", 'requirements-files = ["nope.txt"]\n\n[system]'))
    with pytest.raises(ConfigError, match=r"\[python\] -> requirements-files\[0\]: nope.txt: no such file"):
        load_spec(path)


def test_pip_options_in_requirements_files_are_refused_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("beta\n--index-url http://elsewhere/simple\n")
    path = spec_at(tmp_path, GOOD.replace("[system]", 'requirements-files = ["r.txt"]\n\n[system]'))
    with pytest.raises(ConfigError, match=r"r.txt: line 2: --index-url: pip options are not read here"):
        load_spec(path)
    (tmp_path / "r.txt").write_text("beta\n\ngamma_ >=1\n")
    with pytest.raises(ConfigError, match=r"r.txt: line 3: invalid requirement 'gamma_ >=1': 'gamma_' is no project"):
        load_spec(path)


def test_spec_hash_ignores_formatting_and_order_but_not_facts(tmp_path: Path) -> None:
    base = spec_hash(load_spec(spec_at(tmp_path, GOOD)))
    reordered = GOOD.replace('["torch==2.5.1", "NumPy<2"]', '[ "numpy < 2" ,\n "torch==2.5.1" ]')
    assert spec_hash(load_spec(spec_at(tmp_path, "# a comment\n" + reordered))) == base
    assert spec_hash(load_spec(spec_at(tmp_path, GOOD.replace("NumPy<2", "NumPy<3")))) != base
    assert spec_hash(load_spec(spec_at(tmp_path, GOOD.replace('"0"', '"1"')))) != base
    # the same spec in another directory (another host, another checkout) hashes the same
    (tmp_path / "elsewhere").mkdir()
    assert spec_hash(load_spec(spec_at(tmp_path / "elsewhere", GOOD))) == base


def test_index_credentials_must_be_placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    literal = GOOD.replace("[system]", 'index-url = "https://bob:s3cret@pypi.corp/simple"\n\n[system]')
    with pytest.raises(ConfigError, match=r"\[python\] -> index-url: holds credentials"):
        load_spec(spec_at(tmp_path, literal))
    placeholder = GOOD.replace("[system]", 'index-url = "https://${PYPI_USER}:${PYPI_TOKEN}@pypi.corp/simple"\n\n[system]')
    spec = load_spec(spec_at(tmp_path, placeholder))
    monkeypatch.setenv("PYPI_USER", "bob")
    monkeypatch.delenv("PYPI_TOKEN", raising=False)
    with pytest.raises(EnvbuildError, match=r"\$\{PYPI_TOKEN\} is not set"):
        expand_url(spec.python.index_url, "[python] -> index-url")
    monkeypatch.setenv("PYPI_TOKEN", "t0k")
    assert expand_url(spec.python.index_url, "x") == "https://bob:t0k@pypi.corp/simple"
