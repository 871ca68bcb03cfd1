"""Reports of a check: JSON (schema 1, the contract in DESIGN.md), JUnit XML (a testcase per checked item) and a
human table of the drift only; and ``envbuild report``, which aggregates many JSON reports (a cluster)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envbuild.check.compare import Outcome
from envbuild.errors import EnvbuildError
from envbuild.lockfile import Lock

REPORT_SCHEMA = 1


def as_json(lock_path: str, lock: Lock, facts: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    release = facts.get("os") or {}
    interpreter = facts.get("interpreter") or {}
    return {
        "schema": REPORT_SCHEMA,
        "ok": outcome.ok,
        "lock": {"path": lock_path, "spec-hash": lock.spec_hash},
        "host": {"hostname": facts.get("hostname"),
                 "os": f"{release.get('id', '')} {release.get('version_id', '')}".strip() or None,
                 "python": interpreter.get("version"), "driver": (facts.get("nvidia") or {}).get("driver")},
        "findings": [f.as_json() for f in outcome.findings],
    }


def junit(report: dict[str, Any], outcome: Outcome) -> str:
    """One testcase per checked item; a finding of severity error is a failure, a warning is printed as skipped."""
    import xml.etree.ElementTree as ET

    by_item = {(f.kind, f.name): f for f in outcome.findings}
    checked = set(outcome.checked)
    cases = list(outcome.checked) + [(f.kind, f.name) for f in outcome.findings if (f.kind, f.name) not in checked]
    failures = sum(1 for key in cases if key in by_item and by_item[key].severity == "error")
    suite = ET.Element("testsuite", name=f"envbuild check {report['host'].get('hostname') or ''}".strip(),
                       tests=str(len(cases)), failures=str(failures))
    for kind, name in cases:
        case = ET.SubElement(suite, "testcase", classname=f"envbuild.{kind}", name=name)
        finding = by_item.get((kind, name))
        if finding is not None:
            text = f"{finding.status}: expected {finding.expected}, found {finding.found}"
            ET.SubElement(case, "failure" if finding.severity == "error" else "skipped", message=text).text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def human(report: dict[str, Any]) -> None:
    """A table of the drift grouped by kind, then a one-line verdict (rich on a terminal, plain in a pipe)."""
    import sys

    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # the stdlib checker inside an image: plain text
        _plain(report)
        return

    console = Console() if sys.stdout.isatty() else Console(width=200)  # a pipe or a log gets whole values
    findings = report["findings"]
    if findings:
        table = Table(show_header=True, header_style="bold")
        for column in ("kind", "name", "status", "expected", "found", "severity"):
            table.add_column(column)
        for f in sorted(findings, key=lambda f: (f["kind"], f["name"])):
            style = "red" if f["severity"] == "error" else "yellow"
            table.add_row(f["kind"], f["name"], f["status"], f["expected"] or "-", f["found"] or "-", f["severity"],
                          style=style)
        console.print(table)
    console.print(verdict(report, markup=True))


def verdict(report: dict[str, Any], *, markup: bool = False) -> str:
    """The one-line verdict: OK or DRIFT, with the counts."""
    findings = report["findings"]
    errors = sum(1 for f in findings if f["severity"] == "error")
    warnings = len(findings) - errors
    host = report["host"].get("hostname") or "this environment"
    ok, drift = ("[green]OK[/green]", "[red]DRIFT[/red]") if markup else ("OK", "DRIFT")
    if report["ok"]:
        return (f"{ok}: {host} matches {report['lock']['path']}"
                + (f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""))
    return (f"{drift}: {host} departs from {report['lock']['path']} in {errors} item{'s' if errors != 1 else ''}"
            + (f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""))


def _plain(report: dict[str, Any]) -> None:
    """The same report with no rich: one tab-separated line per finding, then the verdict."""
    for f in sorted(report["findings"], key=lambda f: (f["kind"], f["name"])):
        print("\t".join((f["kind"], f["name"], f["status"], f["expected"] or "-", f["found"] or "-",
                         f["severity"])))
    print(verdict(report))


# ---------------------------------------------------------------------------------------------------------
# envbuild report


@dataclass(frozen=True)
class ClusterView:
    hosts: tuple[tuple[str, bool, int], ...]  # hostname, ok, number of error findings
    groups: tuple[tuple[dict[str, Any], tuple[str, ...]], ...]  # finding (no host), hosts that have it

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.hosts)

    def as_json(self) -> dict[str, Any]:
        return {"schema": REPORT_SCHEMA, "ok": self.ok,
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
        if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
            raise EnvbuildError(f"{path}: not an envbuild check --json report of schema {REPORT_SCHEMA}")
        host = report.get("host", {}).get("hostname") or path.stem
        findings = report.get("findings", [])
        hosts.append((host, bool(report.get("ok")), sum(1 for f in findings if f.get("severity") == "error")))
        for finding in findings:
            key = json.dumps(finding, sort_keys=True)
            groups.setdefault(key, (finding, []))[1].append(host)
    ordered = sorted(groups.values(), key=lambda g: (-len(g[1]), g[0].get("kind", ""), g[0].get("name", "")))
    return ClusterView(hosts=tuple(sorted(hosts)), groups=tuple((f, tuple(sorted(h))) for f, h in ordered))
