"""The encoder refuses what the decoder refuses, and blames our own caller (remote=False)."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.protocol import (
    CLIENT_PACKET_TYPES,
    SERVER_PACKET_TYPES,
    Auth,
    Connack,
    Connect,
    ConnectReturnCode,
    Disconnect,
    MalformedPacket,
    PacketTooLarge,
    PacketType,
    Properties,
    PropertyId,
    ProtocolError,
    ProtocolVersion,
    ProtocolViolation,
    Puback,
    Publish,
    QoS,
    ReasonCode,
    Suback,
    Subscribe,
    Subscription,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    encode,
)

V3 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
_P = PropertyId

BAD: list[tuple[str, ProtocolVersion, object, type[ProtocolError]]] = [
    ("QoS 0 with packet id", V5, Publish("a", packet_id=1), ProtocolViolation),
    ("QoS 1 without packet id", V3, Publish("a", qos=QoS(1)), ProtocolViolation),
    ("packet id 0", V5, Puback(0), ProtocolViolation),
    ("packet id 65536", V3, Puback(65536), ProtocolViolation),
    ("DUP with QoS 0", V3, Publish("a", dup=True), MalformedPacket),
    ("QoS 3", V3, Publish("a", qos=3, packet_id=1), MalformedPacket),  # type: ignore[arg-type]
    ("wildcard topic", V3, Publish("a/#"), ProtocolViolation),
    ("empty topic 3.1.1", V3, Publish(""), ProtocolViolation),
    ("empty topic 5.0 no alias", V5, Publish(""), ProtocolViolation),
    ("surrogate in topic", V5, Publish("\udc80"), MalformedPacket),
    ("NUL in topic", V5, Publish("a\x00"), MalformedPacket),
    ("payload not bytes", V3, Publish("a", "text"), MalformedPacket),  # type: ignore[arg-type]
    (
        "topic alias 0",
        V5,
        Publish("a", properties=Properties([(_P.TOPIC_ALIAS, 0)])),
        ProtocolViolation,
    ),
    (
        "property not allowed",
        V5,
        Publish("a", properties=Properties([(_P.MAXIMUM_QOS, 1)])),
        ProtocolViolation,
    ),
    (
        "property repeated",
        V5,
        Puback(1, properties=Properties([(_P.REASON_STRING, "a"), (_P.REASON_STRING, "b")])),
        ProtocolViolation,
    ),
    (
        "property wrong type",
        V5,
        Publish("a", properties=Properties([(_P.CONTENT_TYPE, 1)])),
        MalformedPacket,
    ),
    ("PUBACK reason not allowed", V5, Puback(1, ReasonCode.SERVER_BUSY), MalformedPacket),
    ("SUBACK 3.1.1 code", V3, Suback(1, (ReasonCode.NOT_AUTHORIZED,)), MalformedPacket),
    ("SUBSCRIBE empty", V3, Subscribe(1, ()), ProtocolViolation),
    ("UNSUBSCRIBE empty", V5, Unsubscribe(1, ()), ProtocolViolation),
    ("SUBSCRIBE bad filter", V5, Subscribe(1, (Subscription("a/#/b"),)), ProtocolViolation),
    (
        "no local on shared",
        V5,
        Subscribe(1, (Subscription("$share/g/a", no_local=True),)),
        ProtocolViolation,
    ),
    ("CONNECT name", V5, Connect(protocol_name="MQIsdp"), ProtocolViolation),
    ("CONNECT level 3", V3, Connect(protocol_version=3), UnsupportedProtocolVersion),  # type: ignore[arg-type]
    (
        "CONNECT password alone 3.1.1",
        V3,
        Connect(protocol_version=V3, password=b"p"),
        MalformedPacket,
    ),
    (
        "CONNECT will wildcard",
        V3,
        Connect(protocol_version=V3, will=Will("a/+")),
        ProtocolViolation,
    ),
    ("CONNECT keep alive", V5, Connect(keep_alive=70000), MalformedPacket),
    ("CONNACK 5.0 code in 3.1.1", V3, Connack(ReasonCode.NOT_AUTHORIZED), ProtocolViolation),
    ("CONNACK 3.1.1 code in 5.0", V5, Connack(ConnectReturnCode.NOT_AUTHORIZED), ProtocolViolation),
    (
        "CONNACK session present refused",
        V3,
        Connack(ConnectReturnCode.NOT_AUTHORIZED, True),
        ProtocolViolation,
    ),
    ("DISCONNECT reason", V5, Disconnect(ReasonCode.CONTINUE_AUTHENTICATION), MalformedPacket),
    ("AUTH in 3.1.1", V3, Auth(), ProtocolViolation),
    ("too large", V3, Publish("a", b"x" * 268_435_455), PacketTooLarge),
]


@pytest.mark.parametrize(
    ("version", "packet", "error"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_encoder_refuses(
    version: ProtocolVersion, packet: object, error: type[ProtocolError]
) -> None:
    with pytest.raises(error) as info:
        encode(packet, version)  # type: ignore[arg-type]
    assert type(info.value) is error
    assert info.value.remote is False


def test_encode_rejects_non_packets() -> None:
    with pytest.raises(TypeError):
        encode(object(), V5)  # type: ignore[arg-type]


def test_311_ignores_5_only_fields() -> None:
    assert encode(Puback(1, ReasonCode.NO_MATCHING_SUBSCRIBERS), V3) == b"\x40\x02\x00\x01"
    assert encode(Disconnect(ReasonCode.SERVER_BUSY), V3) == b"\xe0\x00"


def test_direction_tables() -> None:
    for version in (V3, V5):
        both = CLIENT_PACKET_TYPES[version] & SERVER_PACKET_TYPES[version]
        assert PacketType.PUBLISH in both and PacketType.CONNECT not in both
        assert PacketType.CONNACK not in CLIENT_PACKET_TYPES[version]
    assert PacketType.AUTH not in CLIENT_PACKET_TYPES[V3] | SERVER_PACKET_TYPES[V3]
    assert PacketType.DISCONNECT not in SERVER_PACKET_TYPES[V3]
    assert PacketType.DISCONNECT in SERVER_PACKET_TYPES[V5]
