"""Robustness scenarios: PUBLISH packets the spec calls malformed.

A PUBLISH is the one packet a broker passes on to other clients, so a malformed one is
dangerous twice: it can crash the broker, and, forwarded, it carries the malformation to
every subscriber (whose own parsers may be weaker). Each scenario sends one from a
logged-in client and requires the broker to close that client, to forward nothing of it
(proven with a sentinel to a ``#`` watcher), and to keep serving the probe.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import PropertyId, ProtocolVersion
from mqttsec.suites.helpers import unique

from ._support import (
    MqttClientFactory,
    attacker,
    open_probe,
    publish_bytes,
    refuse_and_survive,
    watched_attack,
)


@pytest.mark.scenario(
    id="ROB-PUBLISH-QOS3",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.3.1-4"],
)
def test_qos_3_not_forwarded(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH with both QoS bits set (QoS 3, which does not exist): the broker closes
    the sender and delivers nothing of it.

    Weakness class: a QoS taken from the header without a range check, used as an index
    into per-QoS tables (out-of-bounds read) or passed on to subscribers as is.
    """
    attack = watched_attack(mqtt_client, mqtt_raw_client, mqtt_profile)
    marker = unique("qos3").encode()
    data = publish_bytes(mqtt_version, attack.probe.topic.encode(), marker, qos=3)
    attack.refused_unforwarded(data, marker, "a PUBLISH with QoS 3")


@pytest.mark.scenario(
    id="ROB-WILDCARD-TOPIC-NAME",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.3.2-2", "MQTT-4.7.1-1"],
)
@pytest.mark.parametrize("wildcard", ["+", "#"])
def test_wildcard_topic_name_not_forwarded(
    wildcard: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH to a topic *name* containing ``+`` or ``#`` (wildcards belong to filters
    only) is refused, and reaches no subscriber.

    Weakness class: a publish to ``a/#`` matched as if it were a filter (one message
    fanned out to topics the publisher may not write), or an ACL checked on the literal
    string while delivery treats it as a pattern.
    """
    attack = watched_attack(mqtt_client, mqtt_raw_client, mqtt_profile)
    marker = unique("wildcard").encode()
    topic = attack.probe.stem.encode() + marker + b"/" + wildcard.encode()
    data = publish_bytes(mqtt_version, topic, marker, qos=1)
    attack.refused_unforwarded(data, marker, f"a PUBLISH to the topic name {topic!r}")


@pytest.mark.scenario(
    id="ROB-PUBLISH-PACKET-ID-ZERO",
    family="robustness",
    severity="low",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-2.3.1-1", "MQTT-2.2.1-3"],
)
def test_packet_id_zero(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A QoS 1 PUBLISH with packet identifier 0 (reserved: identifiers are non-zero) is
    refused rather than acknowledged, and the probe keeps working.

    Weakness class: identifier 0 used as "no identifier" internally, so a client can make
    the broker confuse its in-flight state (lost or duplicated acknowledgements).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    marker = unique("pid0").encode()
    data = publish_bytes(mqtt_version, probe.topic.encode(), marker, qos=1, packet_id=0)
    refuse_and_survive(raw, data, "a QoS 1 PUBLISH with packet id 0", probe)


_BAD_PROPERTIES = {
    "duplicate-payload-format": bytes([PropertyId.PAYLOAD_FORMAT_INDICATOR, 0]) * 2,
    "unknown-id-0x7f": b"\x7f\x00",
    "connect-only-property": bytes([PropertyId.SESSION_EXPIRY_INTERVAL]) + b"\x00\x00\x00\x10",
}
"""5.0 PUBLISH property sections that are malformed or a protocol error."""


@pytest.mark.scenario(
    id="ROB-PUBLISH-BAD-PROPERTIES",
    family="robustness",
    severity="medium",
    versions=("5.0",),
    spec=["MQTT-2.2.2-1", "MQTT-3.3.2.3"],
)
@pytest.mark.parametrize("variant", sorted(_BAD_PROPERTIES))
def test_bad_publish_properties(
    variant: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A 5.0 PUBLISH whose properties are invalid: a property given twice that may appear
    only once, an identifier that does not exist, a property that belongs to CONNECT. The
    broker closes the sender (DISCONNECT 0x81/0x82) and forwards nothing.

    Weakness class: property parsers that skip unknown identifiers by guessing their length
    (desynchronising the stream) or keep the last of two values while an ACL plugin saw the
    first.
    """
    attack = watched_attack(mqtt_client, mqtt_raw_client, mqtt_profile)
    marker = unique("props").encode()
    topic = attack.probe.topic.encode()
    data = publish_bytes(mqtt_version, topic, marker, qos=1, properties=_BAD_PROPERTIES[variant])
    attack.refused_unforwarded(data, marker, f"a PUBLISH with bad properties ({variant})")


@pytest.mark.scenario(
    id="ROB-TOPIC-ALIAS-INVALID",
    family="robustness",
    severity="medium",
    versions=("5.0",),
    spec=["MQTT-3.3.2-8", "MQTT-3.3.2-9", "MQTT-3.3.2-10"],
)
@pytest.mark.parametrize("variant", ["zero", "above-maximum"])
def test_invalid_topic_alias(
    variant: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A 5.0 PUBLISH with Topic Alias 0, or one above the Topic Alias Maximum the broker
    announced in its CONNACK (0 when it announced none): the broker closes the sender
    (DISCONNECT 0x94) and delivers nothing.

    Weakness class: alias tables indexed without a bounds check (out-of-bounds write), or
    an alias resolved to another client's topic.
    """
    attack = watched_attack(mqtt_client, mqtt_raw_client, mqtt_profile)
    maximum = attack.connack.properties.get(PropertyId.TOPIC_ALIAS_MAXIMUM, 0)
    assert isinstance(maximum, int)
    alias = 0 if variant == "zero" else maximum + 1
    marker = unique("alias").encode()
    properties = bytes([PropertyId.TOPIC_ALIAS]) + alias.to_bytes(2, "big")
    topic = attack.probe.topic.encode()
    data = publish_bytes(mqtt_version, topic, marker, qos=1, properties=properties)
    what = f"a PUBLISH with Topic Alias {alias} (announced maximum {maximum})"
    attack.refused_unforwarded(data, marker, what)


@pytest.mark.scenario(
    id="ROB-NON-MINIMAL-LENGTH",
    family="robustness",
    severity="low",
    versions=("5.0",),
    spec=["MQTT-1.5.5-1"],
)
def test_non_minimal_remaining_length(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PINGREQ whose Remaining Length 0 is written in two bytes (``80 00``): 5.0 requires
    the shortest encoding, so the broker closes the connection instead of answering.

    Weakness class: two parsers (a proxy and the broker, or the size check and the decoder)
    disagreeing on where a packet ends: request smuggling past a limit or filter.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    refuse_and_survive(raw, b"\xc0\x80\x00", "a PINGREQ with a two-byte Remaining Length 0", probe)
