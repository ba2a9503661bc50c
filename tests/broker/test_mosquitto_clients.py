"""mosquitto_pub / mosquitto_sub (3.1.1 and 5.0) against the reference broker.

Skipped when the clients are missing, except under CI=true (see the root conftest).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mqttsec.reference_broker import BackgroundBroker

pytestmark = pytest.mark.mosquitto


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_pub_sub_round_trip(
    broker: BackgroundBroker, version: str, mosquitto_tools: dict[str, Path]
) -> None:
    pub_bin = str(mosquitto_tools["mosquitto_pub"])
    sub_bin = str(mosquitto_tools["mosquitto_sub"])
    common = ["-h", broker.host, "-p", str(broker.port), "-V", version]
    # a retained message first, so the subscriber can prove it is subscribed
    subprocess.run(
        [pub_bin, *common, "-t", "m/ready", "-m", "ready", "-r", "-q", "1"],
        check=True,
        timeout=10,
    )
    sub = subprocess.Popen(
        [sub_bin, *common, "-t", "m/#", "-q", "2", "-C", "3", "-v", "-W", "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sub.stdout is not None
        assert sub.stdout.readline().strip() == "m/ready ready"
        for qos in ("1", "2"):
            subprocess.run(
                [pub_bin, *common, "-t", f"m/q{qos}", "-m", f"hi{qos}", "-q", qos],
                check=True,
                timeout=10,
            )
        out, _ = sub.communicate(timeout=10)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait(5)
    assert out.split("\n")[:2] == ["m/q1 hi1", "m/q2 hi2"]
    assert sub.returncode == 0
