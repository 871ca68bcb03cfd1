"""The conda environment of an image, installed on the build host into the build context.

``render`` installs the lock's conda records into ``.envbuild/conda/`` with py-rattler, the same installer that
``envbuild sync --prefix`` uses: every archive's sha256 is verified against the lock, nothing is solved, link
scripts never run, and every file is written as it must be at the lock's prefix (``/opt/conda``), so that the
Dockerfile only copies the folder there.  Installing here rather than in a ``RUN`` step means no conda installer
has to be fetched inside the build (most build hosts cannot reach one, and a conda-only base image has no Python
to run one), one target can be installed from any host architecture without emulation, and the downloaded
archives are cached once for every render and build (``~/.cache/envbuild/conda/pkgs``).

A stamp (``.envbuild/conda.stamp``) holds the sha256 of what was installed; a render of the same records keeps
the folder as it is, so that the build's layer cache holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from envbuild.errors import RenderError
from envbuild.lockfile import CondaLock, Lock
from envbuild.render.names import SUPPORT

STAGED = f"{SUPPORT}/conda"
STAMP = f"{SUPPORT}/conda.stamp"
# What rattler writes into conda-meta/*.json about the host that installed it: not true in the image, and a
# needless difference between two renders of one lock.
_HOST_FIELDS = ("extracted_package_dir", "package_tarball_full_path", "link", "requested_spec", "requested_specs")


def stamp(conda: CondaLock, platform: str) -> str:
    """The sha256 of everything the staged folder depends on: the prefix, the subdir and every record's archive."""
    facts = {"prefix": conda.prefix, "platform": platform, "packages": [[p.url, p.sha256] for p in conda.packages]}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def stage(lock: Lock, root: Path) -> Path | None:
    """Install the lock's conda environment into ROOT/.envbuild/conda as it will be at its prefix; None when the
    lock has no conda part (and any folder an older render left is removed)."""
    staged, stamp_file = root / STAGED, root / STAMP
    if lock.conda is None or not lock.conda.packages:
        shutil.rmtree(staged, ignore_errors=True)
        stamp_file.unlink(missing_ok=True)
        return None
    want = stamp(lock.conda, lock.target.platform)
    if stamp_file.is_file() and stamp_file.read_text().strip() == want and (staged / "conda-meta").is_dir():
        return staged
    from envbuild.resolve.conda import install

    scratch = root / SUPPORT / ".conda.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        install(lock.conda, lock.target.platform, scratch, as_prefix=lock.conda.prefix)
        _scrub(scratch)
        stamp_file.unlink(missing_ok=True)
        shutil.rmtree(staged, ignore_errors=True)
        scratch.rename(staged)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    stamp_file.write_text(want + "\n")
    return staged


def _scrub(prefix: Path) -> None:
    """Take the build host out of conda-meta (its cache paths, conda's history of this host's commands, the
    installer's cache tag) and make the records readable by the image's user, as conda's own are."""
    (prefix / "conda-meta" / "history").unlink(missing_ok=True)
    (prefix / "CACHEDIR.TAG").unlink(missing_ok=True)
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RenderError(f"{path}: the installer wrote a record that is not JSON ({exc})") from None
        for field in _HOST_FIELDS:
            record.pop(field, None)
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        path.chmod(0o644)
