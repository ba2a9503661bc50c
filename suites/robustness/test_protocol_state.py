"""Robustness scenarios: packets in the wrong place.

MQTT is a stateful protocol: nothing but a CONNECT may open a connection, only a server
sends acknowledgements, and the fixed header's reserved bits are fixed. A broker that acts
on a packet out of order lets an unauthenticated client publish or subscribe; one that
dereferences state that does not exist yet crashes. Each scenario requires the broker to
close the offending connection, act on nothing it sent, and keep serving the probe.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion, Publish, Suback
from mqttsec.suites.helpers import connect_bytes, unique

from ._support import (
    MqttClientFactory,
    attacker,
    open_probe,
    prove_not_forwarded,
    publish_bytes,
    refuse_and_survive,
    remaining_length,
    string,
    watcher,
)


def _subscribe_bytes(version: ProtocolVersion, *filters: str, flags: int = 0x02) -> bytes:
    """A SUBSCRIBE with packet id 1, QoS 1 per filter and fixed-header *flags* as given."""
    body = b"\x00\x01" + (b"\x00" if version is ProtocolVersion.V5 else b"")
    for topic_filter in filters:
        body += string(topic_filter.encode()) + b"\x01"
    return bytes([0x80 | flags]) + remaining_length(len(body)) + body


def _unsubscribe_bytes(version: ProtocolVersion) -> bytes:
    """An UNSUBSCRIBE with packet id 1 and no topic filter at all."""
    body = b"\x00\x01" + (b"\x00" if version is ProtocolVersion.V5 else b"")
    return b"\xa2" + remaining_length(len(body)) + body


@pytest.mark.scenario(
    id="ROB-PUBLISH-BEFORE-CONNECT",
    family="robustness",
    severity="critical",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.0-1", "MQTT-4.8.0-1"],
)
def test_publish_before_connect_not_forwarded(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH as the first packet of a connection, before any CONNECT (so before any
    authentication), followed by a valid CONNECT: the broker closes the connection and the
    message reaches nobody.

    Weakness class: a parser that dispatches whatever packet arrives, so an anonymous
    client can inject messages into topics it never had to log in for.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    watch = watcher(mqtt_raw_client, mqtt_profile, probe)
    marker = unique("pre-connect").encode()
    raw = mqtt_raw_client()
    data = publish_bytes(mqtt_version, probe.topic.encode(), marker, qos=0)
    data += connect_bytes(mqtt_version, username=probe.user, password=probe.password)
    refuse_and_survive(raw, data, "a PUBLISH before CONNECT", probe)
    prove_not_forwarded(watch, probe, marker, "a PUBLISH sent before CONNECT")


@pytest.mark.scenario(
    id="ROB-SUBSCRIBE-BEFORE-CONNECT",
    family="robustness",
    severity="critical",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.0-1", "MQTT-4.8.0-1"],
)
def test_subscribe_before_connect_gets_nothing(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A SUBSCRIBE to ``#`` before any CONNECT: no SUBACK, no message, the connection is
    closed, even while others publish.

    Weakness class: an unauthenticated reader of every topic (the subscription is created
    because the session lookup tolerates "no client yet").
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = mqtt_raw_client()
    data = _subscribe_bytes(mqtt_version, "#", probe.topic)
    got = refuse_and_survive(raw, data, "a SUBSCRIBE before CONNECT", probe)
    leaked = [p for p in got if isinstance(p, Publish | Suback)]
    assert not leaked, f"ANSWERED a SUBSCRIBE before CONNECT with {leaked!r}"


_SERVER_ONLY = {
    "suback": (b"\x90\x03\x00\x01\x00", b"\x90\x04\x00\x01\x00\x00"),
    "unsuback": (b"\xb0\x02\x00\x01", b"\xb0\x04\x00\x01\x00\x00"),
    "pingresp": (b"\xd0\x00", b"\xd0\x00"),
}
"""Packets only a server sends, as (3.1.1 bytes, 5.0 bytes)."""


@pytest.mark.scenario(
    id="ROB-CLIENT-SERVER-PACKETS",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.8.0-1", "MQTT-3.9.0", "MQTT-3.11.0", "MQTT-3.13.0"],
)
@pytest.mark.parametrize("kind", sorted(_SERVER_ONLY))
def test_server_only_packet_from_a_client(
    kind: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A logged-in client sends a SUBACK, UNSUBACK or PINGRESP: only a server sends these;
    the broker closes that connection and keeps serving everyone else.

    Weakness class: the generalisation of mosquitto CVE-2021-28166 (a client's CONNACK
    crashed the broker): handlers for server-only packets reached from the client side.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    v311, v5 = _SERVER_ONLY[kind]
    data = v5 if mqtt_version is ProtocolVersion.V5 else v311
    refuse_and_survive(raw, data, f"a {kind.upper()} sent by a client", probe)


@pytest.mark.scenario(
    id="ROB-RESERVED-PACKET-TYPE",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-2.2.1", "MQTT-4.8.0-1"],
)
def test_reserved_packet_type(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """Packet type 0 is reserved in both versions (and 15 is reserved in 3.1.1, AUTH in
    5.0): a logged-in client sending it is closed; the probe keeps working.

    Weakness class: dispatch tables indexed by the packet type without a bounds or
    reserved-value check (VerneMQ/EMQX crafted-packet DoS class).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    refuse_and_survive(raw, b"\x00\x00", "a packet of the reserved type 0", probe)
    if mqtt_version is ProtocolVersion.V311:
        raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
        refuse_and_survive(raw, b"\xf0\x00", "a packet of type 15 (reserved in 3.1.1)", probe)


@pytest.mark.scenario(
    id="ROB-SUBSCRIBE-RESERVED-FLAGS",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.8.1-1", "MQTT-2.2.2-2"],
)
def test_subscribe_with_wrong_header_flags(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A SUBSCRIBE whose fixed-header flags are not 0010 is malformed: the broker closes the
    connection and grants nothing (no SUBACK, no message on the filter).

    Weakness class: fixed-header flags ignored, so a packet the spec calls malformed is
    processed anyway (the first step of parser-confusion bugs).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    got = refuse_and_survive(
        raw,
        _subscribe_bytes(mqtt_version, probe.topic, flags=0x00),
        "a SUBSCRIBE with flags 0000",
        probe,
    )
    assert not [p for p in got if isinstance(p, Publish)], (
        f"DELIVERED on a malformed SUBSCRIBE: {got!r}"
    )


@pytest.mark.scenario(
    id="ROB-EMPTY-SUBSCRIPTION-LIST",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.8.3-3", "MQTT-3.10.3-2"],
)
@pytest.mark.parametrize("kind", ["subscribe", "unsubscribe"])
def test_subscribe_without_filters(
    kind: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A SUBSCRIBE or UNSUBSCRIBE with no topic filter at all is a protocol violation: the
    broker closes the connection rather than answering an empty acknowledgement.

    Weakness class: loops over an empty payload that read past the packet, or an empty
    SUBACK that clients then mis-parse.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    data = (
        _subscribe_bytes(mqtt_version) if kind == "subscribe" else _unsubscribe_bytes(mqtt_version)
    )
    refuse_and_survive(raw, data, f"an {kind.upper()} without topic filters", probe)
