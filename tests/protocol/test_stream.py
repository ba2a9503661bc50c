"""StreamParser: any split of the stream, limits checked before buffering, roles enforced."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.protocol import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
    PacketTooLarge,
    Pingreq,
    Pingresp,
    Properties,
    PropertyId,
    ProtocolVersion,
    ProtocolViolation,
    Puback,
    Publish,
    QoS,
    ReasonCode,
    StreamParser,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    encode,
)

from .wire import frame, s

V3 = ProtocolVersion.V311
V5 = ProtocolVersion.V5


def _client_stream(version: ProtocolVersion) -> tuple[list[object], bytes]:
    packets = [
        Connect("c", version, keep_alive=10),
        Publish("a/b", b"x" * 200, QoS(1), packet_id=7),  # two byte remaining length
        Subscribe(1, (Subscription("a/#", QoS(2)),)),
        Unsubscribe(2, ("a/#",)),
        Puback(7),
        Pingreq(),
        Publish("a", b""),
        Disconnect(),
    ]
    return list(packets), b"".join(encode(p, version) for p in packets)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [V3, V5], ids=lambda v: v.name)
def test_every_split_point(version: ProtocolVersion) -> None:
    expected, blob = _client_stream(version)
    for i in range(len(blob) + 1):
        parser = StreamParser()
        got = parser.feed(blob[:i]) + parser.feed(blob[i:])
        assert got == expected, i
        assert parser.version is version


@pytest.mark.parametrize("version", [V3, V5], ids=lambda v: v.name)
def test_byte_by_byte(version: ProtocolVersion) -> None:
    expected, blob = _client_stream(version)
    parser = StreamParser()
    got = []
    for i in range(len(blob)):
        got += parser.feed(blob[i : i + 1])
    assert got == expected
    assert parser.buffered == 0


def test_large_packet_trickled_in_small_chunks_is_buffered_once() -> None:
    publish = Publish("t", b"p" * 300_000)
    data = encode(publish, V5)
    parser = StreamParser(V5)
    got = []
    for i in range(0, len(data), 1000):
        got += parser.feed(data[i : i + 1000])
        assert parser.buffered <= len(data)
    assert got == [publish]


def test_too_large_is_refused_from_the_fixed_header_alone() -> None:
    parser = StreamParser(V5, max_packet_size=1024)
    header = b"\x30" + bytes.fromhex("80808001")  # remaining length 2 MiB, no body sent
    with pytest.raises(PacketTooLarge) as info:
        parser.feed(header)
    assert info.value.reason_code is ReasonCode.PACKET_TOO_LARGE
    assert parser.buffered == 0


def test_max_packet_size_counts_the_whole_packet() -> None:
    data = encode(Publish("t", b"x" * 10), V3)
    assert StreamParser(V3, max_packet_size=len(data)).feed(data)
    with pytest.raises(PacketTooLarge):
        StreamParser(V3, max_packet_size=len(data) - 1).feed(data)


@pytest.mark.parametrize(
    ("version", "packet"),
    [
        (V3, Connack()),
        (V5, Connack()),
        (V3, Suback(1, (ReasonCode.GRANTED_QOS_0,))),
        (V5, Unsuback(1, (ReasonCode.SUCCESS,))),
        (V3, Pingresp()),
    ],
    ids=repr,
)
def test_server_refuses_what_only_servers_send(version: ProtocolVersion, packet: object) -> None:
    data = encode(packet, version)  # type: ignore[arg-type]
    parser = StreamParser(version, role="server")
    with pytest.raises(ProtocolViolation, match="never sent by a client"):
        parser.feed(data[:1])  # refused from the first byte, before any length is read


def test_server_refuses_auth_in_311() -> None:
    with pytest.raises(ProtocolViolation):
        StreamParser(V3, role="server").feed(b"\xf0\x00")
    assert StreamParser(V5, role="server").feed(b"\xf0\x00") == [Auth()]


@pytest.mark.parametrize("data", [b"\x10", b"\x82", b"\xc0", b"\xa2"], ids=bytes.hex)
def test_client_refuses_what_only_clients_send(data: bytes) -> None:
    with pytest.raises(ProtocolViolation, match="never sent by a server"):
        StreamParser(V5, role="client").feed(data)


def test_first_packet_must_be_connect() -> None:
    parser = StreamParser()
    with pytest.raises(ProtocolViolation) as info:
        parser.feed(b"\xc0")
    assert info.value.spec == "MQTT-3.1.0-1"


def test_second_connect_is_a_protocol_error() -> None:
    connect = encode(Connect("c", V3), V3)
    parser = StreamParser()
    with pytest.raises(ProtocolViolation) as info:
        parser.feed(connect + connect)
    assert info.value.spec == "MQTT-3.1.0-2"
    assert info.value.packets_before == (Connect("c", V3),)


def test_connect_switches_the_version_mid_buffer() -> None:
    blob = encode(Connect("c", V3), V3) + encode(Publish("a", b"z"), V3)
    assert StreamParser().feed(blob)[1] == Publish("a", b"z")


def test_errors_are_sticky_and_keep_earlier_packets() -> None:
    parser = StreamParser(V3)
    good = encode(Pingreq(), V3)
    with pytest.raises(MalformedPacket) as info:
        parser.feed(good + b"\xc0\x01\x00")
    assert info.value.packets_before == (Pingreq(),)
    with pytest.raises(MalformedPacket):
        parser.feed(good)
    assert parser.error is info.value


def test_client_publish_must_not_carry_a_subscription_identifier() -> None:
    publish = Publish("a", properties=Properties([(PropertyId.SUBSCRIPTION_IDENTIFIER, 3)]))
    data = encode(publish, V5)
    assert StreamParser(V5, role="client").feed(data) == [publish]
    with pytest.raises(ProtocolViolation) as info:
        StreamParser(V5, role="server").feed(data)
    assert info.value.spec == "MQTT-3.3.4-6"


def test_bad_remaining_length_is_refused_without_the_body() -> None:
    with pytest.raises(MalformedPacket):
        StreamParser(V5).feed(b"\x30\x80\x80\x80\x80")
    with pytest.raises(MalformedPacket):
        StreamParser(V5).feed(b"\x30\x80\x00")


def test_feed_accepts_bytearray_and_memoryview() -> None:
    data = encode(Publish("a", b"1"), V3) + frame(0x30, s("b"))
    parser = StreamParser(V3)
    assert len(parser.feed(bytearray(data[:3])) + parser.feed(memoryview(data)[3:])) == 2


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        StreamParser(role="broker")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StreamParser(max_packet_size=268_435_461)
