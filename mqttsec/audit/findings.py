"""The finding model of ``mqttsec audit``: one row per check, with severity, evidence and fix.

Every check the audit runs leaves exactly one row per question it answers, also when the
answer is good (outcome ``pass``, severity ``info``) and when it could not be asked (outcome
``unsupported``, "not tested", with the reason): a check that did not run is never shown as
passed. Only rows with outcome ``fail`` are findings in the narrow sense; their severity
decides the exit code (:func:`exit_code`).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mqttsec.reports.results import SEVERITIES, Outcome

__all__ = ["Finding", "Severity", "exit_code", "severity_counts"]


class Severity(enum.StrEnum):
    """How bad a finding is; the order is the one of :data:`SEVERITIES` (worst first)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """4 for critical down to 0 for info (for sorting, worst first)."""
        return len(SEVERITIES) - 1 - SEVERITIES.index(self.value)

    @property
    def gates(self) -> bool:
        """True for the severities that make the audit exit 1 (high and critical)."""
        return self.rank >= Severity.HIGH.rank


@dataclass(frozen=True, slots=True)
class Finding:
    """The answer to one audit question.

    Attributes:
        id: stable identifier (``AUTH-ANONYMOUS``); the row of the table and of results.json.
        severity: how bad it is; ``info`` for good answers and for checks not run.
        title: one line saying what was found (``Anonymous clients can connect``).
        outcome: ``fail`` (a weakness), ``pass`` (checked, fine), ``unsupported`` (not tested,
            *evidence* says why) or ``error`` (the probe itself failed unexpectedly).
        evidence: what the broker answered, concretely enough to reproduce it.
        fix: what to change, naming the setting in common brokers where there is one.
        duration: seconds the probe took.
    """

    id: str
    severity: Severity
    title: str
    outcome: Outcome
    evidence: str
    fix: str = ""
    duration: float = 0.0

    @classmethod
    def issue(cls, id: str, severity: Severity, title: str, evidence: str, fix: str) -> Finding:
        """A weakness (outcome ``fail``)."""
        return cls(id, severity, title, Outcome.FAIL, evidence, fix)

    @classmethod
    def ok(cls, id: str, title: str, evidence: str) -> Finding:
        """A question answered well (outcome ``pass``, severity ``info``)."""
        return cls(id, Severity.INFO, title, Outcome.PASS, evidence)

    @classmethod
    def note(cls, id: str, title: str, evidence: str, fix: str = "") -> Finding:
        """Something worth knowing that is not a weakness (``pass``, ``info``)."""
        return cls(id, Severity.INFO, title, Outcome.PASS, evidence, fix)

    @classmethod
    def not_tested(cls, id: str, title: str, reason: str) -> Finding:
        """A question the audit could not ask (outcome ``unsupported``); *reason* says why."""
        return cls(id, Severity.INFO, title, Outcome.UNSUPPORTED, reason)

    @classmethod
    def error(cls, id: str, title: str, exc: BaseException) -> Finding:
        """The probe failed in a way it did not expect (harness trouble, not a verdict)."""
        return cls(id, Severity.INFO, title, Outcome.ERROR, f"{type(exc).__name__}: {exc}")

    def timed(self, duration: float) -> Finding:
        """The same finding with its probe's duration."""
        return Finding(
            self.id, self.severity, self.title, self.outcome, self.evidence, self.fix, duration
        )

    @property
    def is_issue(self) -> bool:
        """True for a weakness (outcome ``fail``)."""
        return self.outcome is Outcome.FAIL

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON object of the ``results`` list (see :mod:`.report`)."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "outcome": self.outcome.value,
            "evidence": self.evidence,
            "fix": self.fix,
            "duration_s": round(self.duration, 6),
        }


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Weaknesses (outcome ``fail``) per severity, every severity present."""
    counts = Counter(f.severity for f in findings if f.is_issue)
    return {s.value: counts.get(s, 0) for s in Severity}


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when any weakness is high or critical, 0 otherwise (the audit's CI gate)."""
    return 1 if any(f.is_issue and f.severity.gates for f in findings) else 0
