"""``mqttsec audit`` against a real broker: mosquitto as installed, with its default settings.

``mosquitto -p PORT`` without a configuration file is mosquitto 2's "local only mode":
loopback only, anonymous clients allowed, no ACL, $SYS published, no packet-size limit. The
audit must say exactly that.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import RunAudit

pytestmark = pytest.mark.mosquitto

START_TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def default_mosquitto(mosquitto_tools: dict[str, Path]) -> Iterator[int]:
    """mosquitto without a configuration file on a free port; yields the port."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(mosquitto_tools["mosquitto"]), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"mosquitto exited with {proc.returncode}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"mosquitto not listening on {port}"
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(START_TIMEOUT)


def test_default_mosquitto_is_reported_open(run_audit: RunAudit, default_mosquitto: int) -> None:
    started = time.monotonic()
    run = run_audit(f"mqtt://127.0.0.1:{default_mosquitto}")
    elapsed = time.monotonic() - started
    assert run.code == 1, run.out
    issues = run.issues()
    assert issues["AUTH-ANONYMOUS"] == "high"
    assert issues["TOPIC-WILDCARD"] == "high"
    assert run.row("MQTT-VERSIONS")["title"] == "Speaks MQTT 3.1, 3.1.1, 5.0"
    sys_row = run.row("TOPIC-SYS")
    assert sys_row["severity"] == "medium"
    assert "broker version 'mosquitto version" in sys_row["evidence"]
    assert issues["LIMIT-MAX-PACKET-SIZE"] == "low"  # mosquitto advertises none by default
    assert issues["LIMIT-LARGE-PUBLISH"] == "medium"
    assert issues["CLIENT-ID-TAKEOVER"] == "medium"
    assert elapsed < 5, f"the audit of mosquitto took {elapsed:.1f}s"
