"""ACL scenarios: a wildcard subscription must not widen what a user may read.

A user with narrow read rights subscribes to filters that match far more than the
profile grants: ``#``, ``+/#``, ``$SYS/#``, shared subscriptions. A broker may refuse such a
SUBSCRIBE (the reference broker does) or grant it and filter each message at delivery
(mosquitto does); both are fine. What is judged is what is *delivered*: nothing the user
may not read, proven by a sentinel from the same publisher.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile

from ._support import (
    Actor,
    MqttClientFactory,
    narrow_readers,
    password_users,
    plan_leak,
    prove_absent,
    unique,
)


def _escalate(mqtt_client: MqttClientFactory, profile: SecurityProfile, filters: list[str]) -> None:
    """For every narrow reader and every filter in *filters*: a fresh connection subscribes
    to the filter (and to a sentinel topic it may read); a writer publishes every probe
    topic the reader may not read, then the sentinel. Nothing forbidden may arrive."""
    users = password_users(profile)
    writers = [Actor(mqtt_client, profile, u) for u in users]
    checked = 0
    for name in users:
        probe = Actor(mqtt_client, profile, name)
        if not narrow_readers(profile, [probe]):
            continue
        leak = plan_leak(profile, writers, probe)
        if leak is None:
            continue
        for topic_filter in filters:
            reader = Actor(mqtt_client, profile, name)
            codes = reader.subscribe(topic_filter)
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            forbidden = [(t, unique(f"wild-{name}").encode()) for t in leak.forbidden]
            prove_absent(reader, leak.writer, forbidden, leak.sentinel)
            del codes  # granted or refused: delivery is the verdict
            checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(
    id="ACL-WILDCARD-ALL",
    family="acl",
    severity="critical",
    spec=["MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-3.8.4-3"],
)
def test_multi_level_wildcards(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile
) -> None:
    """Each user who may not read everything subscribes to ``#``, ``+/#``, ``+/+``,
    ``+/+/#`` and ``+/+/+/#``; messages on topics it may not read never reach it.

    Weakness classes: ACL checked against the subscription's filter text instead of each
    delivered topic (``#`` not matching a deny rule literally), subscription ACL granted
    and read ACL never checked at delivery; the first thing any attacker tries
    (``mosquitto_sub -t '#'``).
    """
    _escalate(mqtt_client, mqtt_profile, ["#", "+/#", "+/+", "+/+/#", "+/+/+/#"])


@pytest.mark.scenario(
    id="ACL-WILDCARD-SYS",
    family="acl",
    severity="medium",
    spec=["MQTT-4.7.2-1"],
)
def test_sys_topics(mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile) -> None:
    """Each user who may not read everything subscribes to ``$SYS/#``, ``$SYS/+/#`` and
    ``$SYS/broker/#``; no ``$SYS`` message it may not read is delivered (brokers keep
    retained ``$SYS`` topics, delivered at once on SUBSCRIBE, before the sentinel).

    Weakness classes: ``$SYS`` readable by every user (broker version, client counts and
    client ids for reconnaissance); ACLs that treat ``$`` topics as outside the ACL.
    """
    _escalate(mqtt_client, mqtt_profile, ["$SYS/#", "$SYS/+/#", "$SYS/broker/#"])


@pytest.mark.scenario(
    id="ACL-WILDCARD-SHARED",
    family="acl",
    severity="high",
    spec=["MQTT-4.8.2-1", "MQTT-4.8.2-2"],
)
def test_shared_subscriptions(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile
) -> None:
    """Each user who may not read everything subscribes to ``$share/<group>/#`` and
    ``$share/<group>/+/#``; as the only member of its group it would get every message,
    but none it may not read may arrive.

    Weakness classes: shared subscriptions handled by a separate code path that skips the
    read ACL, or judged by the ``$share/...`` prefix instead of the inner filter.
    """
    group = unique("grp")
    _escalate(mqtt_client, mqtt_profile, [f"$share/{group}/#", f"$share/{group}/+/#"])
