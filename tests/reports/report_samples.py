"""A synthetic multi-target results file with every outcome, written by the real writer.

(Shared by the tests in this folder; the fixtures using it are in conftest.py.)

Three targets; every outcome appears; one detail carries markup a browser would run, one carries
characters XML cannot hold, one is very long, and one scenario is checked by two tests (a cell
with two results).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from mqttsec.reports.results import Outcome, RunMetadata, ScenarioResult, write_results

SCRIPT = '<script>alert("pwned")</script>'
LEAK_DETAIL = f"LEAK: received {SCRIPT} & @admin | *bold* on 'a/#'"
CONTROL_DETAIL = "topic b'bad\x00\x1b[31m\ud800' not refused"
LONG_DETAIL = "NOT CLOSED " + "x" * 2000 + " END-OF-LONG-DETAIL"
TARGETS = ("local:amqtt", "local:mosquitto", "reference")


def _row(
    scenario: str,
    target: str,
    version: str,
    outcome: Outcome,
    detail: str = "",
    *,
    family: str = "acl",
    severity: str = "high",
    test: str = "",
) -> ScenarioResult:
    return ScenarioResult(
        scenario=scenario,
        family=family,
        severity=severity,
        target=target,
        mqtt_version=version,
        outcome=outcome,
        spec=("MQTT-4.7.1-1",) if family == "acl" else (),
        detail=detail,
        duration_s=0.125,
        test=test or f"suites/{family}/test_x.py::test_{scenario.lower()}[{target}-{version}]",
    )


def sample_rows() -> list[ScenarioResult]:
    """Rows of three targets covering every outcome (counts documented in EXPECTED)."""
    p, f, d, u, e = (
        Outcome.PASS,
        Outcome.FAIL,
        Outcome.DEVIATION,
        Outcome.UNSUPPORTED,
        Outcome.ERROR,
    )
    rows = []
    for version in ("3.1.1", "5.0"):
        rows += [
            _row("ACL-WILDCARD-ALL", "reference", version, p, severity="critical"),
            _row(
                "ACL-WILDCARD-ALL", "local:mosquitto", version, f, LEAK_DETAIL, severity="critical"
            ),
            _row("AUTH-EMPTY-PASSWORD", "reference", version, p, family="auth"),
            _row(
                "AUTH-EMPTY-PASSWORD",
                "local:mosquitto",
                version,
                d,
                "CONNACK 0x87 where the spec says 0x86",
                family="auth",
            ),
        ]
    rows += [
        _row("ACL-WILDCARD-ALL", "local:amqtt", "3.1.1", p, severity="critical"),
        _row(
            "ACL-WILDCARD-ALL",
            "local:amqtt",
            "5.0",
            u,
            "local:amqtt does not speak MQTT 5.0",
            severity="critical",
        ),
        _row(
            "AUTH-EMPTY-PASSWORD",
            "local:amqtt",
            "3.1.1",
            e,
            "call: ClientTimeout: no CONNACK",
            family="auth",
        ),
        _row(
            "ROB-BAD-TOPIC",
            "reference",
            "3.1.1",
            p,
            family="robustness",
            severity="medium",
            test="suites/robustness/test_t.py::test_bad[reference-3.1.1-nul]",
        ),
        _row(
            "ROB-BAD-TOPIC",
            "reference",
            "3.1.1",
            f,
            CONTROL_DETAIL,
            family="robustness",
            severity="medium",
            test="suites/robustness/test_t.py::test_bad[reference-3.1.1-ff]",
        ),
        _row(
            "TLS-OLD-VERSIONS",
            "local:mosquitto",
            "3.1.1",
            f,
            LONG_DETAIL,
            family="tls",
            severity="low",
        ),
    ]
    return rows


#: Per target: counts per outcome in sample_rows().
EXPECTED = {
    "reference": {"total": 6, "pass": 5, "fail": 1, "deviation": 0, "unsupported": 0, "error": 0},
    "local:mosquitto": {
        "total": 5,
        "pass": 0,
        "fail": 3,
        "deviation": 2,
        "unsupported": 0,
        "error": 0,
    },
    "local:amqtt": {"total": 3, "pass": 1, "fail": 0, "deviation": 0, "unsupported": 1, "error": 1},
}


def write_sample(report_dir: Path, rows: Iterable[ScenarioResult] | None = None) -> Path:
    """Write a results.json of *rows* (default :func:`sample_rows`) into *report_dir*."""
    meta = RunMetadata(
        profile={"name": "ci-profile", "source": "profiles/ci.toml"},
        targets={
            "reference": {"version": "0.1.0", "capabilities": ["mqtt5", "acl"]},
            "local:mosquitto": {"version": "2.0.11", "capabilities": ["mqtt5"]},
            "local:amqtt": {"version": "0.12.1", "capabilities": []},
        },
        started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        finished=datetime(2026, 1, 2, 3, 4, 17, tzinfo=UTC),
    )
    return write_results(report_dir, sample_rows() if rows is None else rows, meta)
