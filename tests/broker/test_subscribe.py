"""End-to-end subscriptions: overlaps, identifiers, no-local, shared groups, invalid filters."""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import PeerClosed
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker
from mqttsec.reference_broker.protocol import (
    Disconnect,
    Properties,
    PropertyId,
    ProtocolVersion,
    Puback,
    Publish,
    QoS,
    ReasonCode,
    Subscription,
    Unsuback,
    Unsubscribe,
)

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
BOTH = pytest.mark.parametrize("version", [V311, V5], ids=["3.1.1", "5.0"])


@BOTH
def test_overlapping_subscriptions_deliver_once_with_max_qos(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.connect("c")
        c.subscribe(
            Subscription("a/+", QoS(0)), Subscription("a/#", QoS(1)), Subscription("#", QoS(0))
        )
        c.publish("a/b", b"x", 2, packet_id=1, await_ack=False)
        two = [c.recv(), c.recv()]  # the PUBREC and the delivery, in either order
        [got] = [p for p in two if isinstance(p, Publish)]
        assert got.qos == 1
        c.send(Puback(got.packet_id))  # type: ignore[arg-type]
        c.ping()
        assert not c.pending  # exactly one delivery [MQTT-3.3.5-1]


def test_v5_subscription_identifiers_all_included(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("c")
        c.subscribe("a/+", packet_id=1, properties=Properties.of(subscription_identifier=5), qos=2)
        c.subscribe("a/#", packet_id=2, properties=Properties.of(subscription_identifier=9), qos=2)
        c.subscribe("#", packet_id=3, qos=2)
        c.publish("a/b", b"x")
        got = c.expect(Publish)
        assert sorted(got.properties.get_all(PropertyId.SUBSCRIPTION_IDENTIFIER)) == [5, 9]  # type: ignore[type-var]


def test_v5_no_local(broker: BackgroundBroker) -> None:
    with (
        RawClient.plain(broker.host, broker.port, V5) as c,
        RawClient.plain(broker.host, broker.port, V5) as other,
    ):
        c.connect("c")
        other.connect("o")
        c.subscribe(Subscription("t", QoS(0), no_local=True))
        c.publish("t", b"own")
        other.publish("t", b"other")
        assert c.expect(Publish).payload == b"other"  # [MQTT-3.8.3-3]


@BOTH
def test_shared_subscription_round_robin(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with (
        RawClient.plain(broker.host, broker.port, version) as m1,
        RawClient.plain(broker.host, broker.port, version) as m2,
        RawClient.plain(broker.host, broker.port, version) as pub,
    ):
        m1.connect("m1")
        m2.connect("m2")
        pub.connect("pub")
        m1.subscribe(Subscription("$share/g/jobs/#", QoS(0)))
        m2.subscribe(Subscription("$share/g/jobs/#", QoS(0)))
        for i in range(4):
            pub.publish("jobs/x", str(i).encode())
        pub.ping()
        a = [m1.expect(Publish).payload for _ in range(2)]
        b = [m2.expect(Publish).payload for _ in range(2)]
        assert sorted(a + b) == [b"0", b"1", b"2", b"3"]
        m1.ping()
        m2.ping()
        assert not m1.pending and not m2.pending


def test_shared_subscription_no_local_is_protocol_error(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("c")
        body = b"\x00\x01\x00\x00\x0a$share/g/t\x04"  # SUBSCRIBE with no-local set
        c.send_bytes(bytes([0x82, len(body)]) + body)
        got = c.expect_closed()
    assert got == [Disconnect(ReasonCode.PROTOCOL_ERROR)] or (
        len(got) == 1 and getattr(got[0], "reason_code", 0) >= 0x80
    )


def test_dollar_topics_not_matched_by_leading_wildcards(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("c")
        c.subscribe("#", "+/info", packet_id=1, qos=2)
        c.subscribe("$app/#", packet_id=2, qos=2)  # $SYS itself is not writable by clients
        c.publish("$app/info", b"sys")
        got = c.expect(Publish)
        assert got.properties == Properties()
        c.publish("x/info", b"plain")
        assert c.expect(Publish).payload == b"plain"
        c.ping()
        assert not c.pending  # $app/info reached only the $app/# subscription [MQTT-4.7.2-1]


@BOTH
def test_unsubscribe(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.connect("c")
        c.subscribe("a", "b", qos=2)
        c.send(Unsubscribe(5, ("a", "nope")))
        unsuback = c.expect(Unsuback)
        assert unsuback.packet_id == 5
        if version is V5:
            assert unsuback.reason_codes == (ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED)
        c.publish("a", b"gone")
        c.publish("b", b"kept")
        assert c.expect(Publish).payload == b"kept"


@BOTH
def test_features_not_available_are_refused_in_suback(
    make_broker, version: ProtocolVersion
) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(wildcard_subscription_available=False, shared_subscription_available=False)
    with RawClient.plain(b.host, b.port, version) as c:
        c.connect("c")
        codes = c.subscribe("a/+", "$share/g/a", "a/b", qos=2).reason_codes
    if version is V5:
        assert codes == (
            ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
            ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
            ReasonCode.GRANTED_QOS_2,
        )
    else:
        assert codes == (
            ReasonCode.UNSPECIFIED_ERROR,
            ReasonCode.UNSPECIFIED_ERROR,
            ReasonCode.GRANTED_QOS_2,
        )


def test_subscription_identifiers_not_available(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(subscription_identifier_available=False)
    with RawClient.plain(b.host, b.port, V5) as c:
        c.connect("c")
        from mqttsec.reference_broker.protocol import Subscribe

        c.send(Subscribe(1, (Subscription("t"),), Properties.of(subscription_identifier=3)))
        assert c.expect_closed() == [Disconnect(ReasonCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)]


@BOTH
def test_invalid_filter_gets_failure_code(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with RawClient.plain(broker.host, broker.port, version) as c:
        c.connect("c")
        props = b"\x00" if version is V5 else b""
        body = b"\x00\x07" + props + b"\x00\x05a/#/b\x00" + b"\x00\x01t\x00"
        c.send_bytes(bytes([0x82, len(body)]) + body)
        try:
            first = [c.recv()]
        except PeerClosed:  # closed without a packet (3.1.1)
            first = []
        packets = (
            first
            if first and hasattr(first[0], "reason_codes")
            else first + (c.expect_closed() if first else [])
        )
    # The broker answers SUBACK 0x80 / 0x8F when an invalid filter reaches it; today the
    # codec's decoder already refuses the SUBSCRIBE as a protocol violation, which closes the
    # connection (with DISCONNECT 0x81/0x82 in 5.0) -- also allowed by [MQTT-4.8.0-1].
    failure = ReasonCode.TOPIC_FILTER_INVALID if version is V5 else ReasonCode.UNSPECIFIED_ERROR
    if packets and hasattr(packets[0], "reason_codes"):
        assert packets[0].reason_codes == (failure, ReasonCode.GRANTED_QOS_0)
    elif version is V5:
        assert [getattr(p, "reason_code", 0) for p in packets] in ([0x81], [0x82])
    else:
        assert packets == []
