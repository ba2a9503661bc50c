"""ACL scenarios: every rule of the profile, probed from both sides.

For each password user and each rule, a fresh topic matched by the rule is published (or
subscribed to); the profile says whether it must get through. Allowed traffic must be
delivered (a broker that denies everything is not "secure", it is broken); denied traffic
must not be, which a sentinel proves.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.expect import expect_not_delivered
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab, Tally
from ._support import (
    Actor,
    MqttClientFactory,
    barred_from_getting,
    barred_from_sending,
    gets,
    probe_topics,
    sends,
    unique,
)

SPEC = ["MQTT-3.3.5-2", "MQTT-3.8.4-3", "MQTT-4.7.2-1"]


@pytest.mark.scenario(id="ACL-PUBLISH-RULES", family="acl", severity="high", spec=SPEC)
def test_publish_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Every user publishes to a topic made from every rule. Where the profile grants
    write access, a user who may read it receives the message; where it does not, that
    reader never does (sentinel from the same publisher).

    Weakness classes: write ACL not enforced, deny rules ignored, rules of one user applied
    to another, an empty or partly parsed ACL meaning "allow all" (mosquitto
    CVE-2018-12550). A denied PUBLISH may be acknowledged (3.1.1 has no code for it),
    refused with a reason code, or answered by closing the connection.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = Tally()
    for user in lab.users:
        writer = lab.actor(user)
        lab.judge_publish(writer, probe_topics(mqtt_profile, writer.client_id), tally)
    tally.require_both(mqtt_profile, "publish")


@pytest.mark.scenario(id="ACL-RECEIVE-RULES", family="acl", severity="high", spec=SPEC)
def test_receive_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Every user subscribes to a topic made from every rule, and a user who may write it
    publishes there. Where the profile grants read access the subscription is granted and
    the message delivered; where it does not, the message never arrives (the SUBACK may
    grant or refuse: mosquitto grants and filters at delivery, so delivery is the verdict).

    Weakness classes: read ACL checked at SUBSCRIBE only or not at all, deny rules for a
    sub-tree (``reports/secret/#`` under ``reports/#``) ignored, write-only users allowed to
    read their own topics back.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = Tally()
    for user in lab.users:
        reader = lab.actor(user)
        lab.judge_receive(reader, probe_topics(mqtt_profile, reader.client_id), tally)
    tally.require_both(mqtt_profile, "receive")


def _intruder_writes(lab: Lab, intruder: Actor, topic: str) -> int:
    """*intruder* publishes to *topic*; a user who may read it (and a sentinel from the
    intruder, sent on a new connection if the broker closed the first) proves it never
    arrives. 1 if observable, else 0."""
    for observer in lab.standing.values():
        if observer.user == intruder.user or not gets(observer, topic):
            continue
        sentinel = lab.sentinel(intruder, observer)
        if sentinel is None:
            continue
        assert observer.subscribe(topic, sentinel)[0] < 0x80
        payload = unique("intruder").encode()
        expect_not_delivered(
            observer, intruder, topic, payload, sentinel_topic=sentinel, sentinel_publisher=intruder
        )
        return 1
    return 0


def _intruder_reads(lab: Lab, intruder: Actor, topic: str) -> int:
    """A user who may write *topic* publishes there, then a sentinel *intruder* may read;
    the intruder, subscribed to *topic* (refused, closed or filtered), never gets the
    first. 1 if observable, else 0."""
    for writer in lab.standing.values():
        if writer.user == intruder.user or not sends(writer, topic):
            continue
        sentinel = lab.sentinel(writer, intruder)
        if sentinel is None:
            continue
        intruder.subscribe(topic)
        assert intruder.subscribe(sentinel)[0] < 0x80
        payload = unique("owner").encode()
        expect_not_delivered(intruder, writer, topic, payload, sentinel_topic=sentinel)
        return 1
    return 0


@pytest.mark.scenario(
    id="ACL-PATTERN-OTHER-USER", family="acl", severity="high", spec=["MQTT-4.7.2-1"]
)
def test_pattern_of_another_user(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A ``%u`` pattern gives each user their own sub-tree: user A may neither read nor
    write B's (``users/bob/...`` for alice), unless another rule grants it.

    Weakness classes: patterns expanded with the wrong identity or matched without
    substitution (``%u`` treated as a wildcard), so every user shares every sub-tree.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    patterns = [r.topic for r in mqtt_profile.acl if r.pattern and "%u" in r.topic]
    actors = {u: lab.actor(u) for u in lab.users}
    checked = 0
    for pattern in patterns:
        for owner in lab.users:
            topic = pattern.replace("%u", owner).replace("%c", actors[owner].client_id)
            topic = topic.replace("#", unique("x")).replace("+", unique("x"))
            mine = actors[owner]
            if not (sends(mine, topic) and gets(mine, topic)):
                continue
            for other in lab.users:
                intruder = actors[other]
                if other == owner:
                    continue
                if barred_from_getting(intruder, topic):
                    checked += _intruder_reads(lab, intruder, topic)
                if barred_from_sending(intruder, topic):
                    checked += _intruder_writes(lab, intruder, topic)
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no %u pattern to probe")
