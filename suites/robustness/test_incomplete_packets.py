"""Robustness scenarios: packets that announce more than they bring, or more than the
broker accepts. A broker must neither forward a partial message nor let one client's
unfinished or oversized packet stall the others.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientError, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget
from mqttsec.reference_broker.protocol import PropertyId, ProtocolError, ProtocolVersion
from mqttsec.suites.helpers import unique

from ._support import (
    MqttClientFactory,
    attacker,
    closed_or_refused,
    open_probe,
    remaining_length,
    string,
)


@pytest.mark.scenario(
    id="ROB-TRUNCATED-PACKET",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-2.2.3", "MQTT-4.8.0-1"],
)
def test_truncated_publish_not_forwarded(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH whose Remaining Length promises more bytes than are sent, then silence:
    nothing of it reaches the probe (which is subscribed to its topic), and the probe keeps
    round-tripping while the attacker's packet hangs half-read.

    Weakness class: brokers that act on a partial packet, or block their event loop
    reading one client (RabbitMQ CVE-2021-22116, VerneMQ/EMQX crafted-packet DoS class).
    The probe's own message is the sentinel: it arrives after the partial one would have.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    marker = unique("partial").encode()
    body = string(probe.topic.encode()) + (b"\x00" if mqtt_version is ProtocolVersion.V5 else b"")
    body += marker
    promised = len(body) + 1000
    raw.send_bytes(b"\x30" + remaining_length(promised) + body)
    sentinel = unique("mqttsec-sentinel").encode()
    probe.client.publish(probe.topic, sentinel, qos=1)
    while True:
        message = probe.client.next_message()
        assert marker not in message.payload, f"FORWARDED a partial PUBLISH: {message!r}"
        if message.payload == sentinel:
            break
    probe.check("while another client's packet is half-sent")


def _announced_limit(
    raw: RawClientFactory, profile: SecurityProfile, target: RunningTarget, user: str
) -> int | None:
    """The Maximum Packet Size the broker announces in a 5.0 CONNACK on the same listener
    (a broker enforces one limit whatever the version); None when it announces none, or
    does not speak 5.0 at all (it then refuses or drops the 5.0 CONNECT)."""
    if Capability.MQTT5 not in target.capabilities:
        return None
    client = raw(version=ProtocolVersion.V5)
    password = profile.users[user].password
    try:
        answer = client.connect(unique("mqttsec-rob"), username=user, password=password)
    except (ClientError, ProtocolError):
        return None
    finally:
        client.close()
    limit = answer.properties.get(PropertyId.MAXIMUM_PACKET_SIZE)
    return limit if int(answer.reason_code) == 0 and isinstance(limit, int) else None


_BEYOND_PROTOCOL = b"\x30\xff\xff\xff\xff\x01"
"""A PUBLISH fixed header whose Remaining Length needs a fifth byte: beyond the protocol's
absolute maximum (268,435,455), malformed for every broker [MQTT-1.5.5-1]."""


_MAX_ATTEMPT = 32 * 1024 * 1024
"""The largest packet this scenario sends (bounded memory and time)."""


@pytest.mark.scenario(
    id="ROB-PACKET-TOO-LARGE",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-24", "MQTT-3.2.2-15", "MQTT-1.5.5-1"],
)
def test_packet_larger_than_the_limit(
    mqtt_target: RunningTarget,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH one byte larger than the Maximum Packet Size the broker announces in a 5.0
    CONNACK (for a broker announcing none, or more than 32 MB: a Remaining Length beyond the
    protocol's absolute maximum, malformed everywhere): the broker closes the sender (5.0
    may send DISCONNECT 0x95 first), delivers nothing of it, and the probe keeps working.

    Weakness class: unbounded buffering of a client's packet (memory exhaustion DoS,
    RabbitMQ CVE-2021-22116 / VerneMQ / EMQX DoS class).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    limit = _announced_limit(mqtt_raw_client, mqtt_profile, mqtt_target, probe.user)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    marker = unique("oversize").encode()
    if limit is None or limit > _MAX_ATTEMPT:
        # No usable declared limit: exceed the protocol's own maximum instead.
        data = _BEYOND_PROTOCOL + string(probe.topic.encode()) + marker
        what = "a PUBLISH header beyond the protocol's maximum Remaining Length"
    else:
        head = string(probe.topic.encode())
        head += b"\x00" if mqtt_version is ProtocolVersion.V5 else b""
        size = limit + 1
        rest = size - 1 - len(remaining_length(size))  # remaining length of `size` bytes
        payload = marker + b"x" * (rest - len(head) - len(marker))
        data = b"\x30" + remaining_length(rest) + head + payload
        assert len(data) > limit
        what = f"a {len(data)}-byte PUBLISH (announced limit {limit})"
    try:
        raw.send_bytes(data)
    except PeerClosed:
        pass  # closed while we were still sending: that is the point
    closed_or_refused(raw, what)
    sentinel = unique("mqttsec-sentinel").encode()
    probe.client.publish(probe.topic, sentinel, qos=1)
    while True:
        message = probe.client.next_message()
        assert marker not in message.payload[: len(marker)], "FORWARDED the oversized PUBLISH"
        if message.payload == sentinel:
            break
    probe.check("after another client sent an oversized packet")
