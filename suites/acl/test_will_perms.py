"""ACL scenarios: will messages across permissions.

A will is a PUBLISH the broker makes on a client's behalf, later, when the connection
drops [MQTT-3.1.2-8]. It needs the same two checks as any PUBLISH: the author's write
access to the will topic (at CONNECT or when it is published), and each subscriber's read
access when it is delivered. Wills to reserved topics (``$SYS``, ``$CONTROL/...``, where
some brokers take administrative commands) and retained wills are the dangerous variants.

Every will here is set by a hand-built CONNECT on a raw socket that is then dropped
without DISCONNECT; the author then connects again with the same client id. When that
CONNACK arrives the broker is done with the old connection, so a will it published is
ahead of any sentinel sent afterwards.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory, deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import Connack, Disconnect, ProtocolVersion
from mqttsec.reference_broker.protocol.errors import MalformedPacket
from mqttsec.suites.helpers import connect_bytes

from ._judge import Lab
from ._support import (
    Actor,
    MqttClientFactory,
    barred_from_getting,
    barred_from_sending,
    gets,
    probe_topics,
    read_until,
    sends,
    sentinel_proof,
    unique,
)

SPEC = ["MQTT-3.1.2-8", "MQTT-3.3.5-2"]


def will_and_drop(
    raw: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    author: Actor,
    topic: bytes,
    payload: bytes,
    *,
    retain: bool = False,
) -> bool:
    """Connect as *author* with a will (QoS 1), drop the socket, reconnect with the same
    client id and disconnect cleanly. Returns whether the CONNECT with the will was
    accepted (refusing it is always safe)."""
    first = raw()
    password = profile.users[author.user].password
    will_bits = 0x08 | (0x20 if retain else 0)  # Will QoS 1, Will Retain
    first.send_bytes(
        connect_bytes(
            version,
            client_id=author.client_id.encode(),
            username=author.user,
            password=password,
            will=(topic, payload),
            will_bits=will_bits,
        )
    )
    try:
        accepted = int(first.expect(Connack).reason_code) == 0
    except MalformedPacket as exc:  # a refusal, though with a code the version lacks
        deviation(f"the CONNECT with a will was refused with an invalid CONNACK: {exc}")
        accepted = False
    except (PeerClosed, ClientTimeout):
        accepted = False
    first.close()
    if accepted:
        again = raw()
        answer = again.connect(author.client_id, username=author.user, password=password)
        assert int(answer.reason_code) == 0, f"{author!r} cannot reconnect: {answer!r}"
        again.send(Disconnect())
        again.close()
    return accepted


def drop_wills(
    raw: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    author: Actor,
    topics: list[str],
    label: str,
) -> dict[bytes, str]:
    """One :func:`will_and_drop` per topic, each with a fresh payload; returns payload ->
    topic, what a reader must never get (refusing a will is as safe as not publishing it)."""
    wills: dict[bytes, str] = {}
    for topic in topics:
        payload = unique(label).encode()
        wills[payload] = topic
        will_and_drop(raw, profile, version, author, topic.encode(), payload)
    return wills


RESERVED = ("$SYS/mqttsec/{x}", "$SYS/broker/version", "$CONTROL/dynamic-security/v1")


@pytest.mark.scenario(
    id="ACL-WILL-RESERVED-TOPICS", family="acl", severity="high", spec=["MQTT-4.7.2-1", *SPEC]
)
def test_will_to_reserved_topics(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """Users who may not write there set wills on ``$SYS/...`` and on
    ``$CONTROL/dynamic-security/v1`` (mosquitto's dynamic-security command topic) and
    drop the connection; a user subscribed to ``$SYS/#`` and ``$CONTROL/#`` never
    receives them.

    Weakness classes: wills to reserved topics accepted and published without the write
    check (KNOWN-WEAKNESSES: wills to ``$CONTROL/``), which turns a will into a forged
    broker statistic or an administrative command sent in the broker's name.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        author = lab.actor(name)
        topics = [t.replace("{x}", unique("w")) for t in RESERVED]
        if any(author.may_publish(t) for t in topics):
            continue
        plans = lab.paths()
        plans.sort(key=lambda p: not p[1].may_receive(topics[0]))  # a $SYS reader first
        if not plans:
            continue
        writer, observer = plans[0]
        sentinel = lab.listen(writer, observer)
        observer.subscribe("$SYS/#", "$CONTROL/#")
        wills = drop_wills(
            mqtt_raw_client, mqtt_profile, mqtt_version, author, topics, f"reserved-will-{name}"
        )
        sentinel_proof(writer, sentinel, observer, wills, "will-sentinel")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable reserved will")


@pytest.mark.scenario(id="ACL-WILL-READER-ACL", family="acl", severity="high", spec=SPEC)
def test_will_respects_readers(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """A user sets a will on a topic it may write and drops the connection. A user who
    may read the topic receives the will (wills work); a user who may not, subscribed to
    the topic and to ``#``, never does.

    Weakness class: wills delivered by a code path that skips the subscriber's read
    check (they are "the broker's" messages), so any ``#`` subscriber reads every
    device's will.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        author = lab.actor(name)
        for topic in probe_topics(mqtt_profile, author.client_id):
            if not sends(author, topic):
                continue
            readers = [o for o in lab.standing.values() if o.user != name and gets(o, topic)]
            blind = lab.paths(
                [
                    o
                    for o in lab.standing.values()
                    if o.user != name and barred_from_getting(o, topic)
                ]
            )
            if readers and blind:
                break
        else:
            continue
        reader = readers[0]
        writer, outsider = blind[0]
        assert reader.subscribe(topic)[0] < 0x80
        sentinel = lab.listen(writer, outsider)
        outsider.subscribe(topic)
        outsider.subscribe("#")
        payload = unique(f"will-{name}").encode()
        assert will_and_drop(
            mqtt_raw_client, mqtt_profile, mqtt_version, author, topic.encode(), payload
        ), f"{name!r} may write {topic!r}, but its will there was refused"
        got = reader.next_message()
        while got.payload != payload:
            got = reader.next_message()
        sentinel_proof(writer, sentinel, outsider, {payload: topic}, "will-sentinel")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no reader/non-reader pair for a will")


@pytest.mark.scenario(
    id="ACL-WILL-RETAINED-NO-WRITE",
    family="acl",
    severity="high",
    spec=["MQTT-3.1.2-17", "MQTT-3.3.1-5", *SPEC],
)
def test_retained_will_needs_write_access(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """A user sets a *retained* will on a topic it may not write and drops the
    connection; a reader of the topic gets nothing live, and a later subscriber finds
    nothing in the retained store.

    Weakness class: wills skip the write ACL (mochi-mqtt #503), and a retained will makes
    the forgery permanent: every future subscriber receives it.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        author = lab.actor(name)
        plan = None
        for topic in probe_topics(mqtt_profile, author.client_id):
            if not barred_from_sending(author, topic):
                continue
            plans = lab.paths(
                [o for o in lab.standing.values() if gets(o, topic)],
                [w for w in lab.standing.values() if sends(w, topic)],
            )
            if plans:
                plan = (topic, *plans[0])
                break
        if plan is None:
            continue
        topic, writer, observer = plan
        sentinel = lab.listen(writer, observer)
        observer.subscribe(topic)
        payload = unique(f"retained-will-{name}").encode()
        try:
            will_and_drop(
                mqtt_raw_client,
                mqtt_profile,
                mqtt_version,
                author,
                topic.encode(),
                payload,
                retain=True,
            )
            sentinel_proof(writer, sentinel, observer, {payload: topic}, "will-sentinel")
            late = lab.actor(observer.user)
            stored = unique("will-store-sentinel").encode()
            writer.client.publish(sentinel, stored, retain=True)
            late.subscribe(topic)
            assert late.subscribe(sentinel)[0] < 0x80
            read_until(late, stored, {payload: topic})
        finally:
            writer.client.publish(topic, b"", retain=True)
            writer.client.publish(sentinel, b"", retain=True)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden will")


@pytest.mark.scenario(
    id="ACL-WILL-WILDCARD-TOPIC",
    family="acl",
    severity="medium",
    spec=["MQTT-4.7.1-1", "MQTT-4.7.0-1", "MQTT-3.1.2-8"],
)
def test_will_topic_with_wildcards(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """Wills whose topic is a filter (``<writable prefix>/#``, ``+/<...>``, ``#``): a
    topic name must not contain wildcards, so the broker must refuse the CONNECT or
    never publish the will; no subscriber, on ``#`` or on a matching topic, gets it.

    Weakness class: a will topic validated less strictly than a PUBLISH topic, then
    matched against subscriptions as if it were a filter (one will to every device) or
    authorised as a filter the author may write into.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        author = lab.actor(name)
        topics = probe_topics(mqtt_profile, author.client_id)
        mine = next((t for t in topics if sends(author, t)), None)
        if mine is None:
            continue
        plans = lab.paths([o for o in lab.standing.values() if gets(o, mine)])
        if not plans:
            continue
        writer, observer = plans[0]
        sentinel = lab.listen(writer, observer)
        prefix = mine.rsplit("/", 1)[0]
        filters = [f"{prefix}/#", "+/" + mine.split("/", 1)[-1], "#"]
        observer.subscribe(mine, *(f for f in filters if f != "#"))
        wills = drop_wills(
            mqtt_raw_client, mqtt_profile, mqtt_version, author, filters, "wildcard-will"
        )
        sentinel_proof(writer, sentinel, observer, wills, "will-sentinel")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable will topic")
