"""Time per build stage, for ``build``'s summary: from BuildKit's plain progress (``#7 [builder 2/3] RUN ...``,
``#7 DONE 3.2s``), or from buildah's steps (``[2/4] STEP 3/5: RUN ...``, ``--> Using cache``) and the time each took
(``--log-rusage``: ``... 1.738s(elapsed) ...``).  buildah runs independent stages at once (``--jobs``) and does not
say which step a time is for: it is the running step that began that long ago."""

from __future__ import annotations

import re
import time

_STEP = re.compile(r"^#(\d+) \[([A-Za-z0-9_.-]+) \d+/\d+\]")
_DONE = re.compile(r"^#(\d+) DONE ([0-9.]+)s")
_CACHED = re.compile(r"^#(\d+) CACHED")
AMBIGUOUS = 0.5  # seconds: a step time that fits two running steps this nearly is neither's


class StageClock:
    """Seconds, steps run and steps from cache per stage (stage, seconds, run, cached), in the order first seen."""

    def __init__(self) -> None:
        self.stage_of: dict[str, str] = {}
        self.base_steps: set[str] = set()  # FROM: resolved on every build, neither run nor cached
        self.totals: dict[str, list[float]] = {}
        self._open: list[tuple[str, float, bool]] = []  # buildah: the steps running (stage, since, not run)

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
        """A buildah step of STAGE begins: STAGE's step before it has ended (other stages may still be running)."""
        self._close([s for s in self._open if s[0] == stage])
        self.totals.setdefault(stage, [0.0, 0, 0])
        self._open.append((stage, time.monotonic(), from_base))

    def cached(self, stage: str) -> None:
        """The buildah step of STAGE running was taken from the cache."""
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == stage:
                self.totals[stage][2] += 1
                self._open[i] = (stage, self._open[i][1], True)  # not a step run
                return

    def elapsed(self, seconds: float) -> None:
        """buildah (--log-rusage) says a step took SECONDS: the running step that began that long ago, when one
        does so clearly (two that began together are told apart by their own next steps instead)."""
        if not self._open:
            return
        now = time.monotonic()
        ranked = sorted(self._open, key=lambda s: abs(now - s[1] - seconds))
        if len(ranked) > 1 and abs(now - ranked[1][1] - seconds) - abs(now - ranked[0][1] - seconds) < AMBIGUOUS:
            return
        step = ranked[0]
        self._open.remove(step)
        stage, _, not_run = step
        self.totals[stage][0] += seconds
        self.totals[stage][1] += not not_run

    def done(self, stage: str) -> None:
        """STAGE has finished (a step that uses it begins: FROM it, COPY --from it): its last step has ended."""
        self._close([s for s in self._open if s[0] == stage])

    def _close(self, steps: list[tuple[str, float, bool]]) -> None:
        now = time.monotonic()
        for stage, since, not_run in steps:
            self._open.remove((stage, since, not_run))
            self.totals[stage][0] += now - since
            self.totals[stage][1] += not not_run

    def stop(self) -> None:
        self._close(list(self._open))

    def summary(self) -> tuple[tuple[str, float, int, int], ...]:
        self.stop()
        return tuple((stage, round(t[0], 2), int(t[1]), int(t[2])) for stage, t in self.totals.items())
