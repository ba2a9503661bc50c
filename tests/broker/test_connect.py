"""End-to-end CONNECT handling over real sockets with the project's own codec."""

from __future__ import annotations

import socket
import time

import pytest

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Properties,
    PropertyId,
    ProtocolVersion,
    ReasonCode,
)

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
BOTH = pytest.mark.parametrize("version", [V311, V5], ids=["3.1.1", "5.0"])


@BOTH
def test_accept_and_ping(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        connack = c.connect("c1")
        assert connack.reason_code == 0 and not connack.session_present
        c.ping()


def test_v5_connack_properties(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_qos=1, receive_maximum=7, topic_alias_maximum=3, max_packet_size=4096)
    with RawClient.plain(b.host, b.port, V5) as c:
        props = c.connect("c1").properties
    assert props.get(PropertyId.RECEIVE_MAXIMUM) == 7
    assert props.get(PropertyId.MAXIMUM_QOS) == 1
    assert props.get(PropertyId.RETAIN_AVAILABLE) == 1
    assert props.get(PropertyId.TOPIC_ALIAS_MAXIMUM) == 3
    assert props.get(PropertyId.MAXIMUM_PACKET_SIZE) == 4096
    for pid in (
        PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE,
        PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        PropertyId.SHARED_SUBSCRIPTION_AVAILABLE,
    ):
        assert props.get(pid) == 1
    assert PropertyId.SERVER_KEEP_ALIVE not in props
    assert PropertyId.ASSIGNED_CLIENT_IDENTIFIER not in props


def test_v5_server_keep_alive_and_session_expiry_cap(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_keep_alive=5, max_session_expiry=100)
    with RawClient.plain(b.host, b.port, V5) as c:
        props = c.connect(
            "c1", keep_alive=60, properties=Properties.of(session_expiry_interval=1000)
        ).properties
    assert props.get(PropertyId.SERVER_KEEP_ALIVE) == 5
    assert props.get(PropertyId.SESSION_EXPIRY_INTERVAL) == 100


@pytest.mark.parametrize(
    ("level", "expected"), [(3, b"\x20\x02\x00\x01"), (6, b"\x20\x03\x00\x84\x00")]
)
def test_unsupported_protocol_level(broker: BackgroundBroker, level: int, expected: bytes) -> None:
    body = b"\x00\x04MQTT" + bytes([level]) + b"\x02\x00\x3c\x00\x01c"
    with socket.create_connection((broker.host, broker.port), timeout=5) as s:
        s.sendall(bytes([0x10, len(body)]) + body)
        data = b""
        while chunk := s.recv(100):
            data += chunk
    assert data == expected


def test_v311_empty_client_id_without_clean_session_is_rejected(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V311) as c:
        c.send(Connect(client_id="", protocol_version=V311, clean_start=False))
        c.parser.version = V311
        got = c.expect_closed()
    assert len(got) == 1 and isinstance(got[0], Connack)
    assert got[0].reason_code == ConnectReturnCode.IDENTIFIER_REJECTED  # [MQTT-3.1.3-8]


def test_v311_empty_client_id_with_clean_session_is_accepted(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V311) as c:
        assert c.connect("").reason_code == 0
        c.ping()


def test_v5_assigned_client_identifier(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        assigned = c.connect("").properties.get(PropertyId.ASSIGNED_CLIENT_IDENTIFIER)
    assert isinstance(assigned, str) and assigned


@BOTH
def test_first_packet_not_connect_closes(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.send_bytes(b"\xc0\x00")  # PINGREQ
        assert c.expect_closed() == []


@BOTH
def test_second_connect_is_a_protocol_error(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.connect("c1")
        c.send(Connect(client_id="c1", protocol_version=version))
        got = c.expect_closed()
    if version is V5:
        assert got == [Disconnect(ReasonCode.PROTOCOL_ERROR)]  # [MQTT-3.1.0-2]
    else:
        assert got == []


def test_connect_timeout(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(connect_timeout=0.2)
    start = time.monotonic()
    with socket.create_connection((b.host, b.port), timeout=5) as s:
        assert s.recv(10) == b""
    assert 0.15 < time.monotonic() - start < 3


@BOTH
def test_keep_alive_enforced_at_one_and_a_half(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.connect("ka", keep_alive=1)
        start = time.monotonic()
        got = c.expect_closed(timeout=5)
        elapsed = time.monotonic() - start
    assert 1.4 <= elapsed < 3.0  # [MQTT-3.1.2-24]
    assert got == ([Disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT)] if version is V5 else [])


@BOTH
def test_client_id_takeover(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with (
        RawClient.plain(broker.host, broker.port, version) as old,
        RawClient.plain(broker.host, broker.port, version) as new,
    ):
        old.connect("same")
        new.connect("same")
        got = old.expect_closed()
        new.ping()
    assert got == ([Disconnect(ReasonCode.SESSION_TAKEN_OVER)] if version is V5 else [])


def test_session_present_v311(broker: BackgroundBroker) -> None:
    for clean, present in ((False, False), (False, True), (True, False), (False, False)):
        with RawClient.plain(broker.host, broker.port, V311) as c:
            assert c.connect("p", clean=clean).session_present is present
            c.send(Disconnect())
            c.expect_closed()


def test_session_present_v5_depends_on_expiry(broker: BackgroundBroker) -> None:
    keep = Properties.of(session_expiry_interval=60)
    steps = [
        (True, keep, False),
        (False, keep, True),
        (False, Properties(), True),
        (False, keep, False),
    ]
    for clean, props, present in steps:
        with RawClient.plain(broker.host, broker.port, V5) as c:
            assert c.connect("p5", clean=clean, properties=props).session_present is present
            c.send(Disconnect())
            c.expect_closed()


def test_v5_enhanced_auth_not_enabled(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.send(
            Connect(client_id="a", properties=Properties.of(authentication_method="SCRAM-SHA-256"))
        )
        c.parser.version = V5
        got = c.expect_closed()
    assert [p.reason_code for p in got] == [ReasonCode.BAD_AUTHENTICATION_METHOD]  # type: ignore[union-attr]


def test_max_connections(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_connections=1)
    with RawClient.plain(b.host, b.port, V5) as one, RawClient.plain(b.host, b.port, V5) as two:
        one.connect("one")
        two.send(Connect(client_id="two"))
        two.parser.version = V5
        got = two.expect_closed()
        assert [p.reason_code for p in got] == [ReasonCode.SERVER_BUSY]  # type: ignore[union-attr]
        one.ping()


@BOTH
def test_garbage_after_connect_closes_only_that_client(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with (
        RawClient.plain(broker.host, broker.port, version) as bad,
        RawClient.plain(broker.host, broker.port, version) as good,
    ):
        bad.connect("bad")
        good.connect("good")
        bad.send_bytes(b"\x00\x00")  # reserved packet type 0
        got = bad.expect_closed()
        good.ping()
    if version is V5:
        assert len(got) == 1 and isinstance(got[0], Disconnect) and got[0].reason_code >= 0x80
    else:
        assert got == []


def test_malformed_v5_connect_gets_connack_with_reason(broker: BackgroundBroker) -> None:
    # CONNECT v5 with reserved flag bit 0 set [MQTT-3.1.2-3]
    body = b"\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x01c"
    with socket.create_connection((broker.host, broker.port), timeout=5) as s:
        s.sendall(bytes([0x10, len(body)]) + body)
        data = b""
        while chunk := s.recv(100):
            data += chunk
    assert data[:1] == b"\x20" and data[3] in (0x81, 0x82)


def test_stop_sends_server_shutting_down(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker()
    with RawClient.plain(b.host, b.port, V5) as c:
        c.connect("c")
        c.ping()
        b.stop()
        assert c.expect_closed() == [Disconnect(ReasonCode.SERVER_SHUTTING_DOWN)]


def test_pingreq_before_connect_is_refused_even_when_split(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V311) as c:
        c.send_bytes(b"\xc0")
        c.send_bytes(b"\x00")
        assert c.expect_closed() == []
