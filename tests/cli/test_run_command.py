"""``mqttsec run`` and ``mqttsec compare`` as users run them, in a subprocess: a small
selection passes on the reference broker (exit 0, results.json and reports written), an open
broker fails it (exit 1), a comparison has rows for every target, and bad input, a broker
that will not start or an empty selection end with exit 2 and one error message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mqttsec.reference_broker.background import BackgroundBroker
from mqttsec.reference_broker.config import BrokerConfig

#: One scenario from each of two families: a quick, real selection.
SELECTION = "AUTH-ANONYMOUS-REFUSED or ACL-WILDCARD-ALL"


def mqttsec(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mqttsec ARGS`` in *cwd* (bounded in time)."""
    return subprocess.run(
        [sys.executable, "-m", "mqttsec", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def results(report_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((report_dir / "results.json").read_text())["results"]
    return rows


@pytest.fixture
def open_broker() -> Iterator[str]:
    """A reference broker that lets everyone in: the target spec of it as an endpoint."""
    broker = BackgroundBroker(BrokerConfig(host="127.0.0.1", port=0, allow_anonymous=True))
    broker.start()
    try:
        yield f"endpoint:mqtt://127.0.0.1:{broker.port}"
    finally:
        broker.stop()


def test_run_passes_on_the_reference_broker_and_writes_the_reports(tmp_path: Path) -> None:
    done = mqttsec(tmp_path, "run", "-k", SELECTION, "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    report = tmp_path / "mqttsec-report"  # the default --report-dir
    rows = results(report)
    assert {r["scenario"] for r in rows} == {"AUTH-ANONYMOUS-REFUSED", "ACL-WILDCARD-ALL"}
    assert {(r["target"], r["outcome"]) for r in rows} == {("reference", "pass")}
    assert len(rows) == 4  # both MQTT versions
    assert "reference (all)" in done.stdout and "PASSED: 4 results" in done.stdout
    for name in ("junit.xml", "report.md", "report.html"):
        assert (report / name).is_file(), f"{name} missing: {done.stdout}"


def test_run_fails_on_a_broker_that_lets_everyone_in(tmp_path: Path, open_broker: str) -> None:
    done = mqttsec(
        tmp_path, "run", "--target", open_broker, "-k", "AUTH-ANONYMOUS-REFUSED",
        "--workers", "0", "--report-dir", "out",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    rows = results(tmp_path / "out")
    assert [r["outcome"] for r in rows] == ["fail", "fail"]
    assert f"FAIL      AUTH-ANONYMOUS-REFUSED [{open_broker} 3.1.1]" in done.stdout
    assert "FAILED: 2 failing result(s)" in done.stdout


def test_compare_has_rows_for_every_target(tmp_path: Path, open_broker: str) -> None:
    """One worker and two targets: each target's scenarios are grouped on a worker
    (``--dist loadgroup``), and the rows' node ids come back without xdist's group suffix."""
    done = mqttsec(
        tmp_path, "compare", "--target", "reference", "--target", open_broker,
        "-k", "AUTH-ANONYMOUS-REFUSED", "--workers", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr  # a comparison does not gate
    rows = results(tmp_path / "mqttsec-compare")
    outcome = {(r["target"], r["mqtt_version"]): r["outcome"] for r in rows}
    assert outcome == {
        ("reference", "3.1.1"): "pass",
        ("reference", "5.0"): "pass",
        (open_broker, "3.1.1"): "fail",
        (open_broker, "5.0"): "fail",
    }
    assert not [r["test"] for r in rows if "@" in r["test"]]
    assert "2 of 2 scenario/version rows differ between targets" in done.stdout
    assert (tmp_path / "mqttsec-compare" / "report.html").is_file()


def test_a_broker_that_will_not_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    """A mosquitto that refuses to start (a stand-in found through MQTTSEC_MOSQUITTO_BIN):
    exit 2, and the message carries the broker's own output."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mosquitto"
    fake.write_text(
        '#!/bin/sh\nif [ "$1" = "-h" ]; then echo "mosquitto version 9.9.9"; exit 3; fi\n'
        'echo "Error: broken configuration, says the stand-in" >&2\nexit 3\n'
    )
    fake.chmod(0o755)
    env = {**os.environ, "MQTTSEC_MOSQUITTO_BIN": str(bin_dir)}
    done = mqttsec(
        tmp_path, "run", "--target", "local:mosquitto", "-k", "AUTH-ANONYMOUS-REFUSED",
        "--workers", "0", env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "mqttsec: error: local:mosquitto: could not be used" in done.stderr
    assert "broken configuration, says the stand-in" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_selection_without_scenarios_is_an_error(tmp_path: Path) -> None:
    done = mqttsec(tmp_path, "run", "--family", "auth", "-k", "NO-SUCH-SCENARIO", "--workers", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().endswith("no scenario matched the selection; check -k / --family")
