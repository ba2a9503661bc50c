"""One case per rule: bytes that break it, the error class and the statement it cites."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.protocol import (
    MalformedPacket,
    ProtocolError,
    ProtocolVersion,
    ProtocolViolation,
    ReasonCode,
    UnsupportedProtocolVersion,
    decode,
)

from .wire import connect, frame, props, s

V3 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
M, P, U = MalformedPacket, ProtocolViolation, UnsupportedProtocolVersion

WILL = s("w/t") + s(b"x")
CASES: list[tuple[str, ProtocolVersion | None, bytes, type[ProtocolError], str]] = [
    # fixed header
    ("type 0 reserved", V5, frame(0x00), M, "MQTT-2.1.2"),
    ("AUTH in 3.1.1", V3, frame(0xF0), M, "MQTT-2.1.2"),
    ("PUBREL flags 0000", V3, frame(0x60, b"\x00\x01"), M, "MQTT-2.1.3-1"),
    ("SUBSCRIBE flags 0000", V3, frame(0x80, b"\x00\x01", s("a"), 0), M, "MQTT-2.1.3-1"),
    ("UNSUBSCRIBE flags 0000", V5, frame(0xA0, b"\x00\x01", 0, s("a")), M, "MQTT-2.1.3-1"),
    ("PUBACK flags 0001", V3, frame(0x41, b"\x00\x01"), M, "MQTT-2.1.3-1"),
    ("PINGREQ flags 0010", V5, frame(0xC2), M, "MQTT-2.1.3-1"),
    ("CONNECT flags 0001", None, b"\x11" + connect()[1:], M, "MQTT-2.1.3-1"),
    ("PUBLISH QoS 3", V3, frame(0x36, s("a"), b"\x00\x01"), M, "MQTT-3.3.1-4"),
    ("PUBLISH DUP with QoS 0", V5, frame(0x38, s("a"), 0), M, "MQTT-3.3.1-2"),
    ("remaining length 5 bytes", V5, b"\x30\xff\xff\xff\xff\x01", M, "MQTT-1.5.5-1"),
    ("remaining length overlong", V5, b"\xc0\x80\x00", M, "MQTT-1.5.5-1"),
    # remaining length vs content
    ("PUBACK extra byte 3.1.1", V3, frame(0x40, b"\x00\x01\x00"), M, ""),
    ("PINGREQ with a body", V3, frame(0xC0, 0), M, ""),
    ("CONNECT trailing byte", None, connect(payload=s("c") + b"\x00"), M, "2.1.4"),
    ("PUBLISH topic past end", V3, frame(0x30, b"\x00\x09ab"), M, ""),
    ("PUBLISH QoS1 no packet id", V3, frame(0x32, s("a"), 0), M, ""),
    ("PUBLISH 5.0 no property length", V5, frame(0x30, s("a")), M, ""),
    ("CONNACK 5.0 without properties", V5, frame(0x20, 0, 0), M, ""),
    ("SUBACK no return code", V3, frame(0x90, b"\x00\x01"), M, ""),
    ("UNSUBACK 3.1.1 with codes", V3, frame(0xB0, b"\x00\x01\x00"), M, ""),
    # CONNECT
    ("CONNECT first", None, frame(0x30, s("a")), P, "MQTT-3.1.0-1"),
    ("CONNECT reserved flag", None, connect(flags=0x03), M, "MQTT-3.1.2-3"),
    ("will QoS without will 3.1.1", None, connect(flags=0x08), M, "MQTT-3.1.2-13"),
    ("will QoS without will 5.0", None, connect(5, 0x08), M, "MQTT-3.1.2-11"),
    ("will retain without will 3.1.1", None, connect(flags=0x20), M, "MQTT-3.1.2-15"),
    ("will retain without will 5.0", None, connect(5, 0x20), M, "MQTT-3.1.2-13"),
    ("will QoS 3 3.1.1", None, connect(flags=0x1C, payload=s("c") + WILL), M, "MQTT-3.1.2-14"),
    (
        "will QoS 3 5.0",
        None,
        connect(5, 0x1C, payload=s("c") + b"\x00" + WILL),
        M,
        "MQTT-3.1.2-12",
    ),
    (
        "password without user 3.1.1",
        None,
        connect(flags=0x42, payload=s("c") + s(b"p")),
        M,
        "MQTT-3.1.2-22",
    ),
    ("protocol name", None, connect(name="MQTX"), P, "MQTT-3.1.2-1"),
    ("MQIsdp level 3", None, connect(3, name="MQIsdp"), U, "MQTT-3.1.2-2"),
    ("level 6", None, connect(6), U, "MQTT-3.1.2-2"),
    (
        "will topic wildcard",
        None,
        connect(flags=0x06, payload=s("c") + s("a/#") + s(b"")),
        P,
        "MQTT-4.7.0-1",
    ),
    # packet identifiers
    ("PUBLISH packet id 0 5.0", V5, frame(0x32, s("a"), b"\x00\x00", 0), P, "MQTT-2.2.1-3"),
    ("PUBLISH packet id 0 3.1.1", V3, frame(0x32, s("a"), b"\x00\x00"), P, "MQTT-2.3.1-1"),
    ("PUBACK packet id 0", V5, frame(0x40, b"\x00\x00"), P, "MQTT-2.2.1-3"),
    ("PUBREL packet id 0", V3, frame(0x62, b"\x00\x00"), P, "MQTT-2.3.1-1"),
    ("SUBSCRIBE packet id 0", V3, frame(0x82, b"\x00\x00", s("a"), 0), P, "MQTT-2.3.1-1"),
    ("UNSUBSCRIBE packet id 0", V5, frame(0xA2, b"\x00\x00", 0, s("a")), P, "MQTT-2.2.1-3"),
    # SUBSCRIBE / UNSUBSCRIBE
    ("SUBSCRIBE no filter 3.1.1", V3, frame(0x82, b"\x00\x01"), P, "MQTT-3.8.3-3"),
    ("SUBSCRIBE no filter 5.0", V5, frame(0x82, b"\x00\x01", 0), P, "MQTT-3.8.3-2"),
    ("UNSUBSCRIBE no filter", V3, frame(0xA2, b"\x00\x01"), P, "MQTT-3.10.3-2"),
    ("SUBSCRIBE options missing", V3, frame(0x82, b"\x00\x01", s("a")), M, ""),
    (
        "subscription reserved bits",
        V5,
        frame(0x82, b"\x00\x01", 0, s("a"), 0x40),
        M,
        "MQTT-3.8.3-5",
    ),
    ("retain handling 3", V5, frame(0x82, b"\x00\x01", 0, s("a"), 0x30), P, "3.8.3.1"),
    ("maximum QoS 3 5.0", V5, frame(0x82, b"\x00\x01", 0, s("a"), 0x03), P, "3.8.3.1"),
    (
        "requested QoS upper bits 3.1.1",
        V3,
        frame(0x82, b"\x00\x01", s("a"), 0x04),
        M,
        "MQTT-3-8.3-4",
    ),
    ("requested QoS 3 3.1.1", V3, frame(0x82, b"\x00\x01", s("a"), 0x03), M, "MQTT-3-8.3-4"),
    (
        "no local on shared",
        V5,
        frame(0x82, b"\x00\x01", 0, s("$share/g/a"), 0x04),
        P,
        "MQTT-3.8.3-4",
    ),
    ("filter # not last", V3, frame(0x82, b"\x00\x01", s("a/#/b"), 0), P, "MQTT-4.7.1-1"),
    ("filter #x", V3, frame(0x82, b"\x00\x01", s("a/#x"), 0), P, "MQTT-4.7.1-1"),
    ("filter a+", V5, frame(0xA2, b"\x00\x01", 0, s("a+/b")), P, "MQTT-4.7.1-2"),
    ("filter empty", V3, frame(0x82, b"\x00\x01", s(""), 0), P, "MQTT-4.7.3-1"),
    ("share name empty", V5, frame(0x82, b"\x00\x01", 0, s("$share//a"), 0), P, "MQTT-4.8.2-1"),
    ("share without filter", V5, frame(0x82, b"\x00\x01", 0, s("$share/g"), 0), P, "MQTT-4.8.2-2"),
    (
        "share name wildcard",
        V5,
        frame(0x82, b"\x00\x01", 0, s("$share/g+/a"), 0),
        P,
        "MQTT-4.8.2-2",
    ),
    # topic names and UTF-8
    ("topic with +", V3, frame(0x30, s("a/+")), P, "MQTT-4.7.0-1"),
    ("topic with #", V5, frame(0x30, s("#"), 0), P, "MQTT-4.7.0-1"),
    ("empty topic 3.1.1", V3, frame(0x30, s("")), P, "MQTT-4.7.3-1"),
    ("empty topic without alias 5.0", V5, frame(0x30, s(""), 0), P, "MQTT-3.3.2-1"),
    ("ill-formed UTF-8", V3, frame(0x30, s(b"\xc3\x28")), M, "MQTT-1.5.4-1"),
    ("UTF-8 surrogate", V3, frame(0x30, s(b"\xed\xa0\x80")), M, "MQTT-1.5.4-1"),
    ("overlong UTF-8", V3, frame(0x30, s(b"\xc0\xaf")), M, "MQTT-1.5.4-1"),
    ("U+0000 in topic", V3, frame(0x30, s(b"a\x00")), M, "MQTT-1.5.4-2"),
    ("U+0000 in client id", None, connect(payload=s(b"\x00")), M, "MQTT-1.5.4-2"),
    # properties
    ("unknown property", V5, frame(0x30, s("a"), props(b"\x05\x00")), M, ""),
    ("property not allowed", V5, frame(0x30, s("a"), props(b"\x11\x00\x00\x00\x01")), P, "2.2.2.2"),
    ("property repeated", V5, frame(0x30, s("a"), props(b"\x01\x00\x01\x01")), P, "2.2.2.2"),
    (
        "subscription id twice in SUBSCRIBE",
        V5,
        frame(0x82, b"\x00\x01", props(b"\x0b\x01\x0b\x02"), s("a"), 0),
        P,
        "2.2.2.2",
    ),
    ("payload format 2", V5, frame(0x30, s("a"), props(b"\x01\x02")), P, ""),
    (
        "subscription id 0",
        V5,
        frame(0x82, b"\x00\x01", props(b"\x0b\x00"), s("a"), 0),
        P,
        "3.8.2.1.2",
    ),
    ("receive maximum 0", None, connect(5, props_block=props(b"\x21\x00\x00")), P, ""),
    ("maximum packet size 0", None, connect(5, props_block=props(b"\x27\x00\x00\x00\x00")), P, ""),
    ("request problem info 2", None, connect(5, props_block=props(b"\x17\x02")), P, ""),
    ("request response info 2", None, connect(5, props_block=props(b"\x19\x02")), P, ""),
    ("maximum QoS 2", V5, frame(0x20, 0, 0, props(b"\x24\x02")), P, ""),
    ("retain available 2", V5, frame(0x20, 0, 0, props(b"\x25\x02")), P, ""),
    ("topic alias 0", V5, frame(0x30, s("a"), props(b"\x23\x00\x00")), P, "MQTT-3.3.2-8"),
    ("auth data without method", None, connect(5, props_block=props(b"\x16" + s(b"x"))), P, ""),
    (
        "response topic wildcard",
        V5,
        frame(0x30, s("a"), props(b"\x08" + s("r/#"))),
        P,
        "MQTT-4.7.0-1",
    ),
    ("property runs past its length", V5, frame(0x30, s("a"), b"\x02\x02\x00\x00\x00\x01"), M, ""),
    ("property length past packet", V5, frame(0x30, s("a"), b"\x09"), M, ""),
    ("property length overlong", V5, frame(0x30, s("a"), b"\x80\x00"), M, "MQTT-1.5.5-1"),
    ("string property truncated", V5, frame(0x30, s("a"), props(b"\x03\x00\x05ab")), M, ""),
    # reason codes
    ("PUBACK reason 0x04", V5, frame(0x40, b"\x00\x01\x04"), M, ""),
    ("PUBREL reason 0x10", V5, frame(0x62, b"\x00\x01\x10"), M, ""),
    ("PUBCOMP reason 0x80", V5, frame(0x70, b"\x00\x01\x80"), M, ""),
    ("SUBACK reason 0x10", V5, frame(0x90, b"\x00\x01", 0, 0x10), M, ""),
    ("SUBACK 3.1.1 code 0x03", V3, frame(0x90, b"\x00\x01", 0x03), M, "MQTT-3.9.3-2"),
    ("UNSUBACK reason 0x02", V5, frame(0xB0, b"\x00\x01", 0, 0x02), M, ""),
    ("UNSUBACK 5.0 no reason code", V5, frame(0xB0, b"\x00\x01", 0), M, ""),
    ("DISCONNECT reason 0x18", V5, frame(0xE0, 0x18), M, ""),
    ("AUTH reason 0x80", V5, frame(0xF0, 0x80), M, ""),
    ("CONNACK reason 0x04", V5, frame(0x20, 0, 0x04, 0), M, ""),
    ("CONNACK 3.1.1 return code 6", V3, frame(0x20, 0, 6), M, ""),
    ("CONNACK reserved flags", V3, frame(0x20, 2, 0), M, "MQTT-3.2.2-1"),
    ("CONNACK session present with refusal", V3, frame(0x20, 1, 5), P, "MQTT-3.2.2-4"),
    ("CONNACK 5.0 session present with refusal", V5, frame(0x20, 1, 0x80, 0), P, "MQTT-3.2.2-6"),
    ("DISCONNECT 3.1.1 with reason", V3, frame(0xE0, 0), M, ""),
]


@pytest.mark.parametrize(
    ("version", "data", "error", "spec"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rule(
    version: ProtocolVersion | None, data: bytes, error: type[ProtocolError], spec: str
) -> None:
    with pytest.raises(error) as info:
        decode(data, version)
    assert type(info.value) is error
    assert spec in info.value.spec
    assert info.value.remote


def test_topic_alias_zero_answers_topic_alias_invalid() -> None:
    with pytest.raises(ProtocolViolation) as info:
        decode(frame(0x30, s("a"), props(b"\x23\x00\x00")), V5)
    assert info.value.reason_code is ReasonCode.TOPIC_ALIAS_INVALID


def test_error_messages_name_the_packet() -> None:
    with pytest.raises(MalformedPacket, match="CONNECT: reserved flag"):
        decode(connect(flags=0x03), None)
    with pytest.raises(ProtocolViolation, match="SUBSCRIBE: no topic filter"):
        decode(frame(0x82, b"\x00\x01"), V3)


@pytest.mark.parametrize(
    ("version", "data"),
    [
        (V5, connect(5, 0xC2, payload=s("c") + s("u") + s(b"p"))),
        (V5, connect(5, 0x42, payload=s("c") + s(b"p"))),  # 5.0 allows a password alone
        (V5, frame(0x30, s(""), props(b"\x23\x00\x01"))),  # empty topic with an alias
        (V5, frame(0x30, s("\ufeffa"), 0)),  # U+FEFF is kept [MQTT-1.5.4-3]
        (V5, frame(0x30, s("a"), props(b"\x0b\x01\x0b\x02"))),  # sub ids repeat in PUBLISH
        (V3, frame(0x82, b"\x00\x01", s("$share/g/a/#"), 1)),
    ],
)
def test_legal_edge_cases(version: ProtocolVersion, data: bytes) -> None:
    result = decode(data, version)
    assert result is not None and result[1] == len(data)
