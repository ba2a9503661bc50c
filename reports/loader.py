"""Read a ``results.json`` into a :class:`Report` every renderer can trust, or say exactly why not.

The renderers never look at raw JSON: this module checks the envelope (``schema``, ``kind``) and
every row, and turns a problem into a :class:`ReportError` naming the file, the key (e.g.
``results[12].outcome``) and the fix. Both row shapes of the ``mqttsec.results/1`` envelope load:
``kind = "scenarios"`` (:mod:`mqttsec.reports.results`) as is, and ``kind = "smoke"``
(:mod:`mqttsec.results`) mapped onto scenario rows of the family ``smoke`` so that the same
reports show a smoke run too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mqttsec.errors import MQTTSecError
from mqttsec.reports.results import SCHEMA, SEVERITIES, Outcome, ScenarioResult

__all__ = ["KINDS", "Report", "ReportError", "load_results", "report_from_document"]

KINDS: tuple[str, ...] = ("scenarios", "smoke")
"""The ``kind`` values a results file may have."""

_OUTCOMES = ", ".join(o.value for o in Outcome)
_REGENERATE = "re-create it with `mqttsec run --report-dir DIR` (writes DIR/results.json)"


class ReportError(MQTTSecError):
    """A results file cannot be rendered: the message names the file, the key and the fix.

    Attributes:
        source: the results file (or ``<document>`` for an in-memory one).
        key: where in the file, e.g. ``results[3].outcome``; empty for the whole file.
        problem: what is wrong.
        fix: what to do about it.
    """

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}; {fix}")
        self.source = source
        self.key = key
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True, slots=True)
class Report:
    """One run's results, validated: what every renderer reads.

    Attributes:
        source: where it was read from (shown in reports and errors).
        kind: ``"scenarios"`` or ``"smoke"`` (:data:`KINDS`).
        tool_version: the mqttsec version that wrote the file.
        profile: the security profile's ``name`` and ``source``.
        targets: per target name, what the run recorded about it (``version``, ...).
        started: when the run started (UTC), None if the file does not say.
        finished: when it finished (UTC), None if the file does not say.
        results: every row, in file order.
    """

    source: str
    kind: str
    tool_version: str
    profile: Mapping[str, str]
    targets: Mapping[str, Mapping[str, Any]]
    started: datetime | None
    finished: datetime | None
    results: tuple[ScenarioResult, ...] = field(default=())

    @property
    def target_names(self) -> tuple[str, ...]:
        """The targets in the order the file lists them, then any only named by a row."""
        names = list(self.targets)
        for row in self.results:
            if row.target not in names:
                names.append(row.target)
        return tuple(names)

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds of the run, None when a timestamp is missing."""
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


