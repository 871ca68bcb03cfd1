"""The spec: ``envbuild.toml`` (or ``[tool.envbuild]`` in pyproject.toml), parsed once into frozen dataclasses.

Everything is validated here, at the edge, and every error names the file and the key path
(``envbuild.toml: [python] -> requirments: unknown key``).  After ``load_spec`` the code trusts its types.

``model``: the dataclasses; ``load``: finding and parsing the file; ``python``/``conda``: their tables;
``urls``: ``${VAR}`` placeholders; ``hash``: the spec-hash over normalised facts.
"""

from envbuild.spec.hash import normalized, spec_hash
from envbuild.spec.load import find_spec, known_distros, load_spec, parse_distro, parse_spec
from envbuild.spec.model import (
    DEFAULT_IGNORE_EXTRA,
    DEFAULT_INDEX,
    PYPROJECT,
    RESOLVERS,
    SPEC_FILE,
    CheckSpec,
    CudaSpec,
    Distro,
    Environment,
    PythonSpec,
    Spec,
    SystemSpec,
)
from envbuild.spec.python import read_requirements_file
from envbuild.spec.urls import expand_url, placeholders

__all__ = [
    "DEFAULT_IGNORE_EXTRA", "DEFAULT_INDEX", "PYPROJECT", "RESOLVERS", "SPEC_FILE", "CheckSpec", "CudaSpec", "Distro",
    "Environment", "PythonSpec", "Spec", "SystemSpec", "expand_url", "find_spec", "known_distros", "load_spec",
    "normalized", "parse_distro", "parse_spec", "placeholders", "read_requirements_file", "spec_hash",
]
