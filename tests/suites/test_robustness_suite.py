"""The robustness family (``mqttsec.suites.robustness``) run as users run it, in a
subprocess: every scenario passes against the reference broker, and none is a harness error
or unsupported against mosquitto (its fails there would be findings about mosquitto)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = {
    "ROB-CLIENT-CONNACK",
    "ROB-EMPTY-TOPIC",
    "ROB-INVALID-UTF8-TOPIC",
    "ROB-CONNECT-HEADER",
    "ROB-GARBAGE-BEFORE-CONNECT",
    "ROB-TRUNCATED-PACKET",
    "ROB-PACKET-TOO-LARGE",
}


def _run_suite(target: str, workdir: Path) -> list[dict[str, Any]]:
    """Run the robustness family against *target*; the rows of its results.json."""
    report = workdir / "report"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "mqttsec.suites.robustness",
        f"--mqtt-target={target}",
        f"--mqtt-report-dir={report}",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=240, check=False
    )
    assert (report / "results.json").exists(), done.stdout + done.stderr
    rows: list[dict[str, Any]] = json.loads((report / "results.json").read_text())["results"]
    assert {(r["scenario"], r["mqtt_version"]) for r in rows} == {
        (s, v) for s in SCENARIOS for v in ("3.1.1", "5.0")
    }, done.stdout
    return rows


def _describe(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['scenario']} {r['mqtt_version']}: {r['outcome']} {r['detail']}" for r in rows
    )


def test_robustness_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = _run_suite("reference", tmp_path)
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, _describe(bad)
    assert all(r["family"] == "robustness" and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_robustness_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = _run_suite("local:mosquitto", tmp_path)
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, _describe(errors)
