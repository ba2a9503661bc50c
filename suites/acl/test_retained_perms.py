"""ACL scenarios: retained messages across permissions.

A retained message is written once and read many times later, by subscribers that did not
exist when it was written. So both checks must hold at *both* ends: only a writer may
store, replace or delete it (a denied PUBLISH must not touch the store), and only a reader
may get it from the store, also through a wildcard it was legitimately granted. Where the
target can change permissions while running, a retained message also must not outlive its
writer's access (mosquitto CVE-2018-12546, fixed there by ``check_retain_source``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.security.acl import Grant

from ._judge import Lab
from ._limits import RETAIN_WILDCARD
from ._reload import permissions_changed
from ._support import (
    LISTENER,
    Actor,
    MqttClientFactory,
    barred_from_sending,
    find_sentinel,
    gets,
    matches,
    probe_topics,
    read_until,
    sends,
    unique,
)
from .test_escalation import granted_filters, leaks, under_filters

SPEC = ["MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.5-2", "MQTT-3.8.4-3"]


def _clear(writer: Actor, *topics: str) -> None:
    """Delete the retained messages of *topics* (an empty retained payload)."""
    for topic in topics:
        writer.client.publish(topic, b"", retain=True)


@pytest.mark.scenario(
    id="ACL-RETAINED-VIA-GRANTED-FILTER", family="acl", severity="high", spec=SPEC
)
def test_retained_through_granted_wildcard(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A writer leaves retained messages inside a user's granted wildcard (``sensors/#``):
    some where the user may read, some in a deny sub-tree beneath it. Subscribing to the
    wildcard, the user gets the first (when the broker granted the filter) and never the
    second.

    Weakness class: the retained store walked for a granted filter without the per-topic
    read check live messages get, so ``sensors/#`` serves the retained
    ``sensors/private/...`` messages.
    """
    if RETAIN_WILDCARD in mqtt_target.unsupported:
        mqttsec_unsupported(
            f"{mqtt_target.name}: nothing retained comes through a wildcard filter "
            f"({mqtt_target.unsupported[RETAIN_WILDCARD]})"
        )
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        filters = granted_filters(mqtt_profile, reader)
        inside, wanted = under_filters(mqtt_profile, leak, reader, filters)
        wanted = [t for t in wanted if t != leak.sentinel]
        if not inside or not wanted:
            continue
        forbidden = {unique("retained-deny").encode(): t for t in inside}
        allowed = {unique("retained-ok").encode(): t for t in wanted}
        token = unique("retained-sentinel").encode()
        try:
            for payload, topic in (*forbidden.items(), *allowed.items()):
                leak.writer.client.publish(topic, payload, retain=True)
            leak.writer.client.publish(leak.sentinel, token, retain=True)
            granted = [f for f in filters if reader.subscribe(f)[0] < 0x80]
            kept = lab.beyond_limits(reader, granted, inside)
            forbidden = {p: t for p, t in forbidden.items() if t in kept}
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            # The retained sentinel also comes with each granted filter matching it (in
            # whatever order the store is walked): only its last copy, from the SUBSCRIBE
            # made last, closes the proof.
            seen = []
            for _ in range(1 + sum(matches(f, leak.sentinel) for f in granted)):
                seen += read_until(reader, token, forbidden)
        finally:
            _clear(leak.writer, *inside, *wanted, leak.sentinel)
        expected = {p for p, t in allowed.items() if any(matches(f, t) for f in granted)}
        missing = expected - {m.payload for m in seen}
        assert not missing, (
            f"{name!r} was granted {granted} but did not get the retained messages it may "
            f"read: {sorted(allowed[p] for p in missing)}"
        )
        checked += bool(forbidden)
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no deny sub-tree under a grant")


def _intrusions(lab: Lab) -> Iterator[tuple[Actor, str, Actor, Actor, str]]:
    """(intruder, topic it may not write, a legitimate writer of it, a reader of it, a
    sentinel topic from that writer to that reader), one per intruder."""
    for name in lab.users:
        intruder = lab.actor(name)
        for topic in probe_topics(lab.profile, intruder.client_id):
            if not barred_from_sending(intruder, topic):
                continue
            plans = [
                (w, r, s)
                for w in lab.standing.values()
                if sends(w, topic)
                for r in lab.standing.values()
                if gets(r, topic) and (s := find_sentinel(lab.profile, w, r))
            ]
            if plans:
                writer, reader, sentinel = plans[0]
                yield intruder, topic, writer, reader, sentinel
                break


