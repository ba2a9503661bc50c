"""mosquitto_pub / mosquitto_sub (Debian's mosquitto-clients) against the reference broker.

Readiness is read from the clients' own debug output (``-d``: "received SUBACK"), never
guessed with a sleep.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from interop_support import ClientProcess, Endpoint

pytestmark = pytest.mark.mosquitto

VERSIONS = ["mqttv311", "mqttv5"]
Run = Callable[..., subprocess.CompletedProcess[str]]


def _topic(name: str) -> str:
    return f"interop/mosquitto/{secrets.token_hex(4)}/{name}"


def _base(tools: dict[str, Path], tool: str, broker: Endpoint, version: str) -> list[str]:
    return [str(tools[tool]), "-h", broker.host, "-p", str(broker.port), "-V", version]


@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("version", VERSIONS)
def test_publish_subscribe(
    mosquitto_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    run_client: Run,
    version: str,
    qos: int,
) -> None:
    topic, payload = _topic(f"qos{qos}"), f"hello qos{qos}"
    sub = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-d",
            "-v",
            "-t",
            topic,
            "-q",
            str(qos),
            "-C",
            "1",
            "-W",
            "10",
        ]
    )
    granted = sub.wait_for("Subscribed (mid: 1):")
    assert granted.rsplit(":", 1)[1].strip() == str(qos)
    run_client(
        [
            *_base(mosquitto_tools, "mosquitto_pub", ref_broker, version),
            "-t",
            topic,
            "-m",
            payload,
            "-q",
            str(qos),
        ]
    )
    delivered = sub.wait_for("received PUBLISH")
    assert f", q{qos}," in delivered, delivered
    sub.wait_for(f"{topic} {payload}")
    assert sub.finish() == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_retained(
    mosquitto_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    run_client: Run,
    version: str,
) -> None:
    topic = _topic("retained")
    pub = _base(mosquitto_tools, "mosquitto_pub", ref_broker, version)
    run_client([*pub, "-t", topic, "-m", "kept", "-q", "1", "-r"])
    sub = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-d",
            "-v",
            "-t",
            topic,
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "10",
        ]
    )
    assert re.search(r"r1, m\d+", sub.wait_for("received PUBLISH")), "retain flag not set"
    sub.wait_for(f"{topic} kept")
    assert sub.finish() == 0
    # An empty retained message clears it: a new subscriber then gets nothing (-W 1 times out
    # with exit 27 and no message; the sentinel-free wait is bounded by -W itself).
    run_client([*pub, "-t", topic, "-r", "-n", "-q", "1"])
    empty = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-v",
            "-t",
            topic,
            "-C",
            "1",
            "-W",
            "1",
        ]
    )
    assert empty.finish() == 27
    assert f"{topic} kept" not in empty.output()


@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_abnormal_close(
    mosquitto_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    version: str,
) -> None:
    will_topic = _topic("will")
    watcher = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-d",
            "-v",
            "-t",
            will_topic,
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "10",
        ]
    )
    watcher.wait_for("received SUBACK")
    doomed = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-d",
            "-t",
            _topic("idle"),
            "--will-topic",
            will_topic,
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ]
    )
    doomed.wait_for("received SUBACK")
    doomed.kill()  # SIGKILL: no DISCONNECT reaches the broker
    watcher.wait_for(f"{will_topic} gone")
    assert watcher.finish() == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_no_will_on_clean_disconnect(
    mosquitto_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    run_client: Run,
    version: str,
) -> None:
    """A will must be discarded on DISCONNECT; proven with a sentinel, not a sleep."""
    will_topic = _topic("will")
    watcher = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, version),
            "-v",
            "-d",
            "-t",
            will_topic,
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "10",
        ]
    )
    watcher.wait_for("received SUBACK")
    run_client(
        [
            *_base(mosquitto_tools, "mosquitto_pub", ref_broker, version),
            "-t",
            _topic("other"),
            "-m",
            "x",
            "--will-topic",
            will_topic,
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ]
    )
    run_client(
        [
            *_base(mosquitto_tools, "mosquitto_pub", ref_broker, version),
            "-t",
            will_topic,
            "-m",
            "sentinel",
            "-q",
            "1",
        ]
    )
    watcher.wait_for(f"{will_topic} sentinel")
    assert watcher.finish() == 0
    assert f"{will_topic} gone" not in watcher.output()


def test_v5_publisher_to_v311_subscriber(
    mosquitto_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    run_client: Run,
) -> None:
    topic = _topic("cross")
    sub = spawn(
        [
            *_base(mosquitto_tools, "mosquitto_sub", ref_broker, "mqttv311"),
            "-d",
            "-v",
            "-t",
            topic,
            "-q",
            "2",
            "-C",
            "1",
            "-W",
            "10",
        ]
    )
    sub.wait_for("received SUBACK")
    run_client(
        [
            *_base(mosquitto_tools, "mosquitto_pub", ref_broker, "mqttv5"),
            "-t",
            topic,
            "-m",
            "across",
            "-q",
            "2",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ]
    )
    sub.wait_for(f"{topic} across")
    assert sub.finish() == 0
