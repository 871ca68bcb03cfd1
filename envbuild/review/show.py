"""A diff as a reviewer reads it: text for a terminal, markdown for a pull-request comment, JSON for tools.

What deserves a second look comes first, set apart: base-image digest changes, CUDA and driver changes, major
version jumps, and rebuilt packages (the same version with other files).
"""

from __future__ import annotations

from envbuild.review.diff import PARTS, Change

TITLES = {"image": "Base image", "interpreter": "Interpreter", "system": "System packages (apt)",
          "python": "Python packages", "build": "Build group and build image", "conda": "Conda packages",
          "cuda": "CUDA", "env": "Environment"}
SCHEMA = 1


def attention(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.part in ("image", "cuda") or c.major or c.change == "rebuilt"]


def _what(c: Change) -> str:
    where = f" [{', '.join(c.platforms)}]" if c.platforms else ""
    if c.change == "added":
        return f"{c.name} {c.new or ''}".rstrip() + where + (f" (via {' -> '.join(c.via)})" if c.via else "")
    if c.change == "removed":
        return f"{c.name} {c.old or ''}".rstrip() + where
    if c.change == "rebuilt":
        return f"{c.name} {c.new} (same version, other files: a re-upload or rebuild){where}"
    return f"{c.name} {c.old} -> {c.new}{' (major)' if c.major else ''}{where}"


def _summary(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.change] = counts.get(c.change, 0) + 1
    order = ("added", "removed", "upgraded", "downgraded", "rebuilt", "changed")
    return ", ".join(f"{counts[k]} {k}" for k in order if k in counts)


def human(changes: list[Change], old: str, new: str) -> str:
    if not changes:
        return f"{old} and {new} are the same environment\n"
    lines = [f"{old} -> {new}: {len(changes)} change{'s' if len(changes) != 1 else ''} ({_summary(changes)})"]
    flagged = attention(changes)
    if flagged:
        lines.append("needs a look")
        lines += [f"  {c.change:<10} {TITLES[c.part].lower()}: {_what(c)}" for c in flagged]
    for part in PARTS:
        rows = [c for c in changes if c.part == part]
        if rows:
            lines.append(TITLES[part].lower())
            lines += [f"  {c.change:<10} {_what(c)}" for c in rows]
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def markdown(changes: list[Change], old: str, new: str) -> str:
    if not changes:
        return f"**envbuild**: `{_cell(old)}` and `{_cell(new)}` are the same environment.\n"
    out = [f"### envbuild: `{_cell(old)}` → `{_cell(new)}`", "",
           f"**{len(changes)} change{'s' if len(changes) != 1 else ''}**: {_summary(changes)}", ""]
    flagged = attention(changes)
    if flagged:
        out += ["> [!WARNING]", "> Needs a look:"]
        out += [f"> - **{c.change}** {TITLES[c.part].lower()}: `{_cell(_what(c))}`" for c in flagged]
        out.append("")
    for part in PARTS:
        rows = [c for c in changes if c.part == part]
        if not rows:
            continue
        out += [f"#### {TITLES[part]} ({len(rows)})", "", "| Change | Name | Old | New |", "|---|---|---|---|"]
        for c in rows:
            name = c.name + (f" ({', '.join(c.platforms)})" if c.platforms else "")
            change = c.change + (" ⚠ major" if c.major else "")
            new_cell = _cell(c.new) + (f" (via `{_cell(' -> '.join(c.via))}`)" if c.via else "")
            out.append(f"| {change} | `{_cell(name)}` | {_cell(c.old)} | {new_cell} |")
        out.append("")
    return "\n".join(out)


def as_json(changes: list[Change], old: str, new: str) -> str:
    import json  # only for --json

    return json.dumps({"schema": SCHEMA, "equal": not changes, "old": old, "new": new,
                       "changes": [c.as_json() for c in changes]}, indent=2) + "\n"
