"""``envbuild check``: the drift check of the check core (``envbuild.check.cli``), given what it cannot do from
the bottom layer: read the lock with the one lock reader (``envbuild.lockview``), and run its probe in a container
for ``--image`` (the Docker engine is an adapter, above the core).
The console script and the click group both come here; the image's own ``envbuild-check`` runs the core alone.

Like the core, it imports nothing on a plain check's path (no typing, no click): this runs before every job."""

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any


def main(argv: "list[str] | None" = None) -> int:
    from envbuild import lockview
    from envbuild.check.cli import main as check

    return check(argv, read_lock=lockview.read, probe_image=probe_in_image)


def probe_in_image(image: str, args: "list[str]") -> "dict[str, Any]":
    """The probe's facts of IMAGE: the check core's probe, mounted read-only into a container from it (its user,
    no network), run by the image's python3 with ARGS."""
    from envbuild.adapters.engine import run_probe

    return run_probe(image, os.path.dirname(os.path.dirname(os.path.abspath(__file__))), args)  # envbuild/
