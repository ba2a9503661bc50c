"""ACL scenarios: protocol options around a denied message.

MQTT 5 adds subscription options (no-local, retain-as-published, retain handling) and
subscription identifiers; QoS 1 and 2 add acknowledgement flows. None of them may open a
side door around the ACL: a forbidden filter with options is still forbidden, and a denied
QoS 1/2 PUBLISH ends in an answer the spec allows, without the message ever reaching
anyone. Under 5.0 a denied PUBLISH is answered with reason code 0x87 (Not authorized) in
PUBACK/PUBREC; under 3.1.1, which cannot say "denied", the broker acknowledges normally or
closes the connection [MQTT-3.3.5-2].
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory, deviation, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import (
    Properties,
    ProtocolVersion,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    QoS,
    RetainHandling,
    Suback,
    Subscribe,
    Subscription,
)

from ._judge import Lab
from ._support import (
    Actor,
    MqttClientFactory,
    RawReader,
    barred_from_getting,
    barred_from_sending,
    probe_topics,
    raw_reader,
    read_until,
    sentinel_proof,
    unique,
)
from .test_escalation import leaks, substituted


def subscribe_all(reader: RawReader, packets: list[Subscribe], forbidden: dict[bytes, str]) -> None:
    """Send every SUBSCRIBE and read until each one's SUBACK; a PUBLISH arriving in
    between (a retained message of an earlier SUBSCRIBE) is judged as :func:`read_until`
    judges: no forbidden payload, no topic the reader may not read."""
    reader.raw.send(*packets)
    waiting = {p.packet_id for p in packets}
    while waiting:
        packet = reader.raw.recv()
        if isinstance(packet, Suback):
            waiting.discard(packet.packet_id)
            continue
        assert isinstance(packet, Publish), f"{reader.user!r}: unexpected {packet!r}"
        if packet.qos == QoS(1) and packet.packet_id is not None:
            reader.raw.send(Puback(packet.packet_id))
        payload = bytes(packet.payload)
        assert payload not in forbidden, (
            f"LEAK: {reader.user!r} received {payload!r} published to {forbidden[payload]!r}"
        )
        assert not barred_from_getting(reader, packet.topic), (
            f"LEAK: {reader.user!r} received a message on {packet.topic!r}, which the "
            "profile forbids it to read"
        )


@pytest.mark.scenario(
    id="ACL-V5-SUBSCRIPTION-ID",
    family="acl",
    severity="medium",
    versions=["5.0"],
    spec=["MQTT-3.8.4-3", "MQTT-3.3.4-3"],
)
def test_subscription_identifier_is_no_bypass(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
) -> None:
    """A user subscribes to forbidden filters with Subscription Identifiers (one per
    SUBSCRIBE, the largest one 268435455), then to its sentinel with another; nothing
    forbidden arrives, however the identifiers are attached.

    Weakness class: SUBSCRIBE packets with properties parsed by a second code path (the
    identifier bookkeeping) that stores the subscription without the read check.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = raw_reader(mqtt_raw_client, mqtt_profile, name, lab.limits)
        chosen = leak.forbidden[:3]
        filters = [*chosen, *(f for t in chosen for f in substituted(t)), "#"]
        forbidden = {unique("subid").encode(): t for t in chosen}
        packets = [
            Subscribe(
                pid,
                (Subscription(topic_filter, QoS(1)),),
                Properties.of(subscription_identifier=268_435_455 if pid == 1 else pid),
            )
            for pid, topic_filter in enumerate([*dict.fromkeys(filters), leak.sentinel], start=1)
        ]
        subscribe_all(reader, packets, forbidden)
        for payload, topic in forbidden.items():
            leak.writer.publish(topic, payload)
        token = unique("subid-sentinel").encode()
        leak.writer.publish(leak.sentinel, token)
        read_until(reader, token, forbidden)
        checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(
    id="ACL-V5-SUBSCRIBE-OPTIONS",
    family="acl",
    severity="medium",
    versions=["5.0"],
    spec=["MQTT-3.8.3-3", "MQTT-3.3.1-9", "MQTT-3.3.1-10", "MQTT-3.8.4-3"],
)
def test_subscribe_options_are_no_bypass(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
) -> None:
    """Retained and live messages on topics a user may not read; it subscribes to them
    with every combination of no-local, retain-as-published and retain handling 0/1/2.
    Neither the retained nor the live messages arrive.

    Weakness class: the retained-message path for "retain handling 0/1" or the
    "retain-as-published" forwarding flag implemented beside the normal delivery path,
    without its read check.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = raw_reader(mqtt_raw_client, mqtt_profile, name, lab.limits)
        chosen = leak.forbidden[:2]
        retained = {unique("opt-retained").encode(): t for t in chosen}
        try:
            for payload, topic in retained.items():
                leak.writer.client.publish(topic, payload, retain=True)
            subs = [
                Subscription(
                    t,
                    QoS(1),
                    no_local=nl,
                    retain_as_published=rap,
                    retain_handling=RetainHandling(rh),
                )
                for t in [*chosen, "#"]
                for nl in (False, True)
                for rap in (False, True)
                for rh in (0, 1, 2)
            ]
            packets = [Subscribe(i + 1, tuple(subs[i : i + 6])) for i in range(0, len(subs), 6)]
            packets.append(Subscribe(999, (Subscription(leak.sentinel, QoS(1)),)))
            subscribe_all(reader, packets, retained)
            live = {unique("opt-live").encode(): t for t in chosen}
            for payload, topic in live.items():
                leak.writer.publish(topic, payload)
            token = unique("opt-sentinel").encode()
            leak.writer.publish(leak.sentinel, token)
            read_until(reader, token, {**retained, **live})
        finally:
            for topic in chosen:
                leak.writer.client.publish(topic, b"", retain=True)
        checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


def _denied_plans(lab: Lab) -> list[tuple[str, str]]:
    """(user, a topic it may not write that someone may read), one per user."""
    out = []
    for name in lab.users:
        for topic in probe_topics(lab.profile, unique("cid")):
            author = lab.actor(name)
            if barred_from_sending(author, topic) and lab.observer_for(topic, author) is not None:
                out.append((name, topic))
                break
    return out


def _denied_setup(
    lab: Lab, raw: RawClientFactory, name: str, topic: str
) -> tuple[Actor, Actor, str, RawReader]:
    """For *name* publishing to *topic*, which it may not write: the author's actor, an
    observer subscribed to *topic* and to the author's sentinel, that sentinel, and a raw
    connection of the author's to publish the denied message on."""
    author = lab.actor(name)
    observer = lab.observer_for(topic, author)
    assert observer is not None
    sentinel = lab.listen(author, observer)
    observer.subscribe(topic)
    return author, observer, sentinel, raw_reader(raw, lab.profile, name)