def load_results(path: Path) -> Report:
    """Read and validate the results file at *path*.

    Raises:
        ReportError: the file is missing, not JSON, or not a ``mqttsec.results/1`` file that
            this version understands; the message names the key and the fix.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            source, "", "no such file", f"give the path of a results.json; {_REGENERATE}"
        ) from None
    except IsADirectoryError:
        raise ReportError(source, "", "is a directory", "give the results.json inside it") from None
    except OSError as exc:
        raise ReportError(
            source,
            "",
            f"cannot read it ({exc.strerror or exc})",
            "check the path and its permissions",
        ) from None
    except UnicodeDecodeError as exc:
        raise ReportError(
            source, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})", _REGENERATE
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            source,
            f"line {exc.lineno} column {exc.colno}",
            f"not valid JSON ({exc.msg})",
            _REGENERATE,
        ) from None
    return report_from_document(document, source)


def report_from_document(document: Any, source: str = "<document>") -> Report:
    """Validate an already parsed results document (see :func:`load_results`)."""
    check = _Checker(source)
    if not isinstance(document, dict):
        raise check.error("", f"top level is {_type(document)}, not an object", _REGENERATE)
    schema = document.get("schema")
    if schema != SCHEMA:
        raise check.error(
            "schema",
            f"is {schema!r}, expected {SCHEMA!r}",
            "this mqttsec reads only results files of that schema; " + _REGENERATE,
        )
    kind = document.get("kind")
    if kind not in KINDS:
        raise check.error("kind", f"is {kind!r}", f"expected one of {', '.join(KINDS)}")
    tool = check.mapping(document, "tool", required=False)
    rows = document.get("results")
    if not isinstance(rows, list):
        raise check.error("results", f"is {_type(rows)}, expected a list of rows", _REGENERATE)
    if kind == "smoke":
        target = check.mapping(document, "target", required=False)
        name = str(target.get("name") or "broker")
        results = tuple(check.smoke_row(i, row, name) for i, row in enumerate(rows))
        targets: dict[str, dict[str, Any]] = {
            name: {k: v for k, v in target.items() if k != "name"}
        }
        profile: dict[str, str] = {}
    else:
        results = tuple(check.scenario_row(i, row) for i, row in enumerate(rows))
        raw_targets = check.mapping(document, "targets", required=False)
        targets = {str(k): check.mapping(raw_targets, k, prefix="targets.") for k in raw_targets}
        profile = {str(k): str(v) for k, v in check.mapping(document, "profile", False).items()}
    return Report(
        source=source,
        kind=kind,
        tool_version=str(tool.get("version", "")),
        profile=profile,
        targets=targets,
        started=check.timestamp(document, "started"),
        finished=check.timestamp(document, "finished"),
        results=results,
    )


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Checker:
    """Field checks that raise :class:`ReportError` with the key of the bad value."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str, fix: str) -> ReportError:
        return ReportError(self.source, key, problem, fix)

    def mapping(
        self, parent: Mapping[str, Any], key: str, required: bool = True, prefix: str = ""
    ) -> dict[str, Any]:
        value = parent.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.error(prefix + key, f"is {_type(value)}, expected an object", _REGENERATE)
        return value

    def timestamp(self, document: Mapping[str, Any], key: str) -> datetime | None:
        value = document.get(key)
        if value is None:
            return None
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            raise self.error(
                key,
                f"{value!r} is not an ISO 8601 time",
                "write e.g. 2026-01-01T12:00:00+00:00 or remove the key",
            ) from None

    def text(self, row: Mapping[str, Any], where: str, key: str, required: bool = True) -> str:
        value = row.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            missing = "is missing" if key not in row else f"is {_type(value)}, expected a string"
            raise self.error(f"{where}.{key}", missing, _REGENERATE)
        # A lone surrogate (JSON "\ud800", e.g. from a broker's bytes) cannot be written as
        # UTF-8: show it as an escape so every report can be written and printed.
        return value.encode("utf-8", "backslashreplace").decode("utf-8")

    def row_common(self, index: int, row: Any) -> tuple[str, Outcome]:
        where = f"results[{index}]"
        if not isinstance(row, dict):
            raise self.error(where, f"is {_type(row)}, expected an object", _REGENERATE)
        raw = row.get("outcome")
        try:
            outcome = Outcome(str(raw))
        except ValueError:
            raise self.error(
                f"{where}.outcome", f"{raw!r} is not an outcome", f"use one of {_OUTCOMES}"
            ) from None
        return where, outcome

    def duration(self, row: Mapping[str, Any], where: str, key: str) -> float:
        value = row.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(
                f"{where}.{key}",
                f"{value!r} is not a number of seconds >= 0",
                "write seconds as a number, e.g. 0.012",
            )
        return float(value)

    def scenario_row(self, index: int, row: Any) -> ScenarioResult:
        where, outcome = self.row_common(index, row)
        severity = self.text(row, where, "severity")
        if severity not in SEVERITIES:
            raise self.error(
                f"{where}.severity",
                f"{severity!r} is not a severity",
                f"use one of {', '.join(SEVERITIES)}",
            )
        spec = row.get("spec", [])
        if not isinstance(spec, list) or not all(isinstance(s, str) for s in spec):
            raise self.error(
                f"{where}.spec",
                f"is {_type(spec)}, expected a list of strings",
                'write statement ids, e.g. ["MQTT-3.1.2-1"]',
            )
        scenario = self.text(row, where, "scenario")
        if not scenario:
            raise self.error(f"{where}.scenario", "is empty", "give the scenario's stable id")
        return ScenarioResult(
            scenario=scenario,
            family=self.text(row, where, "family"),
            severity=severity,
            target=self.text(row, where, "target"),
            mqtt_version=self.text(row, where, "mqtt_version"),
            outcome=outcome,
            spec=tuple(spec),
            detail=self.text(row, where, "detail", required=False),
            duration_s=self.duration(row, where, "duration_s"),
            test=self.text(row, where, "test", required=False),
        )

    def smoke_row(self, index: int, row: Any, target: str) -> ScenarioResult:
        """A smoke check as a scenario row: family ``smoke``, severity ``info`` (a smoke check
        is about basic function, not a security property), its name in ``test``."""
        where, outcome = self.row_common(index, row)
        check_id = self.text(row, where, "id")
        if not check_id:
            raise self.error(f"{where}.id", "is empty", "give the check's id")
        return ScenarioResult(
            scenario=check_id,
            family="smoke",
            severity="info",
            target=target,
            mqtt_version=self.text(row, where, "version", required=False),
            outcome=outcome,
            detail=self.text(row, where, "detail", required=False),
            duration_s=self.duration(row, where, "duration"),
            test=self.text(row, where, "name", required=False),
        )
