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
        if not isinstance(report, dict) or report.get("schema") != SCHEMA:
            raise EnvbuildError(f"{path}: not an envbuild check --json report of schema {SCHEMA}")
        host = report.get("host", {}).get("hostname") or path.stem
        findings = report.get("findings", [])
        hosts.append((host, bool(report.get("ok")), sum(1 for f in findings if f.get("severity") == "error")))
        for finding in findings:
            key = json.dumps(finding, sort_keys=True)
            groups.setdefault(key, (finding, []))[1].append(host)
    ordered = sorted(groups.values(), key=lambda g: (-len(g[1]), g[0].get("kind", ""), g[0].get("name", "")))
    return ClusterView(hosts=tuple(sorted(hosts)), groups=tuple((f, tuple(sorted(h))) for f, h in ordered))