def _judge_ack(version: ProtocolVersion, code: int | None, closed: bool, what: str) -> None:
    """Record what the spec says of the answer to a denied QoS 1/2 PUBLISH."""
    if closed:
        return  # both versions allow closing [MQTT-3.3.5-2]
    if version is ProtocolVersion.V5 and code is not None and code < 0x80:
        deviation(f"{what}: a denied PUBLISH acknowledged with success {code:#04x}, not 0x87")


@pytest.mark.scenario(
    id="ACL-PUBLISH-DENIED-QOS1",
    family="acl",
    severity="medium",
    spec=["MQTT-3.3.5-2", "MQTT-3.3.4-1", "MQTT-4.3.2-1"],
)
def test_denied_qos1_publish(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """Each user publishes at QoS 1 to a topic it may not write, on a raw socket. The
    broker answers with a PUBACK for the same packet id (5.0: reason code 0x87 or
    another error code; 3.1.1: a plain PUBACK) or closes the connection; a reader of the
    topic never receives the message. A success code under 5.0 is a deviation (the
    client is told its data was accepted).

    Weakness class: denied publishes that still get delivered on the QoS 1 path (the ACL
    check only on the QoS 0 fast path), or an acknowledgement flow left hanging.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, topic in _denied_plans(lab):
        author, observer, sentinel, raw = _denied_setup(lab, mqtt_raw_client, name, topic)
        payload = unique(f"qos1-{name}").encode()
        try:
            ack = raw.raw.publish(topic, payload, qos=1, packet_id=7)
        except (PeerClosed, ClientTimeout):
            ack, closed = None, True
        else:
            closed = False
            assert isinstance(ack, Puback) and ack.packet_id == 7, f"answer {ack!r}, not PUBACK 7"
        code = int(ack.reason_code) if isinstance(ack, Puback) else None
        _judge_ack(mqtt_version, code, closed, f"{name!r} on {topic!r}")
        sentinel_proof(author, sentinel, observer, {payload: topic}, "qos1-sentinel")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden topic")


@pytest.mark.scenario(
    id="ACL-PUBLISH-DENIED-QOS2",
    family="acl",
    severity="medium",
    spec=["MQTT-3.3.5-2", "MQTT-4.3.3-1", "MQTT-4.3.3-2"],
)
def test_denied_qos2_publish(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """Each user publishes at QoS 2 to a topic it may not write. The broker answers
    PUBREC (5.0: 0x87 or another error, and the flow ends there; 3.1.1: a normal
    PUBREC, then PUBCOMP for our PUBREL) or closes; the message never reaches a reader,
    neither at PUBLISH nor at PUBREL time.

    Weakness class: QoS 2 messages authorised at PUBLISH and released unchecked at
    PUBREL (or the reverse), so the ACL sees one half of a two-step delivery.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, topic in _denied_plans(lab):
        author, observer, sentinel, raw = _denied_setup(lab, mqtt_raw_client, name, topic)
        payload = unique(f"qos2-{name}").encode()
        closed = False
        code = None
        try:
            rec = raw.raw.publish(topic, payload, qos=2, packet_id=9)
            assert isinstance(rec, Pubrec) and rec.packet_id == 9, f"answer {rec!r}, not PUBREC 9"
            code = int(rec.reason_code)
            if code < 0x80:  # the flow goes on: release it, the broker completes it
                raw.raw.send(Pubrel(9))
                comp = raw.raw.expect(Pubcomp)
                assert comp.packet_id == 9, f"PUBCOMP for {comp.packet_id}, not 9"
        except (PeerClosed, ClientTimeout):
            closed = True
        _judge_ack(mqtt_version, code, closed, f"{name!r} on {topic!r}")
        sentinel_proof(author, sentinel, observer, {payload: topic}, "qos2-sentinel")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden topic")
