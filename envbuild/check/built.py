"""The wheels an image built from sdists: recorded by the build step that installed them (``built.json``, beside the
image's lock), and checked by the image's own check.

Each record names the wheel, its sha256, and the sha256 of the RECORD its install wrote: the one fingerprint of what
that build put in the venv.  A distribution installed from another build of the same sdist (a wheel compiled again,
differently) has another RECORD: drift, although name and version agree.

The build step runs this file as a script with the image's interpreter (``python built.py OUT VENV WHEEL...``), so it
imports nothing of envbuild (Python 3.7 and newer).
"""

import os
import sys

FILE = "built.json"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any


def _sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _normal(name: str) -> str:
    """NAME normalised (PEP 503), without re: ``envbuild.check.probe.normalise`` again, as this file also runs
    alone in the build step, where no envbuild is importable."""
    out = name.lower().replace("_", "-").replace(".", "-")
    while "--" in out:
        out = out.replace("--", "-")
    return out


def _dist_info(site: str, name: str, version: str) -> "str | None":
    """The .dist-info folder of NAME VERSION in SITE (names compared normalised, as the wheel's and the folder's may
    be spelled differently)."""
    for entry in sorted(os.listdir(site)):
        if entry.endswith(".dist-info"):
            found_name, _, found_version = entry[: -len(".dist-info")].rpartition("-")
            if _normal(found_name) == name and found_version == version:
                return os.path.join(site, entry)
    return None


def record(venv: str, wheels: "list[str]") -> "list[dict[str, str]]":
    """What each of WHEELS installed into VENV: name, version, the wheel and its sha256, its RECORD's sha256."""
    sites = sorted(os.path.join(venv, "lib", d, "site-packages") for d in os.listdir(os.path.join(venv, "lib"))
                   if d.startswith("python"))
    out = []
    for wheel in sorted(wheels, key=os.path.basename):
        base = os.path.basename(wheel)
        name, version = _normal(base.split("-")[0]), base.split("-")[1]
        info = next((found for found in (_dist_info(site, name, version) for site in sites) if found), None)
        if info is None:
            raise SystemExit(f"envbuild: {base} is not installed in {venv}")
        out.append({"name": name, "version": version, "wheel": base, "sha256": _sha256(wheel),
                    "record": _sha256(os.path.join(info, "RECORD"))})
    return out


def load(lock: str) -> "list[dict[str, str]] | None":
    """The records beside LOCK (an image's lock), or None where there are none (a host, an image without sdists)."""
    path = os.path.join(os.path.dirname(os.path.abspath(lock)), FILE)
    if not os.path.exists(path):
        return None
    import json

    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        from envbuild.errors import EnvbuildError

        raise EnvbuildError(f"{path}: cannot read the records of the built wheels ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in data):
        from envbuild.errors import EnvbuildError

        raise EnvbuildError(f"{path}: not a list of built wheels")
    return data


def installed(entries: "list[dict[str, str]]", packages: "dict[str, Any]") -> "list[dict[str, Any]]":
    """ENTRIES, each with the sha256 of the RECORD the installed distribution of its name has now (``found``: None
    when it is not installed or has no RECORD)."""
    out = []
    for entry in entries:
        dist = packages.get(entry["name"])
        found = None
        if dist is not None:
            try:
                found = _sha256(os.path.join(dist["path"], "RECORD"))
            except OSError:
                found = None
        out.append({**entry, "found": found})
    return out


def main(argv: "list[str]") -> int:
    if len(argv) < 3:
        print("usage: built.py OUT VENV WHEEL...", file=sys.stderr)
        return 2
    import json

    out, venv, wheels = argv[0], argv[1], argv[2:]
    entries = record(venv, wheels)
    with open(out, "w", encoding="utf-8") as stream:
        json.dump(entries, stream, indent=1, sort_keys=True)
        stream.write("\n")
    for entry in entries:
        print(f"envbuild: built {entry['wheel']} {entry['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
