"""The results file of a run: what was checked, against what, and how each check came out.

This module holds the smoke row shape (``kind = "smoke"``); the shared envelope, :class:`Outcome`
and the scenario rows live in :mod:`mqttsec.reports.results`. ``results.json`` is the one source
a run leaves behind; a person reads the table the CLI prints, CI gates on the exit code, and
later renderers (JUnit XML, Markdown, HTML) read this file.

Schema (``schema`` = ``"mqttsec.results/1"``)::

    {
      "schema": "mqttsec.results/1",
      "tool": {"name": "mqttsec", "version": "0.1.0"},
      "kind": "smoke",                        # what produced the file
      "target": {"name": "reference", "host": "127.0.0.1", "port": 1883},
      "started": "2026-01-01T12:00:00.000000+00:00",   # ISO 8601, UTC
      "finished": "2026-01-01T12:00:01.500000+00:00",
      "summary": {"total": 14, "pass": 14, "fail": 0, "error": 0, ...},
      "results": [
        {"id": "SMOKE-PUBSUB-QOS1", "name": "subscribe, publish and receive at QoS 1",
         "version": "5.0", "outcome": "pass", "detail": "", "duration": 0.012}
      ]
    }

``outcome`` is one of :class:`Outcome`; ``duration`` is in seconds; ``version`` is the MQTT
protocol version the check spoke ("3.1.1" or "5.0"), empty for a row that is not about one
version (e.g. ``SMOKE-BROKER-HEALTH``). ``summary`` has every outcome as a key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mqttsec import __version__
from mqttsec.reports.results import SCHEMA, Outcome, utc_now, write_json_atomic

__all__ = ["SCHEMA", "CheckResult", "Outcome", "RunResults", "Target", "utc_now"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check at one protocol version."""

    id: str
    name: str
    version: str
    outcome: Outcome
    detail: str = ""
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The check as the JSON object of the ``results`` list."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "duration": round(self.duration, 6),
        }


@dataclass(frozen=True, slots=True)
class Target:
    """The broker a run was pointed at."""

    name: str
    host: str
    port: int

    def to_json(self) -> dict[str, Any]:
        """The target as the JSON object of the ``target`` key."""
        return {"name": self.name, "host": self.host, "port": self.port}


@dataclass(slots=True)
class RunResults:
    """Everything one run produced; collected while it runs, written once at the end."""

    kind: str
    target: Target
    started: datetime = field(default_factory=utc_now)
    finished: datetime | None = None
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when there was at least one check and every check passed."""
        return bool(self.results) and all(r.outcome is Outcome.PASS for r in self.results)

    def summary(self) -> dict[str, int]:
        """Counts per outcome (every outcome present, zero when absent) and the total."""
        counts = Counter(r.outcome for r in self.results)
        out = {"total": len(self.results)}
        out.update({o.value: counts.get(o, 0) for o in Outcome})
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole run as the documented ``mqttsec.results/1`` object."""
        finished = self.finished or utc_now()
        return {
            "schema": SCHEMA,
            "tool": {"name": "mqttsec", "version": __version__},
            "kind": self.kind,
            "target": self.target.to_json(),
            "started": self.started.isoformat(),
            "finished": finished.isoformat(),
            "summary": self.summary(),
            "results": [r.to_json() for r in self.results],
        }

    def write(self, report_dir: Path) -> Path:
        """Write ``results.json`` into ``report_dir`` (created if needed), atomically.

        Written to a temporary name and renamed, so a reader never sees half a file.

        Returns:
            The path of the written file.
        """
        return write_json_atomic(report_dir / "results.json", self.to_json())
