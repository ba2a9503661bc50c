"""Known byte vectors: real mosquitto_pub 2.x captures and hand-checked spec examples."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.protocol import (
    NO_PROPERTIES,
    Auth,
    Connack,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    PropertyId,
    ProtocolVersion,
    Puback,
    Publish,
    QoS,
    ReasonCode,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Will,
    decode,
    encode,
)

V3 = ProtocolVersion.V311
V5 = ProtocolVersion.V5

# mosquitto_pub -V mqttv311 -i capture-client -t test/topic -m hello -q 1 -u user -P pass
#   --will-topic will/t --will-payload bye --will-qos 1 -k 30, captured on 127.0.0.1
MOSQ_CONNECT_311 = (
    "103300044d51545404ce001e000e636170747572652d636c69656e74000677696c6c2f7400036279650004"
    "75736572000470617373"
)
MOSQ_PUBLISH_311 = "3213000a746573742f746f706963000168656c6c6f"
# the same with -V mqttv5 (mosquitto_pub adds Receive Maximum 20)
MOSQ_CONNECT_5 = (
    "103800044d51545405ce001e03210014000e636170747572652d636c69656e7400000677696c6c2f740003"
    "627965000475736572000470617373"
)
MOSQ_PUBLISH_5 = "3214000a746573742f746f70696300010068656c6c6f"

_WILL = Will("will/t", b"bye", QoS.AT_LEAST_ONCE)
VECTORS: list[tuple[str, ProtocolVersion, str, Packet]] = [
    (
        "mosquitto CONNECT 3.1.1",
        V3,
        MOSQ_CONNECT_311,
        Connect(
            "capture-client",
            V3,
            True,
            30,
            "user",
            b"pass",
            _WILL,
        ),
    ),
    (
        "mosquitto CONNECT 5.0",
        V5,
        MOSQ_CONNECT_5,
        Connect(
            "capture-client",
            V5,
            True,
            30,
            "user",
            b"pass",
            _WILL,
            Properties([(PropertyId.RECEIVE_MAXIMUM, 20)]),
        ),
    ),
    (
        "mosquitto PUBLISH 3.1.1",
        V3,
        MOSQ_PUBLISH_311,
        Publish("test/topic", b"hello", QoS(1), packet_id=1),
    ),
    (
        "mosquitto PUBLISH 5.0",
        V5,
        MOSQ_PUBLISH_5,
        Publish("test/topic", b"hello", QoS(1), packet_id=1),
    ),
    ("PINGREQ", V3, "c000", Pingreq()),
    ("PINGRESP", V5, "d000", Pingresp()),
    ("DISCONNECT 3.1.1", V3, "e000", Disconnect()),
    ("DISCONNECT 5.0 short", V5, "e000", Disconnect()),
    ("DISCONNECT 5.0 with will", V5, "e00104", Disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)),
    ("AUTH 5.0 short", V5, "f000", Auth()),
    ("CONNACK 3.1.1 accepted", V3, "20020000", Connack(ConnectReturnCode.ACCEPTED)),
    ("CONNACK 3.1.1 refused", V3, "20020005", Connack(ConnectReturnCode.NOT_AUTHORIZED)),
    ("CONNACK 5.0 session present", V5, "2003010000", Connack(ReasonCode.SUCCESS, True)),
    ("PUBACK 3.1.1", V3, "40020001", Puback(1)),
    ("PUBACK 5.0 short", V5, "40020001", Puback(1)),
    ("PUBACK 5.0 reason", V5, "4003000110", Puback(1, ReasonCode.NO_MATCHING_SUBSCRIBERS)),
    ("SUBSCRIBE 3.1.1", V3, "8206000a0001610" + "1", Subscribe(10, (Subscription("a", QoS(1)),))),
    ("SUBACK 3.1.1 failure", V3, "9003000a80", Suback(10, (ReasonCode.UNSPECIFIED_ERROR,))),
    ("UNSUBACK 3.1.1", V3, "b002000a", Unsuback(10)),
]


@pytest.mark.parametrize(
    ("version", "hexdata", "packet"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_vector(version: ProtocolVersion, hexdata: str, packet: Packet) -> None:
    data = bytes.fromhex(hexdata)
    assert decode(data, version) == (packet, len(data))
    assert encode(packet, version) == data


def test_connect_decodes_without_a_version() -> None:
    data = bytes.fromhex(MOSQ_CONNECT_5)
    result = decode(data, None)
    assert result is not None
    assert result[0].protocol_version is V5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("hexdata", "packet"),
    [
        ("4003000100", Puback(1)),  # reason code without property length
        ("400400010000", Puback(1)),  # empty properties written out
        ("e00100", Disconnect()),
        ("e0020000", Disconnect()),
        ("f00100", Auth()),
    ],
)
def test_v5_short_forms_decode_to_the_same_packet(hexdata: str, packet: Packet) -> None:
    data = bytes.fromhex(hexdata)
    assert decode(data, V5) == (packet, len(data))
    assert len(encode(packet, V5)) < len(data)  # the encoder writes the shortest form


def test_bom_is_kept() -> None:
    data = b"\x30\x07\x00\x04\xef\xbb\xbfa\x00"  # topic U+FEFF "a" [MQTT-1.5.4-3]
    result = decode(data, V5)
    assert result is not None
    assert result[0] == Publish("\ufeffa", properties=NO_PROPERTIES)
