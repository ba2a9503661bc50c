"""One self-contained HTML page: the scenario x target matrix, filterable, with each cell's detail.

Self-contained means it opens from ``file://`` with no network: CSS and JavaScript are inlined from
the package's ``templates/`` folder, no fonts, images or scripts are fetched. The page is rendered
with Jinja2 with autoescaping on, because scenario details are text from brokers: any markup in
them must show as text, never run. Data the script needs travels in ``data-*`` attributes (escaped
by Jinja) and is put on the page with ``textContent`` only.

Filters (family, severity, outcome, free text) live in the URL fragment, e.g.
``report.html#outcome=fail,error&family=acl``, so a filtered view can be linked to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mqttsec.reports.loader import Report
from mqttsec.reports.matrix import OUTCOME_ORDER, Cell, build_matrix, outcome_counts
from mqttsec.reports.results import Outcome

if TYPE_CHECKING:
    import jinja2

__all__ = ["OUTCOME_STYLE", "render_html"]


@dataclass(frozen=True, slots=True)
class _Style:
    """How an outcome looks: a symbol and a word besides the colour, for colour-blind readers."""

    symbol: str
    label: str
    meaning: str


OUTCOME_STYLE: dict[Outcome, _Style] = {
    Outcome.FAIL: _Style("✗", "fail", "security property violated"),
    Outcome.ERROR: _Style("!", "error", "the harness could not decide"),
    Outcome.DEVIATION: _Style("▲", "deviation", "differs from the spec, nothing leaked"),
    Outcome.UNSUPPORTED: _Style("⊘", "n/a", "target lacks a needed capability"),
    Outcome.PASS: _Style("✓", "pass", "behaved as required"),
}
"""Symbol, short label and meaning per outcome (the legend shows all three)."""

_TITLE_MAX = 300


def _short(text: str, limit: int = _TITLE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell_view(target: str, cell: Cell | None) -> dict[str, Any]:
    if cell is None:
        return {"target": target, "outcome": "none", "symbol": "·", "label": "", "ran": False}
    style = OUTCOME_STYLE[cell.outcome]
    tests = [r.test for r in cell.results if r.test]
    return {
        "target": target,
        "ran": True,
        "outcome": cell.outcome.value,
        "symbol": style.symbol,
        "label": style.label,
        "detail": cell.detail,
        "title": f"{target}: {cell.outcome.value}"
        + (f" — {_short(cell.detail)}" if cell.detail else ""),
        "duration": f"{cell.duration_s * 1000:.0f} ms",
        "tests": "\n".join(tests),
        "count": len(cell.results),
    }


def _context(report: Report) -> dict[str, Any]:
    """Everything the template shows, computed here so the template only lays it out."""
    matrix = build_matrix(report)
    targets = []
    for name in matrix.targets:
        info = report.targets.get(name, {})
        counts = outcome_counts(r for r in report.results if r.target == name)
        total = counts["total"] or 1
        targets.append(
            {
                "name": name or "(none)",
                "version": str(info.get("version", "") or ""),
                "capabilities": [str(c) for c in info.get("capabilities", []) or []],
                "extra": {
                    str(k): str(v)
                    for k, v in info.items()
                    if k not in ("version", "capabilities") and v not in (None, "", [])
                },
                "counts": counts,
                "bar": [
                    (o.value, counts[o.value] * 100 / total)
                    for o in OUTCOME_ORDER
                    if counts[o.value]
                ],
            }
        )
    rows = [
        {
            "scenario": row.scenario,
            "family": row.family,
            "severity": row.severity,
            "version": row.mqtt_version,
            "spec": " ".join(row.spec),
            "outcomes": " ".join(sorted({c.outcome.value for c in row.cells.values()})),
            "cells": [_cell_view(t, row.cells.get(t)) for t in matrix.targets],
        }
        for row in matrix.rows
    ]
    totals = outcome_counts(report.results)
    bad = totals["fail"] + totals["error"]
    if not totals["total"]:
        verdict = ("none", "no results")
    elif bad:
        parts = [f"{totals['fail']} failed"] if totals["fail"] else []
        parts += [f"{totals['error']} error(s)"] if totals["error"] else []
        verdict = ("fail", ", ".join(parts))
    elif totals["deviation"]:
        verdict = ("deviation", f"passed, {totals['deviation']} deviation(s)")
    else:
        verdict = ("pass", "passed")
    duration = report.duration_s
    return {
        "report": report,
        "title": "mqttsec smoke report" if report.kind == "smoke" else "mqttsec security report",
        "verdict": verdict,
        "totals": totals,
        "targets": targets,
        "rows": rows,
        "families": [(f, sum(r.family == f for r in matrix.rows)) for f in matrix.families],
        "severities": [(s, sum(r.severity == s for r in matrix.rows)) for s in matrix.severities],
        "outcomes": [(o.value, OUTCOME_STYLE[o], totals[o.value]) for o in OUTCOME_ORDER],
        "started": report.started.strftime("%Y-%m-%d %H:%M:%S UTC") if report.started else "",
        "duration": f"{duration:.1f} s" if duration is not None else "",
        "scenario_count": len({r.scenario for r in matrix.rows}),
    }


@functools.cache
def _template() -> jinja2.Template:
    """The page template, loaded and compiled once per process."""
    import jinja2  # imported here: only HTML rendering needs it, not loading the package

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mqttsec.reports", "templates"),
        autoescape=True,  # every value is escaped: details are untrusted broker text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    return _template().render(_context(report))
