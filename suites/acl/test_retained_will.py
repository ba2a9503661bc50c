"""ACL scenarios: messages that outlive their publish, retained messages and wills, obey the
ACL of whoever receives them and of whoever wrote them.

A retained message is delivered later, to subscribers that did not exist when it was
published; a will is published by the broker on the client's behalf. Both are second code
paths for delivery, and both have shipped without the ACL check of the first.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory, deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Disconnect,
    ProtocolVersion,
    QoS,
    Will,
)
from mqttsec.reference_broker.protocol.errors import MalformedPacket

from ._judge import Lab
from ._support import (
    Actor,
    MqttClientFactory,
    barred_from_sending,
    gets,
    narrow_readers,
    plan_leak,
    probe_topics,
    read_until,
    unique,
)


@pytest.mark.scenario(
    id="ACL-RETAINED-NO-READ",
    family="acl",
    severity="high",
    spec=["MQTT-3.3.1-6", "MQTT-3.8.4-3"],
)
def test_retained_needs_read_access(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """An allowed writer leaves retained messages on topics a reader may not read; the
    reader then subscribes to each of them, and to ``#``: none of them is delivered (the
    retained sentinel, subscribed to last, arrives after everything retained before it).

    Weakness classes: retained messages sent from the store on SUBSCRIBE without the read
    check that live messages get (mosquitto CVE-2018-12546 is the related "retained
    message outlives the writer's access" class).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        reader = lab.actor(name)
        if not narrow_readers(mqtt_profile, [reader]):
            continue
        leak = plan_leak(mqtt_profile, lab.standing.values(), reader)
        if leak is None:
            continue
        retained = {unique(f"retained-{name}").encode(): t for t in leak.forbidden}
        token = unique("retained-sentinel").encode()
        try:
            for payload, topic in retained.items():
                leak.writer.client.publish(topic, payload, retain=True)
            leak.writer.client.publish(leak.sentinel, token, retain=True)
            for topic in leak.forbidden:
                reader.subscribe(topic)  # refused, closed, or granted and filtered
            granted = ["#"] if reader.subscribe("#")[0] < 0x80 else []
            kept = lab.beyond_limits(reader, granted, leak.forbidden)
            forbidden = {p: t for p, t in retained.items() if t in kept}
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            read_until(reader, token, forbidden)
        finally:
            for topic in (*leak.forbidden, leak.sentinel):
                leak.writer.client.publish(topic, b"", retain=True)
        checked += bool(forbidden)
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


def _send_will_and_drop(
    raw_factory: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    user: Actor,
    topic: str,
    payload: bytes,
) -> None:
    """Connect as *user* with a will on *topic* and drop the socket without DISCONNECT
    (the will must be published), then connect again with the same client id and a clean
    start. When that second CONNACK arrives the broker is done with the first connection
    (closed it, or took it over): a will it published is ahead of any later sentinel."""
    raw = raw_factory()
    connect = Connect(
        client_id=user.client_id,
        protocol_version=version,
        keep_alive=30,
        username=user.user,
        password=profile.users[user.user].password.encode(),
        will=Will(topic, payload, QoS(1)),
    )
    raw.send(connect)
    try:
        accepted = int(raw.expect(Connack).reason_code) == 0
    except MalformedPacket as exc:  # a refusal, though with a code the version lacks
        deviation(f"the CONNECT with a will was refused with an invalid CONNACK: {exc}")
        accepted = False
    except (PeerClosed, ClientTimeout):
        accepted = False  # refusing a will the user may not write is fine
    raw.close()
    if accepted:
        again = raw_factory()
        answer = again.connect(
            user.client_id, username=user.user, password=profile.users[user.user].password
        )
        assert int(answer.reason_code) == 0, f"{user!r} cannot reconnect: {answer!r}"
        again.send(Disconnect())
        again.close()


@pytest.mark.scenario(
    id="ACL-WILL-NO-WRITE",
    family="acl",
    severity="high",
    spec=["MQTT-3.1.2-8", "MQTT-3.1.2-10"],
)
def test_will_needs_write_access(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
    mqtt_target: RunningTarget,
) -> None:
    """A user sets a will on a topic it may not write and drops the connection without
    DISCONNECT, which publishes wills [MQTT-3.1.2-8]; then it reconnects with the same
    client id (after that CONNACK the broker is done with the old connection). A user who
    may read the will's topic never receives it. Refusing the CONNECT (0x87 / 0x05) is
    fine too.

    Weakness classes: will messages published by the broker without the write ACL check
    of a normal PUBLISH (mochi-mqtt #503), so any user can write anywhere once.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        author = lab.actor(name)
        for topic in probe_topics(mqtt_profile, author.client_id):
            if not barred_from_sending(author, topic):
                continue
            found = [
                (o, w, s)
                for o in lab.standing.values()
                if gets(o, topic)
                for w in lab.standing.values()
                if (s := lab.sentinel(w, o)) is not None
            ]
            if not found:
                continue
            observer, writer, sentinel = found[0]
            observer.subscribe(topic)
            assert observer.subscribe(sentinel)[0] < 0x80
            payload = unique(f"will-{name}").encode()
            _send_will_and_drop(mqtt_raw_client, mqtt_profile, mqtt_version, author, topic, payload)
            token = unique("will-sentinel").encode()
            writer.send_sentinel(sentinel, token)
            read_until(observer, token, {payload: topic})
            checked += 1
            break  # one forbidden will per user keeps the scenario fast
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden will")
