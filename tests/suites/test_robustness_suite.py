"""The robustness family (``mqttsec.suites.robustness``) run as users run it, in a
subprocess: every scenario passes against the reference broker, and none is a harness error
or unsupported against mosquitto (its fails there would be findings about mosquitto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_run import describe, run_family

SCENARIOS = {
    "ROB-CLIENT-CONNACK",
    "ROB-EMPTY-TOPIC",
    "ROB-INVALID-UTF8-TOPIC",
    "ROB-CONNECT-HEADER",
    "ROB-GARBAGE-BEFORE-CONNECT",
    "ROB-TRUNCATED-PACKET",
    "ROB-PACKET-TOO-LARGE",
}


def test_robustness_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.robustness", "reference", tmp_path, SCENARIOS)
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, describe(bad)
    assert all(r["family"] == "robustness" and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_robustness_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.robustness", "local:mosquitto", tmp_path, SCENARIOS)
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, describe(errors)
