"""ACL scenarios: persistent sessions, resumed.

A persistent session outlives its connection: its subscriptions stay, and QoS 1/2
messages for it are queued while the client is away [MQTT-3.1.2-4], [MQTT-4.1.0-1]. On
reconnect the queue is delivered and the old subscriptions deliver again, without any new
SUBSCRIBE: a broker that judged the read ACL only at SUBSCRIBE time has nothing left to
check then. Queued messages must have been checked against the reader, and, where the
target can change permissions while running, a session must lose what its user lost
(mosquitto CVE-2021-34434).
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.security.acl import Grant

from ._judge import Lab
from ._reload import permissions_changed
from ._support import Actor, MqttClientFactory, probe_topics, prove_absent, read_until, unique
from .test_escalation import leaks

SPEC = ["MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-4.1.0-1", "MQTT-3.8.4-3"]
SESSION_EXPIRY = 300


def resume(factory: MqttClientFactory, actor: Actor) -> None:
    """(Re)connect *actor* to its persistent session: clean session 0 (3.1.1) or clean
    start 0 with a session expiry interval (5.0)."""
    client = factory(actor.user, client_id=actor.client_id, clean=False, connect=False)
    code = client.connect(session_expiry=SESSION_EXPIRY)
    assert code == 0, f"{actor!r} cannot resume its session: {code!r} {client.refusal}"
    actor.attach(client)


def discard(factory: MqttClientFactory, actor: Actor) -> None:
    """End *actor*'s persistent session (a clean connect), so none outlives the test."""
    actor.close()
    factory(actor.user, client_id=actor.client_id).close()


@pytest.mark.scenario(id="ACL-SESSION-QUEUED-NO-READ", family="acl", severity="high", spec=SPEC)
def test_queued_messages_respect_read_acl(
    mqtt_client: MqttClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
) -> None:
    """A user with a persistent session subscribes to topics it may not read (and to
    ``#``), and to a sentinel topic, then disconnects. A writer publishes to the
    forbidden topics and the sentinel at QoS 1 while it is away. On resume, the queued
    sentinel arrives and none of the forbidden messages do; published again live, they
    still do not.

    Weakness class: the offline queue filled from the subscription table without the
    read check (it was "already granted" at SUBSCRIBE), or resumed subscriptions
    re-activated without it.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        try:
            resume(mqtt_client, reader)
            chosen = list(leak.forbidden[:4])
            granted = []
            for topic_filter in (*chosen, "#"):
                codes = reader.try_subscribe(topic_filter)
                if codes is None:  # refused by closing: back to the session
                    resume(mqtt_client, reader)
                elif codes[0] < 0x80:
                    granted.append(topic_filter)
            chosen = lab.beyond_limits(reader, granted, chosen)
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            reader.close()
            queued = {unique("queued").encode(): t for t in chosen}
            for payload, topic in queued.items():
                leak.writer.publish(topic, payload)
            token = unique("queued-sentinel").encode()
            leak.writer.publish(leak.sentinel, token)
            resume(mqtt_client, reader)
            read_until(reader, token, queued)
            live = [(t, unique("live").encode()) for t in chosen]
            prove_absent(reader, leak.writer, live, leak.sentinel)
        finally:
            discard(mqtt_client, reader)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(id="ACL-SESSION-READ-REVOKED", family="acl", severity="high", spec=SPEC)
def test_session_loses_revoked_read_access(
    mqtt_client: MqttClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
) -> None:
    """A user with a persistent session subscribes to a topic it may read, and
    disconnects; its read access to that topic is revoked (ACL reloaded) and a writer
    publishes there at QoS 1 while it is away. On resume the message is not delivered,
    and the resumed subscription delivers nothing new either. Unsupported on targets
    that cannot reload their ACL.

    Weakness class: a durable subscription kept after read access was revoked, and the
    messages queued for it delivered on reconnect (mosquitto CVE-2021-34434).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    plan = None
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        for topic in probe_topics(mqtt_profile, leak.writer.client_id):
            readable = leak.writer.may_publish(topic) and reader.may_receive(topic)
            if readable and topic != leak.sentinel:
                plan = (reader, leak, topic)
                break
        if plan:
            break
    if plan is None:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: no reader whose access can be revoked")
    assert plan is not None
    reader, leak, topic = plan
    try:
        resume(mqtt_client, reader)
        assert reader.subscribe(topic, leak.sentinel)[0] < 0x80
        reader.close()
        revoke = (AclEntry(topic=topic, access=Grant.DENY, user=reader.user),)
        with permissions_changed(mqtt_target, mqtt_client, mqtt_profile, revoke) as changed:
            revoked = Actor(mqtt_client, changed, reader.user, client_id=reader.client_id)
            assert not revoked.may_receive(topic)
            queued = unique("revoked-queued").encode()
            leak.writer.publish(topic, queued)
            token = unique("revoked-sentinel").encode()
            leak.writer.publish(leak.sentinel, token)
            resume(mqtt_client, revoked)
            try:
                read_until(revoked, token, {queued: topic})
                live = [(topic, unique("revoked-live").encode())]
                prove_absent(revoked, leak.writer, live, leak.sentinel)
            except AssertionError as exc:
                raise AssertionError(
                    f"{reader.user!r} lost read access to {topic!r} while away, yet its "
                    f"resumed session received it: {exc}"
                ) from None
            revoked.close()
    finally:
        discard(mqtt_client, reader)