def _store_contents(
    lab: Lab, reader: Actor, writer: Actor, topic: str, sentinel: str, forbidden: dict[bytes, str]
) -> list[bytes]:
    """What a new subscriber of *reader*'s user finds retained on *topic* (read until a
    retained sentinel, which is subscribed to after it); fails on *forbidden* payloads."""
    fresh = lab.actor(reader.user)
    token = unique("store-sentinel").encode()
    writer.client.publish(sentinel, token, retain=True)
    try:
        fresh.subscribe(topic)
        assert fresh.subscribe(sentinel)[0] < 0x80
        seen = read_until(fresh, token, forbidden)
    finally:
        _clear(writer, sentinel)
        fresh.close()
    return [m.payload for m in seen if m.topic == topic]


def _try_retain(intruder: Actor, topic: str, payload: bytes) -> None:
    """Publish a retained message the profile forbids (acknowledged or closed: both fine)."""
    intruder.try_publish(topic, payload, retain=True)


@pytest.mark.scenario(id="ACL-RETAINED-DENIED-NOT-STORED", family="acl", severity="high", spec=SPEC)
def test_denied_retained_is_not_stored(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user publishes a retained message to a topic it may not write; a reader who
    subscribes afterwards finds nothing of it in the store.

    Weakness class: the retained store updated before (or regardless of) the write check,
    so a denied PUBLISH still plants a message every future subscriber receives.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for intruder, topic, writer, reader, sentinel in _intrusions(lab):
        forged = unique(f"planted-{intruder.user}").encode()
        try:
            _try_retain(intruder, topic, forged)
            _store_contents(lab, reader, writer, topic, sentinel, {forged: topic})
        finally:
            _clear(writer, topic)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden topic")


@pytest.mark.scenario(id="ACL-RETAINED-DENIED-CLEAR", family="acl", severity="high", spec=SPEC)
def test_denied_user_cannot_replace_or_delete(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A legitimate writer leaves a retained message; a user who may not write the topic
    tries to delete it (empty retained payload [MQTT-3.3.1-10]) and to replace it. A new
    subscriber still gets the legitimate message, and never the replacement.

    Weakness class: retained deletion treated as "not a publish" and let through without
    the write check (silencing a device's last known state), or a denied replacement
    applied to the store.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for intruder, topic, writer, reader, sentinel in _intrusions(lab):
        legit = unique("legit").encode()
        forged = unique(f"replaced-{intruder.user}").encode()
        try:
            writer.client.publish(topic, legit, retain=True)
            _try_retain(intruder, topic, b"")
            _try_retain(intruder, topic, forged)
            found = _store_contents(lab, reader, writer, topic, sentinel, {forged: topic})
        finally:
            _clear(writer, topic)
        assert legit in found, (
            f"{intruder.user!r} may not write {topic!r}, yet the retained message there "
            f"is gone after its empty retained PUBLISH (found {found!r})"
        )
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden topic")


@pytest.mark.scenario(id="ACL-RETAINED-WRITE-REVOKED", family="acl", severity="high", spec=SPEC)
def test_retained_outliving_write_access(
    mqtt_client: MqttClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
) -> None:
    """A writer leaves a retained message on a topic it may write; then its write access
    to that topic is revoked (ACL reloaded). A new subscriber who may read the topic does
    not get the message any more. Unsupported on targets that cannot reload their ACL.

    Weakness class: a retained message keeps speaking for a publisher who lost its right
    to (mosquitto CVE-2018-12546: a revoked device's last message stays authoritative).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    plan = None
    for name in lab.users:
        author = lab.actor(name)
        for topic in probe_topics(mqtt_profile, author.client_id):
            readers = [
                r
                for r in lab.standing.values()
                if r.user != name and gets(r, topic) and sends(author, topic)
            ]
            sentinels = [
                (w, r, s)
                for r in readers
                for w in lab.standing.values()
                if w.user != name and (s := find_sentinel(mqtt_profile, w, r))
            ]
            if sentinels:
                plan = (author, topic, *sentinels[0])
                break
        if plan:
            break
    if plan is None:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: no writer/reader pair to revoke")
    assert plan is not None
    author, topic, writer, reader, sentinel = plan
    stale = unique("stale").encode()
    author.client.publish(topic, stale, retain=True)
    revoke = (AclEntry(topic=topic, access=Grant.DENY, user=author.user),)
    try:
        with permissions_changed(mqtt_target, mqtt_client, mqtt_profile, revoke) as changed:
            assert not changed.may_publish(author.user, topic, LISTENER)
            try:
                _store_contents(lab, reader, writer, topic, sentinel, {stale: topic})
            except AssertionError:
                raise AssertionError(
                    f"LEAK: the retained message {author.user!r} left on {topic!r} was still "
                    f"delivered to a new subscriber ({reader.user!r}) after {author.user!r} "
                    "lost write access to it (ACL reloaded)"
                ) from None
    finally:
        author.client.publish(topic, b"", retain=True)  # write access is back by now
