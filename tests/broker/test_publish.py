"""End-to-end PUBLISH flows: QoS 0/1/2 both ways, retained, expiry, aliases, limits."""

from __future__ import annotations

import pytest

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker
from mqttsec.reference_broker.protocol import (
    Disconnect,
    Properties,
    PropertyId,
    ProtocolVersion,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    QoS,
    ReasonCode,
    Subscription,
)

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
BOTH = pytest.mark.parametrize("version", [V311, V5], ids=["3.1.1", "5.0"])


def pair(b: BackgroundBroker, version: ProtocolVersion) -> tuple[RawClient, RawClient]:
    sub = RawClient.plain(b.host, b.port, version)
    pub = RawClient.plain(b.host, b.port, version)
    sub.connect("sub")
    pub.connect("pub")
    return sub, pub


@BOTH
@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_qos_matrix(
    broker: BackgroundBroker, version: ProtocolVersion, pub_qos: int, sub_qos: int
) -> None:
    sub, pub = pair(broker, version)
    with sub, pub:
        sub.subscribe(Subscription("t/#", QoS(sub_qos)))
        pub.publish("t/1", b"hello", pub_qos, packet_id=9, await_ack=False)
        if pub_qos == 1:
            assert pub.expect(Puback).packet_id == 9
        elif pub_qos == 2:
            assert pub.expect(Pubrec).packet_id == 9
            pub.send(Pubrel(9))
            assert pub.expect(Pubcomp).packet_id == 9
        got = sub.expect(Publish)
        assert (got.topic, got.payload, got.qos, got.retain) == (
            "t/1",
            b"hello",
            min(pub_qos, sub_qos),
            False,
        )
        if got.qos == 1:
            assert got.packet_id is not None
            sub.send(Puback(got.packet_id))
        elif got.qos == 2:
            assert got.packet_id is not None
            sub.send(Pubrec(got.packet_id))
            assert sub.expect(Pubrel).packet_id == got.packet_id
            sub.send(Pubcomp(got.packet_id))
        sub.ping()
        state = broker.call(lambda: broker.core.sessions.get("sub").describe())  # type: ignore[union-attr]
        assert state["inflight"] == 0


