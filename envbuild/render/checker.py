"""``envbuild-check.pyz``: the stdlib drift check that goes into the image, beside its lock."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from envbuild.errors import RenderError

# ---------------------------------------------------------------------------------------------------------
# The stdlib checker that goes into the image: the check core's package, and every module of envbuild it imports,
# found by reading their imports (not a list kept by hand: a module the core starts to use travels with it)

CORE = "check"  # the package the image's checker runs (envbuild-check: envbuild.check.cli)
READER = "lockview.py"  # the lock reader it is handed (and, from its imports, envbuild.lockfile)
MAIN = (b"from envbuild import lockview\nfrom envbuild.check.cli import main\n"
        b"raise SystemExit(main(in_image=True, read_lock=lockview.read))\n")
DATA = ("data/torch_cuda.toml",)  # the data the core reads (kernels: the architectures of torch's CUDA builds)


def core_modules(package: Path) -> list[str]:
    """The files (relative to PACKAGE, envbuild's folder) of the check core, of the lock reader handed to it, and
    of every envbuild module they import, at run time (not under TYPE_CHECKING), with the packages' __init__
    files on the way."""
    import ast

    def module_file(name: str) -> str | None:
        rel = name.split(".")[1:]
        for candidate in ("/".join(rel) + ".py", "/".join([*rel, "__init__.py"])):
            if candidate and (package / candidate).is_file():
                return candidate
        return None

    def imports(path: Path) -> set[str]:
        found: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", "")
                   == "TYPE_CHECKING" for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("envbuild")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("envbuild"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
        return found

    wanted = {f"{CORE}/{p.relative_to(package / CORE).as_posix()}" for p in (package / CORE).rglob("*.py")}
    wanted |= {"__init__.py", READER}
    queue = sorted(wanted)
    while queue:
        for name in imports(package / queue.pop()):
            file = module_file(name)
            parts = name.split(".")[1:]
            inits = ["/".join([*parts[:i], "__init__.py"]) for i in range(1, len(parts))]
            for found in (file, *inits):
                if found and (package / found).is_file() and found not in wanted:
                    wanted.add(found)
                    queue.append(found)
    return sorted(wanted | set(DATA))


def checker_archive(python_version: str) -> bytes:
    """``envbuild-check.pyz``: the check path of envbuild plus a copy of ``packaging`` (pure Python), and of
    ``tomli`` for an interpreter older than 3.11.  Byte-identical for the same envbuild, so a rebuild reuses
    the layer that holds it."""
    import packaging

    package = Path(__file__).resolve().parent.parent
    members: list[tuple[str, Path]] = [(f"envbuild/{m}", package / m) for m in core_modules(package)]
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
        entries = [("__main__.py", MAIN)]
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
