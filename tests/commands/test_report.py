"""`envbuild report` at cluster scale: a thousand node reports, host sets written as Slurm writes them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import envbuild

NUMPY = {"kind": "python", "name": "numpy", "status": "changed", "expected": "1.26.4", "found": "1.26.3",
         "severity": "error"}
EXTRA = {"kind": "python", "name": "debugpy", "status": "extra", "expected": None, "found": "1.8.0",
         "severity": "error"}


def cluster(directory: Path) -> list[str]:
    """1,000 node reports: numpy drifted on node[0000-0127,0140] (129), debugpy is extra on every 7th node (143):
    252 hosts drift."""
    directory.mkdir()
    for i in range(1000):
        host = f"node{i:04d}"
        findings = ([NUMPY] if i < 128 or i == 140 else []) + ([EXTRA] if i % 7 == 0 else [])
        (directory / f"{host}.json").write_text(json.dumps({
            "schema": 1, "ok": not findings, "lock": {"path": "envbuild.lock", "spec-hash": "sha256:x"},
            "host": {"hostname": host}, "findings": findings}))
    return sorted(str(p) for p in directory.iterdir())


def test_a_thousand_nodes_in_a_few_lines(tmp_path: Path) -> None:
    files = cluster(tmp_path / "reports")
    done = envbuild("report", *files, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    first, extra, numpy = done.stdout.splitlines()  # the finding of the most hosts first
    assert first.startswith("1000 hosts, 252 drifting: node[0000-0127,0133,0140,0147,") and first.endswith(
        " more hosts (--json lists them all)")
    assert numpy == ("  [error] python numpy: changed (expected 1.26.4, found 1.26.3) on 129: "
                     "node[0000-0127,0140]")
    assert extra.startswith("  [error] python debugpy: extra (found 1.8.0) on 143: node[0000,0007,0014,")
    assert extra.endswith(",0077] and 131 more hosts (--json lists them all)") and "None" not in done.stdout
    full = json.loads(envbuild("report", "--json", *files, cwd=tmp_path).stdout)
    assert [len(f["hosts"]) for f in full["findings"]] == [143, 129], "--json names every host"


def test_markdown_for_a_ci_summary(tmp_path: Path) -> None:
    files = cluster(tmp_path / "reports")
    done = envbuild("report", "--format", "markdown", *files, cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 1 and lines[0].startswith("**1000 hosts, 252 drifting**: `node[0000-0127,")
    assert lines[2:4] == ["| severity | kind | name | status | expected | found | hosts |",
                          "|---|---|---|---|---|---|---|"]
    assert lines[5] == "| error | python | numpy | changed | 1.26.4 | 1.26.3 | 129: `node[0000-0127,0140]` |"
    assert lines[4].startswith("| error | python | debugpy | extra | - | 1.8.0 | 143: `node[0000,0007,")
    assert lines[4].endswith(",0077]` and 131 more hosts (--json lists them all) |")
    clean = envbuild("report", "--format", "markdown", files[999], cwd=tmp_path)
    assert clean.returncode == 0 and clean.stdout == "**1 host, 0 drifting**\n"
