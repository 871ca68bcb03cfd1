"""What the GPU-kernel tests build: a CUDA devel base image from this machine's toolkit (as nvidia/cuda:*-devel
provides one), and an sdist with a tiny CUDA extension (one .cu file compiled by nvcc into a CPython module) whose
build imports a package the runtime does not need."""

from __future__ import annotations

from pathlib import Path

from tests.support.pypi import HOOKS, write_sdist

_KERNEL = r"""
#include <Python.h>
#include <cuda_runtime.h>

__global__ void add_one(int *x) { x[threadIdx.x] += 1; }

static PyObject *compiled_with(PyObject *self, PyObject *args) {
    return PyUnicode_FromFormat("%d.%d", __CUDACC_VER_MAJOR__, __CUDACC_VER_MINOR__);
}

static PyObject *devices(PyObject *self, PyObject *args) {  /* the CUDA runtime, linked in: -1 without a driver */
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) count = -1;
    return PyLong_FromLong(count);
}

static PyMethodDef methods[] = {
    {"compiled_with", compiled_with, METH_NOARGS, "the nvcc that compiled this module"},
    {"devices", devices, METH_NOARGS, "how many CUDA devices the runtime sees"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kern", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kern(void) { return PyModule_Create(&module); }
"""

_BACKEND = '''"""A PEP 517 backend made by envbuild's tests: nvcc compiles kern.cu into a CPython extension; the
build imports {needs} (a build-only dependency), as flash-attn's imports torch."""
import base64, hashlib, os, shutil, subprocess, sysconfig, tempfile, zipfile

import {needs}

NAME, VERSION = {name!r}, {version!r}
DIST = NAME.replace("-", "_") + "-" + VERSION
PACKAGE = NAME.replace("-", "_")


def _metadata():
    return "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n"


{hooks}

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    nvcc = shutil.which("nvcc") or os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "_kern" + suffix)
        arch = os.environ.get("CUDA_ARCH", "sm_80")
        print("envbuild-test: compiling kern.cu with", nvcc, "for", arch, flush=True)
        subprocess.run([nvcc, "-shared", "-Xcompiler", "-fPIC", "-arch=" + arch,
                        "-I" + sysconfig.get_paths()["include"], "-o", out, "kern.cu"], check=True)
        with open(out, "rb") as f:
            extension = f.read()
    module = "from ._kern import compiled_with, devices\\nBUILT_WITH = %r\\nMAX_JOBS = %r\\n" % (
        {needs}.__version__, os.environ.get("MAX_JOBS"))
    tag = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    python = "cp%d%d" % __import__("sys").version_info[:2]
    files = {{PACKAGE + "/__init__.py": module.encode(), PACKAGE + "/_kern" + suffix: extension,
             DIST + ".dist-info/METADATA": _metadata().encode(),
             DIST + ".dist-info/WHEEL": ("Wheel-Version: 1.0\\nGenerator: envbuild-tests\\nRoot-Is-Purelib: false\\n"
                                         "Tag: %s-%s-%s\\n" % (python, python, tag)).encode()}}

    def digest(data):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join("%s,%s,%d\\n" % (p, digest(d), len(d)) for p, d in files.items()) + DIST + ".dist-info/RECORD,,\\n"
    name = "%s-%s-%s-%s.whl" % (DIST, python, python, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
        zf.writestr(zipfile.ZipInfo(DIST + ".dist-info/RECORD", (2020, 1, 1, 0, 0, 0)), record)
    return name
'''


def make_cuda_sdist(directory: Path, name: str, version: str, needs: str) -> Path:
    """The sdist of NAME: its build imports NEEDS and compiles kern.cu with nvcc; the module it installs says which
    nvcc compiled it (``compiled_with()``), NEEDS' version at build time and $MAX_JOBS."""
    directory.mkdir(parents=True, exist_ok=True)
    top = f"{name.replace('-', '_')}-{version}"
    files = {
        "pyproject.toml": (f'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                           f'[project]\nname = "{name}"\nversion = "{version}"\n'),
        "backend.py": _BACKEND.format(name=name, version=version, needs=needs, hooks=HOOKS),
        "kern.cu": _KERNEL,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    return write_sdist(directory / f"{top}.tar.gz", top, files)


def toolkit() -> Path | None:
    """This machine's CUDA toolkit (the newest /usr/local/cuda-*, with nvcc), or None."""
    found = sorted(p for p in Path("/usr/local").glob("cuda-*") if (p / "bin" / "nvcc").is_file())
    return found[-1] if found else None


DEVEL_DOCKERFILE = """\
FROM {base}
# What nvidia/cuda:*-devel gives a build, on Debian: a C++ compiler, and the toolkit under /usr/local/cuda;
# plus the target's Python with its headers and venv (as a devel image for Python builds has them).
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      g++ python3-dev python3-venv && rm -rf /var/lib/apt/lists/*
COPY {name} /usr/local/{name}
RUN ln -s /usr/local/{name} /usr/local/cuda
ENV CUDA_VERSION={version} CUDA_HOME=/usr/local/cuda \\
    PATH=/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


def toolkit_version(root: Path) -> str:
    """The toolkit's CUDA version, from its nvcc wheel's dist-info (13.0.88) or its folder's name (13.0)."""
    for info in sorted((root / "dist-info").glob("nvidia_cuda_nvcc-*.dist-info")):
        return info.name.removeprefix("nvidia_cuda_nvcc-").removesuffix(".dist-info")
    return root.name.removeprefix("cuda-")
