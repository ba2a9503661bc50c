"""The result model of a scenario run and its ``results.json`` writer.

One row per (scenario id, target, MQTT version). The file is the one source a run leaves
behind: the CLI table, CI gating and the JUnit/Markdown/HTML renderers all read it. It shares
the ``mqttsec.results/1`` envelope with ``mqttsec smoke`` (:mod:`mqttsec.results`): the
``kind`` key says which row shape follows (``"smoke"`` or ``"scenarios"``).

Schema for ``kind = "scenarios"``::

    {
      "schema": "mqttsec.results/1",
      "tool": {"name": "mqttsec", "version": "0.1.0"},
      "kind": "scenarios",
      "profile": {"name": "default", "source": "<default profile>"},
      "targets": {"reference": {"version": "0.1.0", "capabilities": ["mqtt5", ...]}},
      "started": "...", "finished": "...",              # ISO 8601, UTC
      "summary": {"total": 2, "pass": 1, "fail": 0, "deviation": 1, ...},
      "results": [
        {"scenario": "ACL-SUB-WILDCARD-ESCALATION", "family": "acl", "severity": "high",
         "target": "reference", "mqtt_version": "5.0", "outcome": "pass",
         "spec": ["MQTT-3.8.4-6"], "detail": "", "duration_s": 0.012, "test": "nodeid"}
      ]
    }
"""

from __future__ import annotations

import enum
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA",
    "SEVERITIES",
    "Outcome",
    "RunMetadata",
    "ScenarioResult",
    "utc_now",
    "write_json_atomic",
    "write_results",
]

SCHEMA = "mqttsec.results/1"

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
"""The severities a scenario may declare, most severe first."""

_OUTCOME_RANK = {"fail": 4, "error": 3, "deviation": 2, "unsupported": 1, "pass": 0}


class Outcome(enum.StrEnum):
    """How one check ended (the design's five outcomes)."""

    PASS = "pass"
    FAIL = "fail"
    DEVIATION = "deviation"
    UNSUPPORTED = "unsupported"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Badness, for merging phases: fail > error > deviation > unsupported > pass."""
        return _OUTCOME_RANK[self.value]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC, as every timestamp in a results file is."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The outcome of one scenario against one target at one MQTT version.

    Attributes:
        scenario: the stable scenario id (the row of every report).
        family: the scenario family (``acl``, ``tls``, ...).
        severity: one of :data:`SEVERITIES`.
        target: the target spec (``"reference"``), empty when the test used none.
        mqtt_version: ``"3.1.1"`` or ``"5.0"``, empty when not about one version.
        outcome: how it ended.
        spec: normative statement ids (``MQTT-3.1.2-...``).
        detail: why, for anything but a plain pass (assertion text, skip reason, deviation).
        duration_s: seconds, setup to teardown.
        test: the pytest node id, so a row leads back to its code.
    """

    scenario: str
    family: str
    severity: str
    target: str
    mqtt_version: str
    outcome: Outcome
    spec: tuple[str, ...] = ()
    detail: str = ""
    duration_s: float = 0.0
    test: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """(scenario, target, mqtt_version): what makes a row unique."""
        return (self.scenario, self.target, self.mqtt_version)

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON object of the ``results`` list."""
        return {
            "scenario": self.scenario,
            "family": self.family,
            "severity": self.severity,
            "target": self.target,
            "mqtt_version": self.mqtt_version,
            "outcome": self.outcome.value,
            "spec": list(self.spec),
            "detail": self.detail,
            "duration_s": round(self.duration_s, 6),
            "test": self.test,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioResult:
        """The inverse of :meth:`to_json` (how xdist workers hand rows to the controller)."""
        return cls(
            scenario=str(data["scenario"]),
            family=str(data["family"]),
            severity=str(data["severity"]),
            target=str(data["target"]),
            mqtt_version=str(data["mqtt_version"]),
            outcome=Outcome(data["outcome"]),
            spec=tuple(str(s) for s in data.get("spec", ())),
            detail=str(data.get("detail", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            test=str(data.get("test", "")),
        )


@dataclass(slots=True)
class RunMetadata:
    """What a scenario run was about: the profile, the targets (with versions), the time."""

    profile: dict[str, str] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: datetime = field(default_factory=utc_now)
    finished: datetime | None = None


def summary(results: Iterable[ScenarioResult]) -> dict[str, int]:
    """Counts per outcome (every outcome present, zero when absent) and the total."""
    rows = list(results)
    counts = Counter(r.outcome for r in rows)
    out = {"total": len(rows)}
    out.update({o.value: counts.get(o, 0) for o in Outcome})
    return out


def results_document(results: Iterable[ScenarioResult], meta: RunMetadata) -> dict[str, Any]:
    """The whole run as the documented ``kind = "scenarios"`` object, rows sorted by key."""
    from mqttsec import __version__

    rows = sorted(results, key=lambda r: r.key)
    return {
        "schema": SCHEMA,
        "tool": {"name": "mqttsec", "version": __version__},
        "kind": "scenarios",
        "profile": dict(meta.profile),
        "targets": {k: dict(v) for k, v in sorted(meta.targets.items())},
        "started": meta.started.isoformat(),
        "finished": (meta.finished or utc_now()).isoformat(),
        "summary": summary(rows),
        "results": [r.to_json() for r in rows],
    }


def write_json_atomic(path: Path, document: Mapping[str, Any]) -> Path:
    """Write *document* as indented JSON to *path* via a temporary name and a rename, so a
    reader never sees half a file. Creates the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_results(report_dir: Path, results: Iterable[ScenarioResult], meta: RunMetadata) -> Path:
    """Write ``results.json`` for a scenario run into *report_dir*; returns its path."""
    return write_json_atomic(report_dir / "results.json", results_document(results, meta))
