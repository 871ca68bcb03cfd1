"""``envbuild-check.pyz``: the stdlib drift check that goes into the image, beside its lock."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from envbuild.errors import RenderError

# ---------------------------------------------------------------------------------------------------------
# The stdlib checker that goes into the image

_CHECKER_MODULES = (
    "__init__.py", "errors.py", "options.py", "compat.py", "validate.py", "versions.py", "cachedir.py", "platforms.py",
    "lockfile/__init__.py", "lockfile/model.py", "lockfile/parse.py", "lockfile/read.py", "lockfile/write.py",
    "lockfile/files.py", "lockfile/diff.py", "data/__init__.py", "data/torch_cuda.toml", "check/__init__.py",
    "cache.py", "check/cli.py", "check/expect.py", "check/locate.py", "check/probe.py", "check/nvidia.py",
    "check/kernels.py", "check/conda.py", "check/compare.py", "check/report.py", "check/venv.py")


def checker_archive(python_version: str) -> bytes:
    """``envbuild-check.pyz``: the check path of envbuild plus a copy of ``packaging`` (pure Python), and of
    ``tomli`` for an interpreter older than 3.11.  Byte-identical for the same envbuild, so a rebuild reuses
    the layer that holds it."""
    import packaging

    package = Path(__file__).resolve().parent.parent
    members: list[tuple[str, Path]] = [(f"envbuild/{m}", package / m) for m in _CHECKER_MODULES]
    members += _tree("packaging", Path(packaging.__file__).parent)
    if tuple(int(x) for x in python_version.split(".")[:2]) < (3, 11):
        try:
            import tomli  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise RenderError(f"the image's Python {python_version} has no tomllib; install tomli where envbuild "
                              "runs so that render can bundle it") from None
        members += _tree("tomli", Path(tomli.__file__).parent)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [("__main__.py", b"from envbuild.check.cli import main\nraise SystemExit(main(in_image=True))\n")]
        entries += [(name, path.read_bytes()) for name, path in sorted(members)]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _tree(name: str, directory: Path) -> Iterable[tuple[str, Path]]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".typed"} and "__pycache__" not in path.parts:
            yield f"{name}/{path.relative_to(directory).as_posix()}", path
