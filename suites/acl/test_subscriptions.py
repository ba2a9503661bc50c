"""ACL scenarios: what a client does with its subscriptions over time.

A session's subscriptions change: a SUBSCRIBE to a filter already held replaces it
[MQTT-3.8.4-3], a broader filter overlaps a narrower one, a QoS is raised, one packet
carries allowed and forbidden filters in any order, an UNSUBSCRIBE names something that
was never there. Each change is a chance for a broker to carry an earlier verdict over to
a later filter. Allowed traffic must keep flowing throughout; forbidden traffic never.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab, closes_on_subscribe
from ._support import (
    Actor,
    Leak,
    MqttClientFactory,
    gets,
    probe_topics,
    prove_absent,
    sends,
    unique,
)
from .test_escalation import leaks, substituted

SPEC = ["MQTT-3.8.4-3", "MQTT-3.8.4-4", "MQTT-3.9.3-1"]


def wanted(profile: SecurityProfile, leak: Leak, reader: Actor) -> list[str]:
    """Fresh topics the leak's writer may write and *reader* may read (not the sentinel)."""
    return [
        t
        for t in probe_topics(profile, leak.writer.client_id)
        if sends(leak.writer, t) and gets(reader, t) and t != leak.sentinel
    ]


def _parent_filter(topic: str) -> str:
    return topic.rsplit("/", 1)[0] + "/#" if "/" in topic else "#"


def _deliver_and_prove(reader: Actor, leak: Leak, allowed: list[str], forbidden: list[str]) -> None:
    """The writer publishes to every *allowed* topic (each must arrive), then to every
    *forbidden* one, then the sentinel (none of the forbidden may arrive before it)."""
    expected = {unique("ok").encode(): t for t in allowed}
    for payload, topic in expected.items():
        leak.writer.publish(topic, payload)
    bad = [(t, unique("no").encode()) for t in forbidden]
    seen = prove_absent(reader, leak.writer, bad, leak.sentinel)
    missing = set(expected) - {m.payload for m in seen}
    assert not missing, (
        f"{reader.user!r} lost messages it may read: {sorted(expected[p] for p in missing)}"
    )


