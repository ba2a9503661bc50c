"""Robustness scenarios: CONNECT packets that lie about themselves.

The CONNECT is parsed before the broker knows who is talking, so its parser is the most
exposed code a broker has. These scenarios send CONNECTs with valid credentials but
contradictory flags, fields that run past the packet, an oversized client id or an unknown
protocol level: the broker refuses them (closing, or a refusing CONNACK first), never lets
the client in on a malformed CONNECT, never publishes a will from one, and keeps serving
the probe.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory, deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import Connack, Disconnect, ProtocolVersion
from mqttsec.suites.helpers import (
    answer_bytes,
    connect_bytes,
    remaining_length,
    string,
    unique,
)

from ._support import (
    CLOSE_WAIT,
    MqttClientFactory,
    open_probe,
    prove_not_forwarded,
    refuse_and_survive,
    watcher,
)


@pytest.mark.scenario(
    id="ROB-CONNECT-WILL-QOS3",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-14", "MQTT-3.1.2-12"],
)
def test_will_qos_3(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT whose will has QoS 3: refused, and the will is never published (the
    connection it belongs to never existed).

    Weakness class: will QoS stored unchecked and used later when the will fires (out of
    range in the delivery code, long after the CONNECT parser let it through).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    watch = watcher(mqtt_raw_client, mqtt_profile, probe)
    marker = unique("will-qos3").encode()
    data = connect_bytes(
        mqtt_version,
        username=probe.user,
        password=probe.password,
        will=(probe.topic.encode(), marker),
        will_bits=0x18,
    )
    refuse_and_survive(mqtt_raw_client(), data, "a CONNECT with will QoS 3", probe)
    prove_not_forwarded(watch, probe, marker, "the will of a CONNECT with will QoS 3")


@pytest.mark.scenario(
    id="ROB-CONNECT-WILL-BITS-WITHOUT-WILL",
    family="robustness",
    severity="low",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-13", "MQTT-3.1.2-15", "MQTT-3.1.2-11"],
)
@pytest.mark.parametrize("bits", [0x08, 0x20], ids=["will-qos", "will-retain"])
def test_will_bits_without_will_flag(
    bits: int,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT with Will QoS or Will Retain set while the Will Flag is 0 is malformed:
    the broker refuses it instead of letting the client in.

    Weakness class: flag combinations the parser does not cross-check, the kind of
    inconsistency that later code trusts (a will half-created from absent fields).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    data = connect_bytes(mqtt_version, username=probe.user, password=probe.password, will_bits=bits)
    refuse_and_survive(
        mqtt_raw_client(), data, f"a CONNECT with will bits {bits:#04x} and no will", probe
    )


@pytest.mark.scenario(
    id="ROB-CONNECT-FIELD-OVERRUN",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-1.5.3", "MQTT-4.8.0-1"],
)
def test_connect_field_runs_past_the_packet(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT whose username field announces 65,535 bytes but whose packet ends three
    bytes later (Remaining Length tells the truth): the broker must not read past the
    packet (into the next one, or into memory) and refuses the connection.

    Weakness class: length-prefixed fields read without checking the enclosing packet's
    bounds (out-of-bounds read; the classic parser bug of embedded brokers).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    flags = 0x02 | 0x80
    body = string(b"MQTT") + bytes([int(mqtt_version), flags]) + (30).to_bytes(2, "big")
    body += b"\x00" if mqtt_version is ProtocolVersion.V5 else b""
    body += string(unique().encode()) + b"\xff\xff" + probe.user.encode()[:3]
    data = b"\x10" + remaining_length(len(body)) + body
    refuse_and_survive(mqtt_raw_client(), data, "a CONNECT whose username runs past its end", probe)


@pytest.mark.scenario(
    id="ROB-CLIENT-ID-MAXIMUM",
    family="robustness",
    severity="low",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.3-5", "MQTT-1.5.3"],
)
def test_longest_client_id(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT with the longest client id the encoding allows (65,535 bytes) and valid
    credentials: accepting it and refusing it (0x02 / 0x85) are both fine, but the broker
    must answer, and keep serving the probe.

    Weakness class: fixed-size client-id buffers (stack overflow) and client ids copied into
    log lines, file names or persistence keys without a bound.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    client_id = unique("huge").encode()
    client_id += b"x" * (65535 - len(client_id))
    raw = mqtt_raw_client()
    raw.send_bytes(
        connect_bytes(
            mqtt_version, client_id=client_id, username=probe.user, password=probe.password
        )
    )
    answer = raw.recv_or_closed()
    probe.check("after a CONNECT with a 65,535-byte client id")
    assert answer is None or isinstance(answer, Connack | Disconnect), (
        f"answered a CONNECT with {answer!r}"
    )


@pytest.mark.scenario(
    id="ROB-UNSUPPORTED-PROTOCOL-LEVEL",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-2"],
)
@pytest.mark.parametrize("level", [6, 255])
def test_unknown_protocol_level(
    level: int,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT naming a protocol level the broker does not speak (6, 255), with valid
    credentials: the broker answers "unacceptable protocol version" (0x01 / 0x84) or just
    closes, and never lets the client in by guessing a version.

    Weakness class: a version byte used to pick a parser without a default branch, or a
    broker that "upgrades" the client to a version whose rules it then does not follow.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = mqtt_raw_client()
    raw.send_bytes(
        connect_bytes(mqtt_version, level=level, username=probe.user, password=probe.password)
    )
    data, closed = answer_bytes(raw, CLOSE_WAIT)
    probe.check(f"after a CONNECT with protocol level {level}")
    if len(data) >= 4 and data[0] == 0x20:
        assert data[3] != 0x00, f"ACCEPTED protocol level {level}: CONNACK {data[:8].hex()}"
    if not closed:
        deviation(f"protocol level {level}: connection still open after {CLOSE_WAIT}s")
