"""The scenario x target matrix every human-facing report shows, built once from a :class:`Report`.

A row is one scenario at one MQTT version; a column is one target; a cell holds every result
for that (scenario, version, target): usually one, several when one scenario id is checked by
more than one test (parametrized probes). A cell's outcome is the worst of its results, so a
single failing probe is never hidden behind a passing one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mqttsec.reports.loader import Report
from mqttsec.reports.results import SEVERITIES, Outcome, ScenarioResult

__all__ = [
    "OUTCOME_ORDER",
    "Cell",
    "Matrix",
    "Row",
    "build_matrix",
    "findings",
    "outcome_counts",
    "severity_rank",
]

OUTCOME_ORDER: tuple[Outcome, ...] = (
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.DEVIATION,
    Outcome.UNSUPPORTED,
    Outcome.PASS,
)
"""Outcomes, worst first: the order of every legend, summary and findings list."""


def severity_rank(severity: str) -> int:
    """0 for the most severe; unknown severities sort last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def outcome_counts(results: Iterable[ScenarioResult]) -> dict[str, int]:
    """``total`` and a count for every outcome (zero when absent)."""
    rows = list(results)
    counts = Counter(r.outcome for r in rows)
    out = {"total": len(rows)}
    out.update({o.value: counts.get(o, 0) for o in OUTCOME_ORDER})
    return out


@dataclass(frozen=True, slots=True)
class Cell:
    """Every result of one scenario at one version on one target (never empty)."""

    results: tuple[ScenarioResult, ...]

    @property
    def outcome(self) -> Outcome:
        """The worst outcome of the results."""
        return max((r.outcome for r in self.results), key=lambda o: o.rank)

    @property
    def detail(self) -> str:
        """The details of the results that have one, one per line (prefixed by the test id
        when the cell holds several results)."""
        if len(self.results) == 1:
            return self.results[0].detail
        lines = [
            f"{r.test or r.scenario}: {r.outcome.value}: {r.detail}".rstrip(": ")
            for r in self.results
            if r.detail or r.outcome is not Outcome.PASS
        ]
        return "\n".join(lines)

    @property
    def duration_s(self) -> float:
        """Seconds of all the results together."""
        return sum(r.duration_s for r in self.results)


@dataclass(frozen=True, slots=True)
class Row:
    """One scenario at one MQTT version across the targets."""

    scenario: str
    family: str
    severity: str
    mqtt_version: str
    spec: tuple[str, ...]
    cells: Mapping[str, Cell]

    @property
    def worst(self) -> Outcome:
        """The worst outcome over the targets that ran it."""
        return max((c.outcome for c in self.cells.values()), key=lambda o: o.rank)


@dataclass(frozen=True, slots=True)
class Matrix:
    """Rows (by family, scenario id, version) by targets (in the report's order)."""

    targets: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def families(self) -> tuple[str, ...]:
        """The families present, in row order."""
        return tuple(dict.fromkeys(r.family for r in self.rows))

    @property
    def severities(self) -> tuple[str, ...]:
        """The severities present, most severe first."""
        return tuple(sorted({r.severity for r in self.rows}, key=severity_rank))

    @property
    def versions(self) -> tuple[str, ...]:
        """The MQTT versions present, in order."""
        return tuple(sorted({r.mqtt_version for r in self.rows}))


def build_matrix(report: Report) -> Matrix:
    """Group the report's results into the matrix."""
    grouped: dict[tuple[str, str], dict[str, list[ScenarioResult]]] = {}
    first: dict[tuple[str, str], ScenarioResult] = {}
    for result in report.results:
        key = (result.scenario, result.mqtt_version)
        first.setdefault(key, result)
        grouped.setdefault(key, {}).setdefault(result.target, []).append(result)
    rows = []
    for key, by_target in grouped.items():
        head = first[key]
        spec = tuple(dict.fromkeys(s for rs in by_target.values() for r in rs for s in r.spec))
        rows.append(
            Row(
                scenario=head.scenario,
                family=head.family,
                severity=head.severity,
                mqtt_version=head.mqtt_version,
                spec=spec,
                cells={t: Cell(tuple(rs)) for t, rs in by_target.items()},
            )
        )
    rows.sort(key=lambda r: (r.family, r.scenario, r.mqtt_version))
    return Matrix(targets=report.target_names, rows=tuple(rows))


def findings(report: Report) -> list[ScenarioResult]:
    """Every result that is not a pass or unsupported: fail, error, deviation, worst first,
    then most severe first, then by scenario, target and version."""
    order = {o: i for i, o in enumerate(OUTCOME_ORDER)}
    wanted = (Outcome.FAIL, Outcome.ERROR, Outcome.DEVIATION)
    return sorted(
        (r for r in report.results if r.outcome in wanted),
        key=lambda r: (order[r.outcome], severity_rank(r.severity), r.key),
    )
