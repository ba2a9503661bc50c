"""Markdown for a pull-request comment: the verdict, a summary per target, the findings with their
detail, and the scenario x target matrix folded away in ``<details>``.

Short by construction: each detail is cut to ``max_detail`` characters and the findings list to
``max_findings`` entries, so a large run still fits a PR comment (GitHub allows 65536 characters).
Detail text comes from brokers: it is escaped so that it cannot open HTML, links, emphasis,
tables or @-mentions in the comment.
"""

from __future__ import annotations

import re

from mqttsec.reports.loader import Report
from mqttsec.reports.matrix import (
    OUTCOME_ORDER,
    Matrix,
    build_matrix,
    findings,
    outcome_counts,
)
from mqttsec.reports.results import Outcome

__all__ = ["SYMBOLS", "render_markdown"]

SYMBOLS: dict[Outcome, str] = {
    Outcome.PASS: "✅",
    Outcome.FAIL: "❌",
    Outcome.ERROR: "💥",
    Outcome.DEVIATION: "⚠️",
    Outcome.UNSUPPORTED: "➖",
}
"""One symbol per outcome; the legend under the matrix spells them out."""

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BLOCK_START = re.compile(r"^(\s*)([=-]|[#+](?=\s|$)|\d+[.)](?=\s|$))")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_COMMENT_BUDGET = 60_000
"""Characters a rendered report aims to stay under (GitHub's comment limit is 65536)."""


def _escape(text: str) -> str:
    """*text* as literal Markdown on one line: HTML, markup, table pipes and mentions inert."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], " ".join(text.split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    # Not a heading or list: "# x" -> "\# x", "1. x" -> "1\. x".
    text = _BLOCK_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)
    return text.replace("@", "&#64;")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _code(text: str) -> str:
    """An inline code span for an id (ids have no backticks; any would be dropped)."""
    return f"`{text.replace('`', '')}`"


def _verdict(report: Report) -> str:
    counts = outcome_counts(report.results)
    bad = counts["fail"] + counts["error"]
    if not counts["total"]:
        return "⚪ no results"
    if bad:
        parts = [f"{counts[o]} {o}" for o in ("fail", "error") if counts[o]]
        return f"❌ {', '.join(parts)}"
    if counts["deviation"]:
        return f"⚠️ passed with {counts['deviation']} deviation(s)"
    return "✅ passed"


def _summary(report: Report) -> list[str]:
    head = "| Target | Version | Total | " + " | ".join(
        f"{SYMBOLS[o]} {o.value}" for o in OUTCOME_ORDER
    )
    lines = [head + " |", "|" + "---|" * (3 + len(OUTCOME_ORDER))]
    for target in report.target_names:
        counts = outcome_counts(r for r in report.results if r.target == target)
        version = str(report.targets.get(target, {}).get("version", "") or "–")
        cells = [_code(target or "(none)"), _escape(version), str(counts["total"])]
        cells += [
            f"**{counts[o.value]}**"
            if counts[o.value] and o in (Outcome.FAIL, Outcome.ERROR)
            else str(counts[o.value])
            for o in OUTCOME_ORDER
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _findings(report: Report, max_detail: int, max_findings: int) -> list[str]:
    found = findings(report)
    if not found:
        return []
    lines = ["", f"### Findings ({len(found)})", ""]
    for result in found[:max_findings]:
        version = f" MQTT {result.mqtt_version}" if result.mqtt_version else ""
        spec = f" · {', '.join(result.spec)}" if result.spec else ""
        detail = _escape(_cut(result.detail, max_detail)) if result.detail else "*(no detail)*"
        lines.append(
            f"- {SYMBOLS[result.outcome]} **{result.outcome.value.upper()}** "
            f"{_code(result.scenario)} on {_code(result.target or '(none)')}{version} "
            f"({result.family}, {result.severity}{spec})  \n  {detail}"
        )
    if len(found) > max_findings:
        lines.append(f"- … and {len(found) - max_findings} more (see report.html or junit.xml)")
    return lines


def _matrix(matrix: Matrix, budget: int) -> list[str]:
    """One line per scenario; a cell shows one symbol per MQTT version the scenario ran at.
    Rows stop (with a count of the rest) before the lines would exceed *budget* characters."""
    versions = matrix.versions
    by_scenario: dict[str, dict[str, dict[str, Outcome]]] = {}
    for row in matrix.rows:
        cells = by_scenario.setdefault(row.scenario, {})
        for target, cell in row.cells.items():
            cells.setdefault(target, {})[row.mqtt_version] = cell.outcome
    label = "/".join(v or "–" for v in versions)
    lines = [
        "",
        (
            f"<details><summary>Matrix: {len(by_scenario)} scenarios × {len(matrix.targets)} "
            f"target(s) (cells: MQTT {label})</summary>"
        ),
        "",
        "| Scenario | " + " | ".join(_code(t or "(none)") for t in matrix.targets) + " |",
        "|---|" + "---|" * len(matrix.targets),
    ]
    used = sum(len(line) + 1 for line in lines) + 200  # + the legend and closing tag
    for count, (scenario, cells) in enumerate(by_scenario.items()):
        line = [_code(scenario)]
        for target in matrix.targets:
            per_version = cells.get(target, {})
            line.append(
                " ".join(SYMBOLS[per_version[v]] if v in per_version else "·" for v in versions)
            )
        text = "| " + " | ".join(line) + " |"
        used += len(text) + 1
        if used > budget:
            lines.append(f"| … {len(by_scenario) - count} more | " + " | " * len(matrix.targets))
            break
        lines.append(text)
    legend = " · ".join(f"{SYMBOLS[o]} {o.value}" for o in OUTCOME_ORDER)
    lines += ["", f"{legend} · `·` not run", "", "</details>"]
    return lines


def render_markdown(report: Report, *, max_detail: int = 300, max_findings: int = 50) -> str:
    """The report as Markdown for a pull-request comment.

    Args:
        report: the loaded results.
        max_detail: characters of detail shown per finding (longer ones end in "…").
        max_findings: findings listed; the rest are counted.
    """
    meta = []
    if report.profile.get("name"):
        meta.append(f"profile {_code(report.profile['name'])}")
    if report.started is not None:
        meta.append(report.started.strftime("%Y-%m-%d %H:%M UTC"))
    if report.duration_s is not None:
        meta.append(f"{report.duration_s:.1f} s")
    meta.append(f"mqttsec {_escape(report.tool_version or '?')}")
    lines = [
        f"## mqttsec{' smoke' if report.kind == 'smoke' else ''}: {_verdict(report)}",
        "",
        " · ".join(meta),
        "",
        *_summary(report),
        *_findings(report, max_detail, max_findings),
    ]
    budget = _COMMENT_BUDGET - sum(len(line) + 1 for line in lines)
    lines += _matrix(build_matrix(report), budget)
    return "\n".join(lines) + "\n"
