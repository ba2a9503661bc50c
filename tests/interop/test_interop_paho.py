"""paho-mqtt (3.1.1 and 5.0) against the reference broker.

The smoke checks are paho-mqtt scenarios already (subscribe/publish/receive at QoS 0/1/2,
retained, will on abnormal close, malformed CONNECT refused); each runs here as its own test,
plus what the smoke run does not cover: QoS downgrade and mixed protocol versions.
"""

from __future__ import annotations

import pytest
from interop_support import Endpoint

from mqttsec.results import Outcome
from mqttsec.smoke import CHECKS, Check, SmokeContext, run_checks
from mqttsec.smoke_client import PahoClient

VERSIONS = ["3.1.1", "5.0"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_smoke_check(ref_broker: Endpoint, check: Check, version: str) -> None:
    ctx = SmokeContext(ref_broker.host, ref_broker.port, timeout=10)
    (result,) = run_checks(ctx, (check,), (version,))
    assert result.outcome is Outcome.PASS, result.detail


def _client(ref_broker: Endpoint, version: str, name: str) -> PahoClient:
    return PahoClient(ref_broker.host, ref_broker.port, version, name, timeout=10)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("pub_qos", "sub_qos"), [(2, 0), (2, 1), (1, 0), (0, 2)])
def test_delivery_qos_is_the_minimum(
    ref_broker: Endpoint, version: str, pub_qos: int, sub_qos: int
) -> None:
    client = _client(ref_broker, version, f"qos{pub_qos}{sub_qos}")
    try:
        client.connect()
        assert client.subscribe("interop/paho/qos", sub_qos) == sub_qos
        client.publish("interop/paho/qos", b"x", pub_qos)
        msg = client.expect_message("the message")
    finally:
        client.close()
    assert msg.qos == min(pub_qos, sub_qos)


@pytest.mark.parametrize(("pub_version", "sub_version"), [("3.1.1", "5.0"), ("5.0", "3.1.1")])
def test_mixed_versions(ref_broker: Endpoint, pub_version: str, sub_version: str) -> None:
    sub = _client(ref_broker, sub_version, "mixsub")
    pub = _client(ref_broker, pub_version, "mixpub")
    try:
        sub.connect()
        sub.subscribe("interop/paho/mixed/+", 2)
        pub.connect()
        for qos in (0, 1, 2):
            pub.publish(f"interop/paho/mixed/{qos}", f"m{qos}".encode(), qos)
        got = [sub.expect_message(f"message {i}") for i in range(3)]
    finally:
        pub.close()
        sub.close()
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        (f"interop/paho/mixed/{q}", f"m{q}".encode(), q) for q in (0, 1, 2)
    ]
