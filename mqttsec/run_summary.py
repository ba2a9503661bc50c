"""What ``mqttsec run`` and ``mqttsec compare`` print after a run, and how a run's rows
decide its exit code.

Everything here reads the rows of ``results.json`` (the run's one source), never pytest's
own counts, so the terminal, the exit code and the reports cannot disagree.

The exit policy (documented in the README): *fail* and *error* rows fail a run; *deviation*
(the broker differs from the spec, nothing leaked) and *unsupported* (the target cannot do
what the scenario needs) are counted and listed but do not, unless ``--strict`` makes
deviations fail too. Unsupported never fails a run: it is a property of the target, and the
reference broker, which supports everything, must be able to exit 0.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from mqttsec.errors import MQTTSecError
from mqttsec.reports.results import Outcome, ScenarioResult

__all__ = [
    "OUTCOME_ORDER",
    "failing",
    "load_rows",
    "print_failures",
    "print_table",
    "unusable_targets",
]

OUTCOME_ORDER: tuple[Outcome, ...] = (
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.DEVIATION,
    Outcome.UNSUPPORTED,
)
"""Column order of the summary tables: the good, the bad, then the informative."""

_DETAIL_WIDTH = 110


def load_rows(path: Path) -> list[ScenarioResult]:
    """The scenario rows of the results file at *path*.

    Raises:
        MQTTSecError: the file is missing or is not a scenario results file.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [ScenarioResult.from_json(row) for row in document["results"]]
    except FileNotFoundError:
        raise MQTTSecError(f"the run wrote no {path} (see pytest's output above)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MQTTSecError(f"{path}: not a readable scenario results file ({exc})") from None


def failing(rows: Iterable[ScenarioResult], *, strict: bool) -> list[ScenarioResult]:
    """The rows that make a run fail: fail and error, and deviation when *strict*."""
    bad = {Outcome.FAIL, Outcome.ERROR} | ({Outcome.DEVIATION} if strict else set())
    return [r for r in rows if r.outcome in bad]


def unusable_targets(rows: Iterable[ScenarioResult]) -> dict[str, str]:
    """Targets on which every scenario was an error, with the first error's detail.

    That is a broker that would not start or cannot be reached (the plugin starts each target
    once per worker and fails each of its scenarios with the same error, which ends with the
    broker's log): the run could not happen, which is not a finding about the broker.
    """
    by_target: dict[str, list[ScenarioResult]] = {}
    for row in rows:
        by_target.setdefault(row.target, []).append(row)
    return {
        target: min(group, key=lambda r: r.key).detail
        for target, group in by_target.items()
        if target and all(r.outcome is Outcome.ERROR for r in group)
    }


def _table(out: TextIO, head: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in col) for col in zip(head, *lines, strict=True)]
    for index, line in enumerate([head, *lines]):
        cells = [
            cell.ljust(width) if col == 0 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
        if index == 0:
            print("  ".join("-" * width for width in widths), file=out)


def _counts(rows: Iterable[ScenarioResult]) -> list[str]:
    counter = Counter(r.outcome for r in rows)
    return [str(sum(counter.values()))] + [str(counter.get(o, 0)) for o in OUTCOME_ORDER]


def print_table(out: TextIO, rows: Sequence[ScenarioResult], *, by_family: bool) -> None:
    """Counts per outcome: one line per target, and with *by_family* one per target and
    family first (``mqttsec run``'s view; ``mqttsec compare`` shows targets only)."""
    head = ["TARGET", "TOTAL", *(o.value.upper() for o in OUTCOME_ORDER)]
    lines: list[list[str]] = []
    targets = sorted({r.target for r in rows})
    for target in targets:
        mine = [r for r in rows if r.target == target]
        if by_family:
            for family in sorted({r.family for r in mine}):
                label = f"{target} / {family}"
                lines.append([label, *_counts(r for r in mine if r.family == family)])
        lines.append([f"{target} (all)" if by_family else target, *_counts(mine)])
    if not lines:
        print("no scenario ran", file=out)
        return
    _table(out, head, lines)


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _DETAIL_WIDTH else first[: _DETAIL_WIDTH - 3] + "..."


def print_failures(out: TextIO, rows: Sequence[ScenarioResult], *, limit: int = 25) -> None:
    """List the fail, error and deviation rows (one line each) and the unsupported ones by
    reason, so nothing but a pass goes unmentioned."""
    order = {Outcome.FAIL: 0, Outcome.ERROR: 1, Outcome.DEVIATION: 2}
    listed = sorted(
        (r for r in rows if r.outcome in order), key=lambda r: (order[r.outcome], r.key)
    )
    if listed:
        print(file=out)
        for row in listed[:limit]:
            where = f"[{row.target} {row.mqtt_version}]".replace(" ]", "]")
            print(
                f"{row.outcome.value.upper():<9} {row.scenario} {where} {_one_line(row.detail)}",
                file=out,
            )
        if len(listed) > limit:
            print(f"... and {len(listed) - limit} more (see the reports)", file=out)
    unsupported = Counter(
        (r.target, _one_line(r.detail)) for r in rows if r.outcome is Outcome.UNSUPPORTED
    )
    if unsupported:
        print(file=out)
        shown = unsupported.most_common(8)
        for (target, reason), count in shown:
            print(f"UNSUPPORTED x{count} [{target}] {reason}", file=out)
        rest = sum(unsupported.values()) - sum(count for _, count in shown)
        if rest:
            print(f"UNSUPPORTED x{rest} for other reasons (see the reports)", file=out)
