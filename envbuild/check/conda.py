"""A conda prefix's facts with the standard library alone: its ``conda-meta/*.json`` records.

conda, mamba and rattler name each record ``<name>-<version>-<build>.json`` (versions and build strings hold no
``-``), so the plain check reads the directory, not the files; ``--deep`` opens each record and hashes every file
it lists against ``paths_data``: against ``sha256_in_prefix`` where the installer rewrote the file (the prefix
placeholder replaced by the real prefix), else against the package's own ``sha256``.  Rewriting by the installer
is therefore never mistaken for tampering, and a file edited afterwards is.
"""

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any


def records(prefix: str) -> "dict[str, Any] | None":
    """``{"prefix", "records": {name: [version, build]}, "problems": [...]}`` of PREFIX; None: no conda-meta.
    A pair per record, not a dict with its path (rebuilt from the three when --deep opens it): this loop runs over
    every record before every job, and a dict each cost a third of it."""
    meta = os.path.join(prefix, "conda-meta")
    try:
        entries = sorted(os.listdir(meta))
    except OSError:
        return None
    found: dict[str, list[str]] = {}
    problems = []
    for entry in entries:
        if entry[-5:] != ".json":
            continue
        parts = entry[:-5].rsplit("-", 2)
        if len(parts) != 3 or "" in parts:
            problems.append({"path": os.path.join(meta, entry),
                             "problem": "not a <name>-<version>-<build>.json record"})
            continue
        found[parts[0]] = parts[1:]
    return {"prefix": prefix, "records": found, "problems": problems}


def verify(prefix: str, found: "dict[str, Any]") -> list[dict[str, str]]:
    """Files of FOUND's records that differ from what their record says (``modified``) or are gone (``missing``);
    a record that is not JSON, or names another package than its file name, is ``modified`` itself, and one that
    this user may not read is ``unverifiable``."""
    import hashlib
    import json

    out = []
    for name, (version, build) in sorted(found.items()):
        record = os.path.join(prefix, "conda-meta", f"{name}-{version}-{build}.json")
        try:
            with open(record, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError:
            out.append({"package": name, "path": record, "status": "unverifiable"})
            continue
        except (ValueError, RecursionError):
            out.append({"package": name, "path": record, "status": "modified"})
            continue
        if (data.get("name"), data.get("version"), data.get("build")) != (name, version, build):
            out.append({"package": name, "path": record, "status": "modified"})
        for entry in (data.get("paths_data") or {}).get("paths", []):
            if entry.get("path_type", "hardlink") not in ("hardlink", "copy"):
                continue  # softlinks and directories carry no content hash
            wanted = entry.get("sha256_in_prefix") or entry.get("sha256")
            if not wanted:
                continue
            path = os.path.join(prefix, entry["_path"])
            try:
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    while block := handle.read(1 << 20):
                        digest.update(block)
            except FileNotFoundError:
                out.append({"package": name, "path": path, "status": "missing"})
                continue
            except OSError:
                out.append({"package": name, "path": path, "status": "unverifiable"})
                continue
            if digest.hexdigest() != wanted:
                out.append({"package": name, "path": path, "status": "modified"})
    return out
