"""ACL scenarios: a wildcard subscription must not widen what a user may read.

A user with narrow read rights subscribes to filters that match far more than the
profile grants: ``#``, ``+/#``, ``$SYS/#``, shared subscriptions. A broker may refuse such a
SUBSCRIBE (the reference broker does) or grant it and filter each message at delivery
(mosquitto does); both are fine. What is judged is what is *delivered*: nothing the user
may not read, proven by a sentinel from the same publisher.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab
from ._support import MqttClientFactory, narrow_readers, plan_leak, prove_absent, unique


def _escalate(lab: Lab, filters: list[str]) -> None:
    """For every narrow reader and every filter in *filters*: a fresh connection subscribes
    to the filter (and to a sentinel topic it may read); a writer publishes every probe
    topic the reader may not read, then the sentinel. Nothing forbidden may arrive."""
    checked = 0
    for name in lab.users:
        probe = lab.actor(name)
        if not narrow_readers(lab.profile, [probe]):
            continue
        leak = plan_leak(lab.profile, lab.standing.values(), probe)
        if leak is None:
            continue
        for topic_filter in filters:
            reader = lab.actor(name)
            codes = reader.subscribe(topic_filter)  # granted, refused or closed: all fine
            granted = [topic_filter] if codes[0] < 0x80 else []
            topics = lab.beyond_limits(reader, granted, leak.forbidden)
            if not topics:
                continue
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            forbidden = [(t, unique(f"wild-{name}").encode()) for t in topics]
            prove_absent(reader, leak.writer, forbidden, leak.sentinel)
            checked += 1
    if not checked:
        lab.nothing_checked(f"profile {lab.profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(
    id="ACL-WILDCARD-ALL",
    family="acl",
    severity="critical",
    spec=["MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-3.8.4-3"],
)
def test_multi_level_wildcards(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Each user who may not read everything subscribes to ``#``, ``+/#``, ``+/+``,
    ``+/+/#`` and ``+/+/+/#``; messages on topics it may not read never reach it.

    Weakness classes: ACL checked against the subscription's filter text instead of each
    delivered topic (``#`` not matching a deny rule literally), subscription ACL granted
    and read ACL never checked at delivery; the first thing any attacker tries
    (``mosquitto_sub -t '#'``).
    """
    _escalate(Lab(mqtt_client, mqtt_profile, mqtt_target), ["#", "+/#", "+/+", "+/+/#", "+/+/+/#"])


@pytest.mark.scenario(
    id="ACL-WILDCARD-SYS",
    family="acl",
    severity="medium",
    spec=["MQTT-4.7.2-1"],
)
def test_sys_topics(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Each user who may not read everything subscribes to ``$SYS/#``, ``$SYS/+/#`` and
    ``$SYS/broker/#``; no ``$SYS`` message it may not read is delivered (brokers keep
    retained ``$SYS`` topics, delivered at once on SUBSCRIBE, before the sentinel).

    Weakness classes: ``$SYS`` readable by every user (broker version, client counts and
    client ids for reconnaissance); ACLs that treat ``$`` topics as outside the ACL.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _escalate(lab, ["$SYS/#", "$SYS/+/#", "$SYS/broker/#"])


@pytest.mark.scenario(
    id="ACL-WILDCARD-SHARED",
    family="acl",
    severity="high",
    spec=["MQTT-4.8.2-1", "MQTT-4.8.2-2"],
)
def test_shared_subscriptions(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Each user who may not read everything subscribes to ``$share/<group>/#`` and
    ``$share/<group>/+/#``; as the only member of its group it would get every message,
    but none it may not read may arrive.

    Weakness classes: shared subscriptions handled by a separate code path that skips the
    read ACL, or judged by the ``$share/...`` prefix instead of the inner filter.
    """
    group = unique("grp")
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _escalate(lab, [f"$share/{group}/#", f"$share/{group}/+/#"])
