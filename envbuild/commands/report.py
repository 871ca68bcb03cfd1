"""``envbuild report``: aggregate many ``envbuild check --json`` reports (one per node of a cluster) into one view."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild.check.report import SCHEMA
from envbuild.errors import EnvbuildError


@dataclass(frozen=True)
class ClusterView:
    hosts: tuple[tuple[str, bool, int], ...]  # hostname, ok, number of error findings
    groups: tuple[tuple[dict[str, Any], tuple[str, ...]], ...]  # finding (no host), hosts that have it

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.hosts)

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "ok": self.ok,
                "hosts": [{"hostname": h, "ok": ok, "errors": n} for h, ok, n in self.hosts],
                "findings": [{**finding, "hosts": list(hosts)} for finding, hosts in self.groups]}


def aggregate(paths: list[Path]) -> ClusterView:
    hosts = []
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EnvbuildError(f"{path}: not a readable check report ({exc})") from None
        except RecursionError:
            raise EnvbuildError(f"{path}: not a readable check report (nested deeper than a report can be)") from None
        if not isinstance(report, dict) or report.get("schema") != SCHEMA:
            raise EnvbuildError(f"{path}: not an envbuild check --json report of schema {SCHEMA}")
        host, findings, ok = _validated(report, path)
        hosts.append((host, ok, sum(1 for f in findings if f.get("severity") == "error")))
        for finding in findings:
            key = json.dumps(finding, sort_keys=True)
            groups.setdefault(key, (finding, []))[1].append(host)
    ordered = sorted(groups.values(), key=lambda g: (-len(g[1]), str(g[0].get("kind", "")), str(g[0].get("name", ""))))
    return ClusterView(hosts=tuple(sorted(hosts)), groups=tuple((f, tuple(sorted(h))) for f, h in ordered))


def _values(finding: dict[str, Any]) -> str:
    """What the lock says and what was found, leaving out the side that has nothing (an extra, a missing)."""
    said = [f"{key} {_text(finding[key])}" for key in ("expected", "found") if finding.get(key) is not None]
    return f" ({', '.join(said)})" if said else ""


def _text(value: object) -> str:
    """A value of a node's report, for one line: a report is a host's word, and a host may be anything."""
    from envbuild.validate import escaped

    return escaped(str(value))


def _hosts(count: int) -> str:
    return f"{count} host{'s' if count != 1 else ''}"


def human(view: ClusterView) -> str:
    """The view for a terminal: the hosts that drift, then each finding with the hosts that have it."""
    from envbuild.hostlist import shown

    drifting = [h for h, ok, _ in view.hosts if not ok]
    lines = [f"{_hosts(len(view.hosts))}, {len(drifting)} drifting" + (f": {shown(drifting)}" if drifting else "")]
    lines = [_text(lines[0])]
    lines += [f"  [{_text(f.get('severity'))}] {_text(f.get('kind'))} {_text(f.get('name'))}: "
              f"{_text(f.get('status'))}{_values(f)} on {len(hosts)}: {_text(shown(hosts))}"
              for f, hosts in view.groups]
    return "\n".join(lines)


def markdown(view: ClusterView) -> str:
    """The view as a markdown table (a CI job's summary, a pull request comment)."""
    from envbuild.hostlist import shown

    def cell(text: object) -> str:
        return "-" if text is None else _text(text).replace("|", "\\|")

    drifting = [h for h, ok, _ in view.hosts if not ok]
    head = (f"**{_hosts(len(view.hosts))}, {len(drifting)} drifting**"
            + (f": {_text(shown(drifting, quote='`'))}" if drifting else "") + "\n")
    if not view.groups:
        return head
    rows = ["", "| severity | kind | name | status | expected | found | hosts |", "|---|---|---|---|---|---|---|"]
    rows += [f"| {cell(f.get('severity'))} | {cell(f.get('kind'))} | {cell(f.get('name'))} | {cell(f.get('status'))} "
             f"| {cell(f.get('expected'))} | {cell(f.get('found'))} | {len(hosts)}: {cell(shown(hosts, quote='`'))} |"
             for f, hosts in view.groups]
    return head + "\n".join(rows) + "\n"


def _validated(report: dict[str, Any], path: Path) -> tuple[str, list[dict[str, Any]], bool]:
    """(host name, findings, ok) of a report, each of the shape schema 1 gives it, else one line naming the key."""
    def bad(where: str, what: str) -> EnvbuildError:
        return EnvbuildError(f"{path}: {where}: {what} (not an envbuild check --json report)")

    host = report.get("host", {})
    if not isinstance(host, dict):
        raise bad("host", "must be an object")
    name = host.get("hostname") or path.stem
    if not isinstance(name, str):
        raise bad("host -> hostname", "must be a string")
    findings = report.get("findings", [])
    if not isinstance(findings, list):
        raise bad("findings", "must be a list")
    for i, finding in enumerate(findings):
        if not isinstance(finding, dict):
            raise bad(f"findings[{i}]", "must be an object")
        for key in ("kind", "name", "status", "severity"):
            if not isinstance(finding.get(key), str):
                raise bad(f"findings[{i}] -> {key}", "must be a string")
    ok = report.get("ok")
    if not isinstance(ok, bool):
        raise bad("ok", "must be true or false")
    return name, findings, ok
