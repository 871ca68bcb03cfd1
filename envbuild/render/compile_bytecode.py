"""The image's bytecode, reproducibly: run by the image's own interpreter in each Python layer's step (mounted, in no
layer), with a file that holds the NUL-separated paths of the .py files that step installed.

Each file is compiled in this one process, in sorted order, as a checked-hash .pyc (PEP 552: the source's hash, no
time), so the same lock gives the same bytes, and the image's user, who cannot write ``__pycache__``, does not
compile its imports at every start.  A file that does not compile (a template, a test for another Python) is left
as it is, as pip and uv do.  Python 3.7 and newer; imports nothing of envbuild.
"""

import py_compile
import sys


def main() -> int:
    """``compile_bytecode.py LISTING [WHERE AS]``: WHERE, AS: the files lie under WHERE here and will lie under AS in
    the image (a layer installed in another stage), so their bytecode names them as they will be."""
    with open(sys.argv[1], "rb") as listing:
        names = sorted(name for name in listing.read().decode("utf-8", "surrogateescape").split("\0") if name)
    where, shown = (sys.argv[2].rstrip("/") + "/", sys.argv[3].rstrip("/") + "/") if len(sys.argv) > 3 else ("", "")
    for name in names:
        dfile = shown + name[len(where):] if where and name.startswith(where) else None
        try:
            py_compile.compile(name, dfile=dfile, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        except (py_compile.PyCompileError, OSError, ValueError, SyntaxError):
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main())