@BOTH
def test_qos2_duplicate_is_not_redistributed(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    sub, pub = pair(broker, version)
    with sub, pub:
        sub.subscribe(Subscription("t", QoS(0)))
        pub.publish("t", b"once", 2, packet_id=7, await_ack=False)
        pub.expect(Pubrec)
        pub.publish("t", b"once", 2, packet_id=7, dup=True, await_ack=False)
        pub.expect(Pubrec)
        pub.send(Pubrel(7))
        pub.expect(Pubcomp)
        pub.publish("t", b"sentinel")
        assert sub.expect(Publish).payload == b"once"
        assert sub.expect(Publish).payload == b"sentinel"


@BOTH
def test_retained_messages(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with RawClient.plain(broker.host, broker.port, version) as pub:
        pub.connect("pub")
        pub.publish("r/a", b"A", 1, retain=True, packet_id=1, await_ack=False)
        pub.expect(Puback)
        pub.publish("r/b", b"B", 0, retain=True)
        pub.publish("r/b", b"", 0, retain=True)  # deletes [MQTT-3.3.1-10]
        pub.ping()
        with RawClient.plain(broker.host, broker.port, version) as sub:
            sub.connect("sub")
            sub.subscribe("r/a", qos=2)
            got = sub.expect(Publish)
            assert (got.payload, got.retain, got.qos) == (b"A", True, 1)  # [MQTT-3.3.1-8]
            assert got.packet_id is not None
            sub.send(Puback(got.packet_id))
            sub.subscribe("r/b", packet_id=2, qos=2)
            pub.publish("r/b", b"live")
            got = sub.expect(Publish)
            assert (got.payload, got.retain) == (b"live", False)


def test_retain_flag_v311_cleared_v5_retain_as_published(broker: BackgroundBroker) -> None:
    with (
        RawClient.plain(broker.host, broker.port, V311) as s3,
        RawClient.plain(broker.host, broker.port, V5) as s5,
        RawClient.plain(broker.host, broker.port, V5) as pub,
    ):
        s3.connect("s3")
        s5.connect("s5")
        pub.connect("pub")
        s3.subscribe("t", qos=2)
        s5.subscribe(Subscription("t", QoS(0), retain_as_published=True))
        pub.publish("t", b"x", retain=True)
        assert s3.expect(Publish).retain is False  # [MQTT-3.3.1-9]
        assert s5.expect(Publish).retain is True


def test_retain_handling(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("c")
        c.publish("keep", b"R", retain=True)
        c.subscribe(Subscription("keep", QoS(0), retain_handling=2), packet_id=1)  # type: ignore[arg-type]
        c.publish("other", b"sentinel")
        c.subscribe("other", packet_id=2, qos=2)
        c.publish("other", b"sentinel")
        assert c.expect(Publish).payload == b"sentinel"  # nothing retained before it
        c.subscribe(Subscription("keep", QoS(0), retain_handling=1), packet_id=3)  # type: ignore[arg-type]
        c.publish("other", b"sentinel")
        assert c.expect(Publish).payload == b"sentinel"  # existed: not sent
        c.subscribe(Subscription("keep/#", QoS(0), retain_handling=1), packet_id=4)  # type: ignore[arg-type]
        assert c.expect(Publish).payload == b"R"  # new subscription: sent
        c.subscribe(Subscription("keep", QoS(0), retain_handling=0), packet_id=5)  # type: ignore[arg-type]
        assert c.expect(Publish).payload == b"R"


def test_message_expiry_interval_is_forwarded_and_expired_not_sent(make_broker) -> None:  # type: ignore[no-untyped-def]
    from mqttsec.reference_broker.background import BackgroundBroker as BB
    from mqttsec.reference_broker.config import BrokerConfig

    now = [1000.0]
    b = BB(BrokerConfig(port=0, allow_anonymous=True), clock=lambda: now[0]).start()
    try:
        with RawClient.plain(b.host, b.port, V5) as pub:
            pub.connect("pub")
            with RawClient.plain(b.host, b.port, V5) as sub:
                sub.connect(
                    "sub", clean=True, properties=Properties.of(session_expiry_interval=600)
                )
                sub.subscribe(Subscription("e/#", QoS(1)))
            pub.publish(
                "e/short",
                b"1",
                1,
                packet_id=1,
                properties=Properties.of(message_expiry_interval=5),
                await_ack=False,
            )
            pub.publish(
                "e/long",
                b"2",
                1,
                packet_id=2,
                properties=Properties.of(message_expiry_interval=50),
                await_ack=False,
            )
            pub.expect(Puback)
            pub.expect(Puback)
            now[0] += 10
            with RawClient.plain(b.host, b.port, V5) as sub:
                assert sub.connect("sub", clean=False).session_present
                got = sub.expect(Publish)
                assert got.payload == b"2"
                assert (
                    got.properties.get(PropertyId.MESSAGE_EXPIRY_INTERVAL) == 40
                )  # [MQTT-3.3.2-6]
    finally:
        b.stop()


def test_topic_alias_inbound(broker: BackgroundBroker) -> None:
    sub, pub = pair(broker, V5)
    with sub, pub:
        sub.subscribe("alias/#", qos=2)
        pub.publish("alias/x", b"1", properties=Properties.of(topic_alias=1))
        pub.publish("", b"2", properties=Properties.of(topic_alias=1))
        assert [sub.expect(Publish).topic for _ in range(2)] == ["alias/x", "alias/x"]
        got = sub.recv() if sub.pending else None
        assert got is None
        pub.publish("", b"3", properties=Properties.of(topic_alias=11))  # above our maximum 10
        assert pub.expect_closed() == [Disconnect(ReasonCode.TOPIC_ALIAS_INVALID)]


def test_receive_maximum_exceeded(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(receive_maximum=2)
    with RawClient.plain(b.host, b.port, V5) as pub:
        pub.connect("pub")
        for pid in (1, 2, 3):
            pub.publish("t", b"", 2, packet_id=pid, await_ack=False)
        got = pub.expect_closed()
    assert got[:2] == [Pubrec(1), Pubrec(2)] or all(isinstance(p, Pubrec) for p in got[:-1])
    assert got[-1] == Disconnect(ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)


@BOTH
def test_inbound_packet_too_large(make_broker, version: ProtocolVersion) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_packet_size=200)
    with RawClient.plain(b.host, b.port, version) as pub:
        pub.connect("pub")
        pub.publish("t", b"x" * 500)
        got = pub.expect_closed()
    assert got == ([Disconnect(ReasonCode.PACKET_TOO_LARGE)] if version is V5 else [])


def test_outbound_maximum_packet_size_discards(broker: BackgroundBroker) -> None:
    with (
        RawClient.plain(broker.host, broker.port, V5) as sub,
        RawClient.plain(broker.host, broker.port, V5) as pub,
    ):
        sub.connect("sub", properties=Properties.of(maximum_packet_size=64))
        pub.connect("pub")
        sub.subscribe(Subscription("t", QoS(1)))
        pub.publish("t", b"x" * 100, 1, packet_id=1, await_ack=False)
        pub.publish("t", b"small", 1, packet_id=2, await_ack=False)
        got = sub.expect(Publish)
        assert got.payload == b"small"  # [MQTT-3.1.2-25]


def test_outbound_receive_maximum_window(broker: BackgroundBroker) -> None:
    with (
        RawClient.plain(broker.host, broker.port, V5) as sub,
        RawClient.plain(broker.host, broker.port, V5) as pub,
    ):
        sub.connect("sub", properties=Properties.of(receive_maximum=2))
        pub.connect("pub")
        sub.subscribe(Subscription("t", QoS(1)))
        for i in range(5):
            pub.publish("t", str(i).encode(), 1, packet_id=i + 1, await_ack=False)
        first = [sub.expect(Publish) for _ in range(2)]
        sub.ping()  # nothing else arrived before the PINGRESP: the window is full
        assert not sub.pending
        payloads = [p.payload for p in first]
        for p in first:
            sub.send(Puback(p.packet_id))  # type: ignore[arg-type]
        payloads += [sub.expect(Publish).payload for _ in range(2)]
        assert payloads == [b"0", b"1", b"2", b"3"]


@BOTH
def test_unacked_messages_redelivered_with_dup_on_resume(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    props = Properties.of(session_expiry_interval=60) if version is V5 else Properties()
    with RawClient.plain(broker.host, broker.port, version) as pub:
        pub.connect("pub")
        with RawClient.plain(broker.host, broker.port, version) as sub:
            sub.connect("sub", clean=False, properties=props)
            sub.subscribe(Subscription("t", QoS(2)))
            pub.publish("t", b"q1", 1, packet_id=1, await_ack=False)
            pub.publish("t", b"q2", 2, packet_id=2, await_ack=False)
            first = sub.expect(Publish)
            second = sub.expect(Publish)
            sub.send(Pubrec(second.packet_id))  # type: ignore[arg-type]
            sub.expect(Pubrel)
            sub.send(Disconnect())
            sub.expect_closed()  # the broker has taken the session offline
        pub.publish("t", b"queued", 1, packet_id=3, await_ack=False)  # while offline
        pub.expect(Puback)
        with RawClient.plain(broker.host, broker.port, version) as sub:
            assert sub.connect("sub", clean=False, properties=props).session_present
            again = sub.expect(Publish)
            assert (again.payload, again.dup, again.packet_id) == (b"q1", True, first.packet_id)
            assert sub.expect(Pubrel).packet_id == second.packet_id  # [MQTT-4.4.0-1]
            queued = sub.expect(Publish)
            assert queued.payload == b"queued" and not queued.dup


@BOTH
def test_max_qos_caps_grant_and_refuses_higher_publish(
    make_broker, version: ProtocolVersion
) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_qos=1)
    with RawClient.plain(b.host, b.port, version) as c:
        c.connect("c")
        assert c.subscribe(Subscription("t", QoS(2))).reason_codes == (ReasonCode.GRANTED_QOS_1,)
        c.publish("t", b"", 2, packet_id=1, await_ack=False)
        got = c.expect_closed()
    assert got == ([Disconnect(ReasonCode.QOS_NOT_SUPPORTED)] if version is V5 else [])


def test_retain_not_available(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(retain_available=False)
    with RawClient.plain(b.host, b.port, V5) as c:
        assert c.connect("c").properties.get(PropertyId.RETAIN_AVAILABLE) == 0
        c.publish("t", b"x", retain=True)
        assert c.expect_closed() == [Disconnect(ReasonCode.RETAIN_NOT_SUPPORTED)]


def test_topic_alias_zero_is_invalid(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("a")
        body = b"\x00\x01t" + b"\x03\x23\x00\x00" + b"p"  # PUBLISH "t", Topic Alias 0
        c.send_bytes(bytes([0x30, len(body)]) + body)
        assert c.expect_closed() == [Disconnect(ReasonCode.TOPIC_ALIAS_INVALID)]


def test_unknown_topic_alias_is_protocol_error(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("a")
        c.publish("", b"p", properties=Properties.of(topic_alias=4))
        assert c.expect_closed() == [Disconnect(ReasonCode.PROTOCOL_ERROR)]
