"""Time per build stage, for ``build``'s summary: from BuildKit's plain progress (``#7 [builder 2/3] RUN ...``,
``#7 DONE 3.2s``), or from buildah's steps (``[2/4] STEP 3/5: RUN ...``, ``--> Using cache``) by the wall clock."""

from __future__ import annotations

import re
import time

_STEP = re.compile(r"^#(\d+) \[([A-Za-z0-9_.-]+) \d+/\d+\]")
_DONE = re.compile(r"^#(\d+) DONE ([0-9.]+)s")
_CACHED = re.compile(r"^#(\d+) CACHED")


class StageClock:
    """Seconds, steps run and steps from cache per stage (stage, seconds, run, cached), in the order first seen."""

    def __init__(self) -> None:
        self.stage_of: dict[str, str] = {}
        self.base_steps: set[str] = set()  # FROM: resolved on every build, neither run nor cached
        self.totals: dict[str, list[float]] = {}
        self._open: tuple[str, float, bool] | None = None  # buildah: the step running (stage, since, a FROM)

    def feed(self, line: str) -> None:
        """One line of BuildKit's plain progress."""
        if m := _STEP.match(line):
            self.stage_of[m.group(1)] = m.group(2)
            self.totals.setdefault(m.group(2), [0.0, 0, 0])
            if line[m.end():].lstrip().startswith("FROM "):
                self.base_steps.add(m.group(1))
        elif (m := _DONE.match(line)) and m.group(1) in self.stage_of:
            self.totals[self.stage_of[m.group(1)]][0] += float(m.group(2))
            self.totals[self.stage_of[m.group(1)]][1] += m.group(1) not in self.base_steps
        elif (m := _CACHED.match(line)) and m.group(1) in self.stage_of:
            self.totals[self.stage_of[m.group(1)]][2] += 1

    def step(self, stage: str, *, from_base: bool = False) -> None:
        """A buildah step of STAGE begins (the one before it ends)."""
        self.stop()
        self.totals.setdefault(stage, [0.0, 0, 0])
        self._open = (stage, time.monotonic(), from_base)

    def cached(self, stage: str) -> None:
        """The buildah step running was taken from the cache."""
        if self._open is not None and self._open[0] == stage:
            self.totals[stage][2] += 1
            self._open = (stage, self._open[1], True)  # not a step run

    def stop(self) -> None:
        if self._open is not None:
            stage, since, not_run = self._open
            self.totals[stage][0] += time.monotonic() - since
            self.totals[stage][1] += not not_run
            self._open = None

    def summary(self) -> tuple[tuple[str, float, int, int], ...]:
        self.stop()
        return tuple((stage, round(t[0], 2), int(t[1]), int(t[2])) for stage, t in self.totals.items())
