"""The amqtt client (amqtt_pub / amqtt_sub from .venv-amqtt) against the reference broker.

amqtt speaks MQTT 3.1.1 only. Readiness is read from amqtt_sub's debug log ("SubackPacket").
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from interop_support import ClientProcess, Endpoint

pytestmark = pytest.mark.amqtt

Run = Callable[..., subprocess.CompletedProcess[str]]
#: amqtt starts slowly (a Python process with plugins); bound each step generously.
WAIT = 20.0


def _topic(name: str) -> str:
    return f"interop/amqtt/{secrets.token_hex(4)}/{name}"


def _url(broker: Endpoint) -> str:
    return broker.url


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_subscribe(
    amqtt_tools: dict[str, Path],
    ref_broker: Endpoint,
    spawn: type[ClientProcess],
    run_client: Run,
    qos: int,
) -> None:
    topic, payload = _topic(f"qos{qos}"), f"hello-amqtt-qos{qos}"
    sub = spawn(
        [
            amqtt_tools["amqtt_sub"],
            "--url",
            _url(ref_broker),
            "-t",
            topic,
            "-q",
            str(qos),
            "-n",
            "1",
            "-d",
        ]
    )
    sub.wait_for("SubackPacket", WAIT)
    run_client(
        [
            amqtt_tools["amqtt_pub"],
            "--url",
            _url(ref_broker),
            "-t",
            topic,
            "-q",
            str(qos),
            "-m",
            payload,
        ],
        timeout=WAIT,
    )
    sub.wait_for(payload, WAIT)
    assert sub.finish(WAIT) == 0


def test_retained(
    amqtt_tools: dict[str, Path], ref_broker: Endpoint, spawn: type[ClientProcess], run_client: Run
) -> None:
    topic = _topic("retained")
    run_client(
        [
            amqtt_tools["amqtt_pub"],
            "--url",
            _url(ref_broker),
            "-t",
            topic,
            "-q",
            "1",
            "-r",
            "-m",
            "kept-for-amqtt",
        ],
        timeout=WAIT,
    )
    sub = spawn(
        [amqtt_tools["amqtt_sub"], "--url", _url(ref_broker), "-t", topic, "-q", "1", "-n", "1"]
    )
    sub.wait_for("kept-for-amqtt", WAIT)
    assert sub.finish(WAIT) == 0


def test_will_on_abnormal_close(
    amqtt_tools: dict[str, Path], ref_broker: Endpoint, spawn: type[ClientProcess]
) -> None:
    will_topic = _topic("will")
    watcher = spawn(
        [
            amqtt_tools["amqtt_sub"],
            "--url",
            _url(ref_broker),
            "-t",
            will_topic,
            "-q",
            "1",
            "-n",
            "1",
            "-d",
        ]
    )
    watcher.wait_for("SubackPacket", WAIT)
    doomed = spawn(
        [
            amqtt_tools["amqtt_sub"],
            "--url",
            _url(ref_broker),
            "-t",
            _topic("idle"),
            "--will-topic",
            will_topic,
            "--will-message",
            "amqtt-gone",
            "--will-qos",
            "1",
            "-d",
        ]
    )
    doomed.wait_for("SubackPacket", WAIT)
    doomed.kill()  # SIGKILL: no DISCONNECT reaches the broker
    watcher.wait_for("amqtt-gone", WAIT)
    assert watcher.finish(WAIT) == 0
