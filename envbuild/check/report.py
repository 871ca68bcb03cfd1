"""The report of a check: JSON (schema 1, the contract in DESIGN.md), plain text, JUnit XML (a testcase per checked
item), and a rich table when there is drift to show on a terminal (rich loads only then)."""

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the check's path)
if TYPE_CHECKING:
    from typing import Any

    from envbuild.check.compare import Outcome
    from envbuild.check.shapes import Checked, Expected, Facts

SCHEMA = 1
COLUMNS = ("kind", "name", "status", "expected", "found", "severity")


def as_json(expected: "Expected", facts: "Facts", outcome: "Outcome", target: "Checked") -> "dict[str, Any]":
    release = facts.get("os") or {}
    interpreter = facts.get("interpreter") or {}
    return {
        "schema": SCHEMA,
        "ok": outcome.ok,
        "lock": {"path": expected["lock"], "spec-hash": expected["spec_hash"], "platform": expected["platform"]},
        "host": {"hostname": facts.get("hostname"),
                 "os": f"{release.get('id', '')} {release.get('version_id', '')}".strip() or None,
                 "python": interpreter.get("version"), "driver": (facts.get("nvidia") or {}).get("driver")},
        "checked": {"kind": target["kind"], "target": target["path"], "why": target["why"] or None,
                    "python": interpreter.get("executable"), "prefix": interpreter.get("prefix"),
                    "scope": target.get("scope", "host")},
        "findings": outcome.findings,
        **({"built": [{"wheel": b["wheel"], "sha256": b["sha256"]} for b in facts["built"]]}
           if facts.get("built") else {}),  # an image's wheels built from sdists (built.json beside its lock)
    }


def dumps(data: "Any") -> str:
    """``json.dumps(data, indent=2)`` for the report's plain data (dicts with str keys, lists, str, int, bool, None),
    without importing the json package: its import (and the ``re`` it needs) would cost a clean ``--json`` check
    a third of its time.  Strings are escaped by ``_json.encode_basestring_ascii``, the C function json.dumps
    itself uses; anything else, or a Python without ``_json``, goes to json.dumps.  Tested byte-equal to it."""
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # pragma: no cover - every CPython and PyPy has it
        pass
    else:
        out: list[str] = []
        if _emit(data, encode_basestring_ascii, out, "\n"):
            return "".join(out)
    import json

    return json.dumps(data, indent=2)


def _emit(value: "Any", quote: "Any", out: list[str], newline: str) -> bool:
    """Append VALUE as indented JSON to OUT; False for a value of another type (the caller uses json.dumps)."""
    if isinstance(value, str):
        out.append(quote(value))
    elif value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, (dict, list, tuple)):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        if not items:
            out.append(opening + closing)
            return True
        inner = newline + "  "
        out.append(opening)
        for position, (key, item) in enumerate(items):
            out.append(("," if position else "") + inner)
            if isinstance(value, dict):
                if not isinstance(key, str):
                    return False
                out.append(quote(key) + ": ")
            if not _emit(item, quote, out, inner):
                return False
        out.append(newline + closing)
    else:
        return False
    return True


def subject(report: "dict[str, Any]") -> str:
    """The report's first line: what was checked against which lock."""
    checked, host = report["checked"], report["host"]
    if checked["kind"] == "root":
        what = f"the root {checked['target']}"
    elif checked["kind"] == "image":
        what = f"the image {checked['target']}"
    else:
        what = f"{checked['prefix']} ({checked['python']}, Python {host['python']})"
    why = f" [{checked['why']}]" if checked.get("why") else ""
    scope = (", as envbuild sync made it (this host's apt packages and OS are its own: --scope host checks them)"
             if checked.get("scope") == "venv" else "")
    return f"Checked {what}{why} against {report['lock']['path']}{scope}"


def verdict(report: "dict[str, Any]", *, markup: bool = False, subject: "str | None" = None) -> str:
    """The one-line verdict: OK or DRIFT, with the counts; SUBJECT names what was checked (else the image checked
    with --image, else the host's name)."""
    findings = report["findings"]
    errors = sum(1 for f in findings if f["severity"] == "error")
    warnings = len(findings) - errors
    checked = report.get("checked") or {}
    host = subject or (f"the image {checked['target']}" if checked.get("kind") == "image" else None) or \
        report["host"].get("hostname") or "this environment"
    ok, drift = ("[green]OK[/green]", "[red]DRIFT[/red]") if markup else ("OK", "DRIFT")
    if report["ok"]:
        return (f"{ok}: {host} matches {report['lock']['path']}"
                + (f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""))
    return (f"{drift}: {host} departs from {report['lock']['path']} in {errors} item{'s' if errors != 1 else ''}"
            + (f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""))


def show(report: "dict[str, Any]", *, first_line: bool = True) -> None:
    """Print the report for a person: what was checked, the findings, the verdict.  A table (rich) on a terminal
    when there are findings; one tab-separated line per finding otherwise (logs, pipes, the plain checker)."""
    if first_line and "checked" in report:
        print(subject(report))
    findings = sorted(report["findings"], key=lambda f: (f["kind"], f["name"]))
    if findings and sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.markup import escape
            from rich.table import Table
        except ImportError:  # the stdlib checker inside an image
            pass
        else:
            table = Table(show_header=True, header_style="bold")
            for column in COLUMNS:
                table.add_column(column)
            for f in findings:
                table.add_row(*(escape(one_line(f[c])) if f[c] else "-" for c in COLUMNS),
                              style="red" if f["severity"] == "error" else "yellow")
            console = Console()
            console.print(table)
            console.print(verdict(report, markup=True))
            return
    print(plain(report))


def plain(report: "dict[str, Any]") -> str:
    """The findings, one tab-separated line each, and the verdict: the report in logs, pipes and pipeline steps."""
    findings = sorted(report["findings"], key=lambda f: (f["kind"], f["name"]))
    return "\n".join(["\t".join(one_line(f[c]) if f[c] else "-" for c in COLUMNS) for f in findings]
                     + [verdict(report)])


def one_line(text: str) -> str:
    """TEXT as one line of printable characters: a host's facts (a dist-info folder's name, a path) are not
    trusted, and a report line is read by scripts and by people.  What does not print is escaped (\\n, \\x1b)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def junit(report: "dict[str, Any]", checked: list[tuple[str, str]]) -> str:
    """One testcase per checked item; a finding of severity error is a failure, a warning is printed as skipped."""
    import xml.etree.ElementTree as ET

    by_item = {(f["kind"], f["name"]): f for f in report["findings"]}
    seen = set(checked)
    cases = list(checked) + [key for key in by_item if key not in seen]
    failures = sum(1 for key in cases if key in by_item and by_item[key]["severity"] == "error")
    suite = ET.Element("testsuite", name=f"envbuild check {report['host'].get('hostname') or ''}".strip(),
                       tests=str(len(cases)), failures=str(failures))
    for kind, name in cases:  # XML holds no control character: what does not print is escaped
        case = ET.SubElement(suite, "testcase", classname=f"envbuild.{kind}", name=one_line(name))
        f = by_item.get((kind, name))
        if f is not None:
            text = one_line(f"{f['status']}: expected {f['expected']}, found {f['found']}")
            ET.SubElement(case, "failure" if f["severity"] == "error" else "skipped", message=text).text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
