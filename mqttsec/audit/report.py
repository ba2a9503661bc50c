"""The audit's outputs: a plain-text table for people and ``results.json`` for machines.

``results.json`` shares the ``mqttsec.results/1`` envelope of every mqttsec run
(:mod:`mqttsec.reports.results`); ``kind = "audit"`` says which row shape follows::

    {
      "schema": "mqttsec.results/1",
      "tool": {"name": "mqttsec", "version": "0.1.0"},
      "kind": "audit",
      "target": {"name": "endpoint", "url": "mqtts://broker:8883", "host": "broker",
                 "port": 8883, "tls": true},
      "identity": "anonymous",             # who the logged-in checks ran as ("" if nobody)
      "mqtt_versions": ["3.1", "3.1.1", "5.0"],
      "tls_verified": true,                # null for mqtt:// or --skip tls
      "started": "...", "finished": "...", # ISO 8601, UTC
      "summary": {"total": 15, "pass": 9, "fail": 5, "deviation": 0, "unsupported": 1,
                  "error": 0},
      "severities": {"critical": 0, "high": 2, "medium": 2, "low": 1, "info": 0},
      "exit_code": 1,
      "results": [
        {"id": "AUTH-ANONYMOUS", "severity": "high", "title": "Anonymous clients can connect",
         "outcome": "fail", "evidence": "MQTT 5.0 (anonymous): CONNACK 0x00 (success); ...",
         "fix": "refuse clients without credentials: ...", "duration_s": 0.004}
      ]
    }

``outcome`` is ``fail`` for a weakness, ``pass`` for a good answer, ``unsupported`` for a
check that could not run (the evidence says why) and ``error`` for a probe that broke.
``severities`` counts the ``fail`` rows only; ``exit_code`` is 1 when one of them is high or
critical. Rows keep the order the probes ran in.
"""

from __future__ import annotations

import shutil
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from mqttsec import __version__
from mqttsec.reports.results import SCHEMA, Outcome, utc_now, write_json_atomic

from .findings import Finding, Severity, exit_code, severity_counts
from .runner import AuditReport

__all__ = ["audit_document", "print_header", "print_row", "print_summary", "write_report"]


def audit_document(report: AuditReport) -> dict[str, Any]:
    """The whole audit as the documented ``kind = "audit"`` object."""
    target = report.target
    counts = Counter(f.outcome for f in report.findings)
    summary = {"total": len(report.findings)}
    summary.update({o.value: counts.get(o, 0) for o in Outcome})
    return {
        "schema": SCHEMA,
        "tool": {"name": "mqttsec", "version": __version__},
        "kind": "audit",
        "target": {
            "name": "endpoint",
            "url": target.url,
            "host": target.host,
            "port": target.port,
            "tls": target.tls,
        },
        "identity": report.identity,
        "mqtt_versions": list(report.versions),
        "tls_verified": report.tls_verified,
        "started": report.started.isoformat(),
        "finished": (report.finished or utc_now()).isoformat(),
        "summary": summary,
        "severities": severity_counts(report.findings),
        "exit_code": exit_code(report.findings),
        "results": [f.to_json() for f in report.findings],
    }


def write_report(report: AuditReport, path: Path) -> Path:
    """Write the JSON document to *path* atomically (parents created); returns the path."""
    return write_json_atomic(path, audit_document(report))


_COLUMNS = (("SEVERITY", 9), ("RESULT", 7), ("CHECK", 22))
_INDENT = sum(width + 1 for _, width in _COLUMNS)


def _width() -> int:
    return max(60, min(120, shutil.get_terminal_size((100, 24)).columns))


def print_header(out: TextIO, url: str) -> None:
    """The title line and the column heads."""
    print(f"mqttsec {__version__} audit of {url}", file=out)
    head = " ".join(name.ljust(width) for name, width in _COLUMNS) + " TITLE"
    print(head, file=out)
    print("-" * min(_width(), 100), file=out)


def print_row(out: TextIO, finding: Finding) -> None:
    """One row: severity, result, id and title; evidence (and the fix of a weakness) wrapped
    below it."""
    result = {
        Outcome.FAIL: "FAIL",
        Outcome.PASS: "ok",
        Outcome.UNSUPPORTED: "n/t",
        Outcome.ERROR: "ERROR",
    }.get(finding.outcome, finding.outcome.value)
    severity = finding.severity.value if finding.is_issue else "-"
    cells = (severity, result, finding.id)
    line = " ".join(cell.ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))
    print(f"{line} {finding.title}", file=out)
    pad = " " * _INDENT
    wrap = max(40, _width() - _INDENT)
    for label, text in (("evidence", finding.evidence), ("fix", finding.fix)):
        if not text or (label == "fix" and not finding.is_issue):
            continue
        for part in textwrap.wrap(f"{label}: {text}", wrap, break_on_hyphens=False):
            print(pad + part, file=out)
    out.flush()


def print_summary(out: TextIO, report: AuditReport, written: list[Path]) -> None:
    """The verdict: weaknesses per severity, the worst first, where the JSON went."""
    findings = report.findings
    counts = severity_counts(findings)
    issues = sorted((f for f in findings if f.is_issue), key=lambda f: -f.severity.rank)
    print(file=out)
    if issues:
        worst = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        print(f"{len(issues)} finding(s): {worst}", file=out)
        for f in issues:
            print(f"  [{f.severity.value}] {f.id}: {f.title}", file=out)
    else:
        print("no findings", file=out)
    untested = [f.id for f in findings if f.outcome is Outcome.UNSUPPORTED]
    errors = [f.id for f in findings if f.outcome is Outcome.ERROR]
    if untested:
        print(f"not tested: {', '.join(untested)}", file=out)
    if errors:
        print(f"probe errors: {', '.join(errors)}", file=out)
    if report.identity:
        print(f"logged-in checks ran as: {report.identity}", file=out)
    for path in written:
        print(f"results: {path}", file=out)
    code = exit_code(findings)
    gate = f"{Severity.HIGH.value} or {Severity.CRITICAL.value}"
    print(
        f"exit {code}: {'a ' + gate + ' finding' if code else 'no ' + gate + ' finding'}", file=out
    )
