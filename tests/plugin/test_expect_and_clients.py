"""The scenario clients and the sentinel helpers against a reference broker without ACL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mqttsec.fixtures.clients import MqttClient, PeerClosed
from mqttsec.fixtures.expect import SentinelLost, expect_delivered, expect_not_delivered
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.fixtures.targets import Endpoint
from mqttsec.reference_broker import BackgroundBroker
from mqttsec.reference_broker.protocol import Disconnect, Puback

VERSIONS = ["3.1.1", "5.0"]


def _plain(broker: BackgroundBroker) -> Endpoint:
    return Endpoint("plain", "plain", "127.0.0.1", broker.port)


@pytest.fixture
def clients(broker: BackgroundBroker) -> Any:
    made: list[MqttClient] = []

    def make(version: str, **kw: Any) -> MqttClient:
        client = MqttClient(_plain(broker), version, timeout=2.0, **kw)
        made.append(client)
        assert client.connect() == 0
        return client

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_expect_not_delivered_fails_on_a_leak(
    clients: Callable[..., MqttClient], version: str
) -> None:
    """Without an ACL everything is delivered, so the helper must report the leak."""
    sub, pub = clients(version), clients(version)
    assert sub.subscribe("secret/#", "public/#") == [1, 1]
    with pytest.raises(AssertionError, match="LEAK: the subscriber received b'top' on 'secret/x'"):
        expect_not_delivered(sub, pub, "secret/x", b"top", sentinel_topic="public/s")


@pytest.mark.parametrize("version", VERSIONS)
def test_expect_helpers_pass(clients: Callable[..., MqttClient], version: str) -> None:
    sub, pub = clients(version), clients(version)
    assert sub.subscribe("public/#") == [1]
    got = expect_delivered(sub, pub, "public/a", b"hello")
    assert got.payload == b"hello" and got.qos == 1
    # not subscribed to other/#: not delivered, proven by the sentinel
    result = expect_not_delivered(sub, pub, "other/x", b"nope", sentinel_topic="public/s")
    assert not result.publisher_closed and result.seen == ()


def test_sentinel_lost_is_not_a_pass(clients: Callable[..., MqttClient]) -> None:
    sub, pub = clients("5.0"), clients("5.0")
    sub.timeout = 0.3
    with pytest.raises(SentinelLost, match="proves nothing"):
        expect_not_delivered(
            sub, pub, "other/x", b"nope", sentinel_topic="unsubscribed/s", timeout=0.3
        )


def test_expect_delivered_reports_what_came(clients: Callable[..., MqttClient]) -> None:
    sub, pub = clients("3.1.1"), clients("3.1.1")
    sub.subscribe("public/#")
    with pytest.raises(AssertionError, match="NOT DELIVERED"):
        expect_delivered(sub, pub, "elsewhere/x", b"lost", timeout=0.3)


def test_connect_refusal_is_returned(make_broker: Callable[..., BackgroundBroker]) -> None:
    broker = make_broker(allow_anonymous=False)
    for version, refused in (("3.1.1", {4, 5}), ("5.0", {0x86, 0x87})):
        client = MqttClient(_plain(broker), version, timeout=2.0)
        assert client.connect() in refused
        client.close()


def test_connect_to_nothing_returns_none() -> None:
    client = MqttClient(Endpoint("plain", "plain", "127.0.0.1", 9), "5.0", timeout=1.0)
    assert client.connect() is None
    assert "refused" in client.refusal.lower() or client.refusal


@pytest.mark.parametrize("version", VERSIONS)
def test_raw_client_round_trip_and_malformed(broker: BackgroundBroker, version: str) -> None:
    with RawClient(_plain(broker), version, timeout=2.0) as raw:
        assert raw.connect("raw-a").reason_code == 0
        assert list(raw.subscribe("t/#").reason_codes) == [1]
        ack = raw.publish("t/1", b"x", qos=1, packet_id=7)
        assert isinstance(ack, Puback) and ack.packet_id == 7
        assert raw.next_message().payload == b"x"
        raw.ping()
        raw.send_bytes(b"\x30\xff\xff\xff\xff\x01")  # remaining length over four bytes
        packets = raw.expect_closed()
        assert all(isinstance(p, Disconnect) for p in packets)
        assert raw.closed_by_peer
        with pytest.raises(PeerClosed):
            raw.recv(0.5)
