"""The layer plan: each locked Python package in one group, the groups stacked from the most stable and heaviest to
the rest; the same lock gives the same plan; render writes it (.envbuild/layers.json, one requirements file per
layer) and --json prints it; the Dockerfile installs each group in a RUN of its own, in the plan's order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from envbuild import lockfile
from envbuild.lockfile import Lock, PythonPackage
from envbuild.render import layers
from tests.conftest import FIXTURES, envbuild

LOCK = FIXTURES / "render" / "envbuild.lock"
BASE = lockfile.read_lock(LOCK)


def _with(names: list[str]) -> Lock:
    template = BASE.python.packages[0]
    packages = tuple(sorted((dataclasses.replace(template, name=n, version="1.0") for n in names),
                            key=lambda p: p.name))
    return dataclasses.replace(BASE, python=dataclasses.replace(BASE.python, packages=packages))


def test_each_package_goes_into_the_first_group_that_names_it() -> None:
    lock = _with(["nvidia-cublas-cu12", "cuda-bindings", "torch", "triton", "numpy", "pandas", "tqdm", "requests",
                  "jaxlib"])
    plan = {g.name: g.packages for g in layers.plan(lock)}
    assert plan == {"cuda": ("cuda-bindings", "nvidia-cublas-cu12"), "frameworks": ("jaxlib", "torch", "triton"),
                    "scientific": ("numpy", "pandas"), "packages": ("requests", "tqdm")}
    assert [g.name for g in layers.plan(lock)] == ["cuda", "frameworks", "scientific", "packages"]  # stacking order


def test_empty_groups_are_left_out_and_the_plan_is_the_same_for_the_same_lock() -> None:
    lock = _with(["tqdm", "rich"])
    assert [g.name for g in layers.plan(lock)] == ["packages"]
    assert layers.plan_json(lock) == layers.plan_json(_with(["rich", "tqdm"]))


def test_packages_built_in_the_image_are_not_in_a_group() -> None:
    sdist = PythonPackage(name="needsix", version="1.0", hashes=("sha256:" + "1" * 64,),
                          files=(lockfile.PythonFile("needsix-1.0.tar.gz", "https://x/needsix-1.0.tar.gz",
                                                     "sha256:" + "1" * 64),))
    lock = _with(["tqdm"])
    lock = dataclasses.replace(lock, python=dataclasses.replace(
        lock.python, packages=(sdist, *lock.python.packages), build_dependencies=(("needsix", ("tqdm",)),)))
    document = json.loads(layers.plan_json(lock))
    assert document["built"] == ["needsix"] and document["python"][0]["packages"] == ["tqdm"]
    assert document["layers"] == ["base", "system", "venv", "python:packages", "python:built", "envbuild"]


def test_render_writes_one_requirements_file_per_layer_and_json_prints_the_plan(tmp_path: Path) -> None:
    done = envbuild("render", "-l", str(LOCK), "-o", str(tmp_path / "ctx"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan == json.loads((tmp_path / "ctx" / ".envbuild" / "layers.json").read_text())
    assert [g["name"] for g in plan["python"]] == ["cuda", "scientific"]
    for group in plan["python"]:
        text = (tmp_path / "ctx" / ".envbuild" / "layers" / f"{group['name']}.txt").read_text()
        pinned = [line.split("==")[0] for line in text.splitlines() if "==" in line]
        assert pinned == group["packages"] and "--hash=sha256:" in text
    dockerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    order = [dockerfile.index(f".envbuild/layers/{g['name']}.txt,") for g in plan["python"]]
    assert order == sorted(order)  # installed in the plan's order, one RUN each
    assert dockerfile.count("/run/envbuild-uv pip install") == len(plan["python"])
    for group in plan["python"]:  # each RUN names its file's sha256: buildah's cache does not look into mounts
        data = (tmp_path / "ctx" / ".envbuild" / "layers" / f"{group['name']}.txt").read_bytes()
        assert f": python:{group['name']} sha256:{hashlib.sha256(data).hexdigest()} uv " in dockerfile
    assert (tmp_path / "ctx" / ".envbuild" / "uv").stat().st_mode & 0o111  # the pinned uv, mounted by each step


def test_the_image_s_uv_is_the_pinned_executable_from_the_running_uv() -> None:
    from envbuild.render.installer import UV_WHEELS, uv_binary

    data = uv_binary("linux/amd64")  # this venv's uv is the pinned release: no download
    assert hashlib.sha256(data).hexdigest() == UV_WHEELS["linux/amd64"][2]


def test_an_unfetchable_or_altered_uv_is_one_line_naming_where_to_put_it(monkeypatch: object, tmp_path: Path) -> None:
    import pytest

    from envbuild.adapters import http
    from envbuild.errors import RenderError
    from envbuild.render import installer

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    mp.setattr(installer, "_running_uv", lambda: None)
    name = installer.UV_WHEELS["linux/arm64"][0]
    (http.cache_dir("uv") / name).write_bytes(b"not the wheel")  # a cached file with another sha256 is not used

    class Offline:
        def get(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("Connection refused")

    mp.setattr(http, "session", Offline)
    with pytest.raises(RenderError) as caught:
        installer.uv_binary("linux/arm64")
    assert str(caught.value) == (f"the image's installer, uv {installer.UV_VERSION}, could not be fetched from PyPI "
                                 f"(Connection refused); put {name} into {http.cache_dir('uv')}")
    with pytest.raises(RenderError, match="no uv for linux/riscv64 images"):
        installer.uv_binary("linux/riscv64")


def test_a_team_s_own_groups_replace_the_built_in_plan() -> None:
    lock = dataclasses.replace(_with(["nvidia-cublas-cu12", "torch", "mycorp-data", "mycorp-models", "tqdm"]),
                               image_layers=(("gpu", ("nvidia-*", "torch")), ("ours", ("mycorp-*",))))
    plan = [(g.name, g.packages) for g in layers.plan(lock)]
    assert plan == [("gpu", ("nvidia-cublas-cu12", "torch")), ("ours", ("mycorp-data", "mycorp-models")),
                    ("packages", ("tqdm",))]  # what no group names goes last


def test_image_layers_go_from_the_spec_into_the_lock_and_back(tmp_path: Path, index: object) -> None:
    from tests.conftest import write_spec

    spec = write_spec(tmp_path, index.url, ["alpha==1.0", "gamma"])  # type: ignore[attr-defined]
    with spec.open("a") as out:
        out.write('\n[image]\nlayers = [{name = "first", packages = ["gamma", "g*"]}]\n')
    done = envbuild("lock", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "envbuild.lock").read_text()
    assert text.split("\n")[2] == f"version = {lockfile.LOCK_VERSION}"
    assert '[image]\nlayers = [\n    {name = "first", packages = ["gamma", "g*"]},\n]\n' in text
    lock = lockfile.read_lock(tmp_path / "envbuild.lock")
    assert lock.image_layers == (("first", ("gamma", "g*")),)
    assert [(g.name, g.packages) for g in layers.plan(lock)] == [("first", ("gamma",)), ("packages", ("alpha", "beta"))]
    assert envbuild("lock", "--check", cwd=tmp_path).returncode == 0
    spec.write_text(spec.read_text().replace('"g*"', '"gam*"'))  # another plan: the lock is out of date
    assert envbuild("lock", "--check", cwd=tmp_path).returncode == 1


BAD_LAYERS = [
    ('layers = "cuda"', "envbuild.toml: [image] -> layers: must be a list of {name = \"...\", packages = "
                        "[\"pattern\", ...]}"),
    ('layers = [{name = "Big", packages = ["x"]}]', "envbuild.toml: [image] -> layers[0] -> name: 'Big' is not a "
                                                    "layer name (lower-case letters, digits and '-'; not 'built')"),
    ('layers = [{name = "a", packages = []}]', "envbuild.toml: [image] -> layers[0] -> packages: names no package"),
    ('layers = [{name = "a", packages = ["x y"]}]', "envbuild.toml: [image] -> layers[0] -> packages[0]: 'x y' is "
                                                    "not a package name or pattern"),
    ('layers = [{name = "a", packages = ["x"]}, {name = "a", packages = ["y"]}]',
     "envbuild.toml: [image] -> layers[1] -> name: 'a' names two layers"),
    ('layer = []', "envbuild.toml: [image] -> layer: unknown key"),
]


def test_a_bad_layer_plan_is_one_line_naming_the_key_and_exit_2(tmp_path: Path) -> None:
    for body, expected in BAD_LAYERS:
        (tmp_path / "envbuild.toml").write_text('[environment]\nname = "t"\nplatform = "linux/amd64"\n'
                                                'python = "3.11"\ndistro = "debian:bookworm"\n'
                                                '[python]\nrequirements = ["x"]\n'
                                                f"[image]\n{body}\n")
        done = envbuild("lock", "--check", cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (body, done.stderr)
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1 and line.startswith(f"envbuild: error: {expected}"), (body, line)