@pytest.mark.scenario(id="ACL-SUBSCRIBE-UPGRADE-BROADER", family="acl", severity="high", spec=SPEC)
def test_broader_filter_after_allowed(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes to topics it may read, and then, on the same session, to
    broader filters over them (the parent's ``/#``, the forbidden topic's parent ``/#``,
    ``#``). The allowed topics keep arriving; the forbidden ones never do.

    Weakness class: the read verdict cached per session or per "family" of filters, so a
    broader filter added after a granted one inherits its grant.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        allowed = wanted(mqtt_profile, leak, reader)[:3]
        if not allowed:
            continue
        assert all(code < 0x80 for code in reader.subscribe(*allowed, leak.sentinel))
        forbidden = list(leak.forbidden[:4])
        broader = [*dict.fromkeys([*(_parent_filter(t) for t in (*allowed, *forbidden)), "#"])]
        forbidden = lab.subscribe_beyond(reader, broader, forbidden)
        _deliver_and_prove(reader, leak, allowed, forbidden)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(id="ACL-SUBSCRIBE-QOS-UPGRADE", family="acl", severity="medium", spec=SPEC)
def test_qos_upgrade_keeps_the_verdict(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes at QoS 0 to topics it may read and to topics it may not, then
    subscribes to the very same filters again at QoS 1 and QoS 2 (which replaces each
    subscription [MQTT-3.8.4-3]). Allowed topics arrive, forbidden ones never do.

    Weakness class: a re-SUBSCRIBE treated as "update the QoS of an existing entry" and
    skipping authorisation, or a refused filter stored anyway and activated by the
    upgrade.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = closed = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        allowed = wanted(mqtt_profile, leak, reader)[:2]
        if not allowed:
            continue
        forbidden = list(leak.forbidden[:3])
        for qos in (0, 1, 2):
            codes = reader.try_subscribe(*allowed, *forbidden, leak.sentinel, qos=qos)
            if codes is None:
                break  # the packet refused by closing: the allowed filters in it too
            assert all(c < 0x80 for c in (*codes[: len(allowed)], codes[-1])), (
                f"{name!r}: allowed filters refused at QoS {qos}: {codes}"
            )
        else:
            _deliver_and_prove(reader, leak, allowed, forbidden)
            checked += 1
            continue
        closed += 1
    if not checked and closed:
        closes_on_subscribe(mqtt_target, lab)
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(id="ACL-SUBSCRIBE-OVERLAP", family="acl", severity="medium", spec=SPEC)
def test_overlapping_subscriptions(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user holds several overlapping subscriptions that all match a topic it may not
    read (the topic itself, ``+`` in place of each level, ``#`` after each prefix) and
    ones matching topics it may read. A forbidden message is delivered zero times, not
    once per overlapping subscription; allowed ones arrive.

    Weakness class: the read check done for the first matching subscription of a client
    only (or only for the one whose QoS wins), while delivery loops over all of them.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        allowed = wanted(mqtt_profile, leak, reader)[:2]
        if not allowed:
            continue
        forbidden = list(leak.forbidden[:2])
        granted = []
        for topic in (*allowed, *forbidden):
            for qos, topic_filter in enumerate([topic, *substituted(topic)]):
                if reader.subscribe(topic_filter, qos=qos % 3)[0] < 0x80:
                    granted.append(topic_filter)
        forbidden = lab.beyond_limits(reader, granted, forbidden)
        assert reader.subscribe(leak.sentinel)[0] < 0x80
        _deliver_and_prove(reader, leak, allowed, forbidden)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(id="ACL-MULTI-FILTER-DENIED-MIDDLE", family="acl", severity="high", spec=SPEC)
def test_denied_filter_in_the_middle(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """One SUBSCRIBE: allowed, forbidden, allowed, forbidden, allowed (and one with the
    forbidden filters at the end). One SUBACK code per filter, in order
    [MQTT-3.8.4-4]; every allowed filter granted and delivering, whatever its position;
    nothing forbidden delivered.

    Weakness classes: only the first filter checked (a VerneMQ auth plugin), the verdict
    of filter *i* applied to filter *i+1*, SUBACK codes out of order.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = closed = 0
    for name, leak in leaks(lab):
        allowed = wanted(mqtt_profile, leak, lab.actor(name))[:3]
        if len(allowed) < 2:
            continue
        forbidden = list(leak.forbidden[:2])
        bad = [*forbidden, "#"][:2]
        layouts = [
            [allowed[0], bad[0], allowed[1], bad[-1], *allowed[2:]],
            [*allowed, *bad],
        ]
        for layout in layouts:
            reader = lab.actor(name)
            codes = reader.try_subscribe(*layout)
            if codes is None:
                closed += 1  # the packet refused by closing: the allowed filters in it too
                continue
            assert len(codes) == len(layout), f"{len(layout)} filters, SUBACK codes {codes}"
            for topic_filter, code in zip(layout, codes, strict=True):
                if topic_filter in allowed:
                    assert code < 0x80, f"allowed {topic_filter!r} refused: {layout} -> {codes}"
            granted = [f for f, c in zip(layout, codes, strict=True) if c < 0x80]
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            kept = lab.beyond_limits(reader, granted, forbidden)
            _deliver_and_prove(reader, leak, allowed, kept)
            checked += 1
    if not checked and closed:
        closes_on_subscribe(mqtt_target, lab)
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no user with two readable topics")


@pytest.mark.scenario(
    id="ACL-UNSUBSCRIBE-NEVER-SUBSCRIBED",
    family="acl",
    severity="low",
    spec=["MQTT-3.10.4-5", "MQTT-3.10.4-4"],
)
def test_unsubscribe_of_unknown_filters(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user unsubscribes from filters it never held: topics it may not read, ``#``,
    ``$SYS/#``, a shared filter. The broker answers and keeps the session as it was: the
    allowed subscription still delivers, nothing forbidden arrives, the connection lives.

    Weakness classes: an UNSUBSCRIBE for an unknown filter that corrupts the
    subscription table (removing someone else's entry, or an ACL cache entry that held a
    deny), or crashes the session handler.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        allowed = wanted(mqtt_profile, leak, reader)[:1]
        assert reader.subscribe(*allowed, leak.sentinel)[0] < 0x80
        forbidden = list(leak.forbidden[:3])
        never = [*forbidden, "#", "$SYS/#", f"$share/{unique('g')}/#", unique("never")]
        reader.client.paho.unsubscribe(never)
        assert reader.subscribe(leak.sentinel)[0] < 0x80  # its SUBACK orders the UNSUBSCRIBE
        assert not reader.refusals, "the broker closed the session after the UNSUBSCRIBE"
        reader.subscribe(*forbidden)  # refused, closed, or granted and filtered
        _deliver_and_prove(reader, leak, allowed, forbidden)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")
