"""``envbuild.lock``: its model, reader (dispatching on ``version``) and writer.

``model``: ``LockFile`` (the whole file: its target platforms and every record) and ``Lock`` (one platform's view);
``read``: versions 1 to 4, errors with their key path; ``parse``: the TOML, cached, several locks at once;
``write``: deterministic TOML; ``files``: atomic, serialised writing; ``diff``: what changed between two locks' pins.
"""

from envbuild.lockfile.files import exclusive, is_special, strip_credentials, strip_credentials_in, write_atomic
from envbuild.lockfile.model import (
    LOCK_VERSION,
    READABLE_VERSIONS,
    AptRelease,
    BaseImage,
    BuildImage,
    CondaLock,
    CondaPackage,
    CudaLock,
    Lock,
    LockFile,
    PythonFile,
    PythonLock,
    PythonPackage,
    SystemLock,
    SystemPackage,
    Target,
    TargetLock,
    match_spec_name,
)
from envbuild.lockfile.read import (
    choose_platform,
    from_raw,
    loads,
    loads_file,
    loads_files,
    read_lock,
    read_lock_text,
    read_lockfile,
    read_spec_hash,
)
from envbuild.lockfile.write import dumps, header, load_writer
from envbuild.paths import LOCK_FILE
from envbuild.pysources import PythonIndex

__all__ = [
    "LOCK_FILE",
    "LOCK_VERSION",
    "READABLE_VERSIONS",
    "AptRelease",
    "BaseImage",
    "BuildImage",
    "CondaLock",
    "CondaPackage",
    "CudaLock",
    "Lock",
    "LockFile",
    "PythonFile",
    "PythonIndex",
    "PythonLock",
    "PythonPackage",
    "SystemLock",
    "SystemPackage",
    "Target",
    "TargetLock",
    "choose_platform",
    "dumps",
    "exclusive",
    "from_raw",
    "header",
    "is_special",
    "load_writer",
    "loads",
    "loads_file",
    "loads_files",
    "match_spec_name",
    "read_lock",
    "read_lock_text",
    "read_lockfile",
    "read_spec_hash",
    "strip_credentials",
    "strip_credentials_in",
    "write_atomic",
]
