"""The names other tools and people rely on, in one place: the lock's file name, and where an image built by
envbuild keeps its lock and its check (a base module: the check core, the lock reader, render and diff use them)."""

LOCK_FILE = "envbuild.lock"  # beside the spec
IMAGE_PREFIX = "/opt/envbuild"  # what an envbuild image carries: the lock, the checker, the SBOM
IMAGE_LOCK = f"{IMAGE_PREFIX}/{LOCK_FILE}"
