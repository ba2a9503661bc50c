"""ACL scenarios: wildcard and ``$`` escalation beyond the plain ``#`` subscription.

A user's own granted wildcard (``sensors/#``) spans a deny sub-tree; a ``+`` put in place
of the one protected level, or a ``#`` right above it, asks for exactly the forbidden
messages; ``$`` topics are outside every wildcard [MQTT-4.7.2-1] and outside every normal
user's write access. Whatever the SUBACK says, nothing the reader may not read may be
delivered, and nothing forged on ``$SYS`` may reach the readers of ``$SYS``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqttsec.fixtures.clients import Received
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab
from ._silenced import SentinelAfterRefusal
from ._support import (
    CLOSED,
    LISTENER,
    Actor,
    Leak,
    MqttClientFactory,
    gets,
    matches,
    narrow_readers,
    plan_leak,
    probe_topics,
    prove_absent,
    read_until,
    sends,
    unique,
)


def leaks(lab: Lab) -> Iterator[tuple[str, Leak]]:
    """(user, what a writer can publish that the user must not read) for every user with
    narrow read rights."""
    for name in lab.users:
        probe = lab.actor(name)
        if not narrow_readers(lab.profile, [probe]):
            continue
        leak = plan_leak(lab.profile, lab.standing.values(), probe)
        if leak is not None:
            yield name, leak


def granted_filters(profile: SecurityProfile, reader: Actor) -> list[str]:
    """The read filters the profile gives *reader* (its user's and pattern rules, ``%u``
    and ``%c`` filled in, wildcards kept), without ``$`` filters."""
    out: list[str] = []
    for rule in profile.acl:
        if not rule.holds_on(LISTENER) or rule.topic.startswith("$"):
            continue
        if not (rule.pattern or rule.user == reader.user):
            continue
        text = rule.topic.replace("%u", reader.user).replace("%c", reader.client_id)
        if profile.may_subscribe(reader.user, text, LISTENER, client_id=reader.client_id) or any(
            matches(text, t) and reader.may_receive(t) for t in probe_topics(profile, "x")
        ):
            out.append(text)
    return list(dict.fromkeys(out))


def under_filters(
    profile: SecurityProfile, leak: Leak, reader: Actor, filters: list[str]
) -> tuple[list[str], list[str]]:
    """What *filters* span for *reader*: the forbidden topics of *leak* inside them (must
    never arrive), and the probe topics inside them that the leak's writer may write and
    *reader* may read (must arrive where the broker granted the filter)."""
    inside = [t for t in leak.forbidden if any(matches(f, t) for f in filters)]
    wanted = [
        t
        for t in probe_topics(profile, leak.writer.client_id)
        if sends(leak.writer, t) and gets(reader, t)
        if any(matches(f, t) for f in filters)
    ]
    return inside, wanted


def prove_unreached(reader: Actor, leak: Leak, topics: list[str], label: str) -> None:
    """Subscribe *reader* to the leak's sentinel and prove that a message to each of
    *topics* from the leak's writer never reaches it."""
    assert reader.subscribe(leak.sentinel)[0] < 0x80
    prove_absent(reader, leak.writer, [(t, unique(label).encode()) for t in topics], leak.sentinel)


@pytest.mark.scenario(
    id="ACL-WILDCARD-GRANTED-FILTER",
    family="acl",
    severity="critical",
    spec=["MQTT-4.7.1-2", "MQTT-3.8.4-3"],
)
def test_granted_wildcard_spans_deny(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes to its own granted wildcard filters (``sensors/#`` for alice); a
    writer publishes inside them, both where the user may read (which must arrive when
    the broker granted the filter) and in the deny sub-trees the filters also span
    (``sensors/private/...``: which must never arrive). A broker may refuse a filter
    that spans a deny sub-tree (the reference broker does), never one that does not.

    Weakness class: read ACL checked once, against the filter granted at SUBSCRIBE time,
    and never per delivered topic, so a legitimate wildcard carries every deny rule
    beneath it away.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        filters = granted_filters(mqtt_profile, reader)
        inside, wanted = under_filters(mqtt_profile, leak, reader, filters)
        if not inside or not wanted:
            continue
        granted = []
        for topic_filter in filters:
            if reader.subscribe(topic_filter)[0] < 0x80:
                granted.append(topic_filter)
            else:
                assert not mqtt_profile.may_subscribe(
                    name, topic_filter, LISTENER, client_id=reader.client_id
                ) or not lab.limits.settled_subscribe(name, reader.client_id, topic_filter), (
                    f"{name!r} may subscribe to {topic_filter!r}, but the broker refused it"
                )
        assert reader.subscribe(leak.sentinel)[0] < 0x80
        wanted = [t for t in wanted if any(matches(f, t) for f in granted)]
        inside = lab.beyond_limits(reader, granted, inside)
        if not inside:
            continue
        allowed = {unique("granted").encode(): t for t in wanted}
        for payload, topic in allowed.items():
            leak.writer.publish(topic, payload)
        forbidden = [(t, unique(f"deny-{name}").encode()) for t in inside]
        seen = prove_absent(reader, leak.writer, forbidden, leak.sentinel)
        missing = set(allowed) - {m.payload for m in seen}
        assert not missing, (
            f"{name!r} subscribed to {filters} but did not receive what it may read: "
            f"{sorted(allowed[p] for p in missing)}"
        )
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no deny sub-tree under a grant")


def substituted(topic: str) -> list[str]:
    """Filters that match *topic*: each level replaced by ``+`` in turn, and ``#`` after
    each proper prefix (``a/+/c``, ``+/b/c``, ``a/#``, ``a/b/#``)."""
    levels = topic.split("/")
    plus = ["/".join([*levels[:i], "+", *levels[i + 1 :]]) for i in range(len(levels))]
    hashes = ["/".join([*levels[:i], "#"]) for i in range(1, len(levels) + 1)]
    return list(dict.fromkeys([*plus, *hashes]))


@pytest.mark.scenario(
    id="ACL-WILDCARD-LEVEL-SUBSTITUTION",
    family="acl",
    severity="high",
    spec=["MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-3.8.4-3"],
)
def test_wildcard_in_place_of_a_level(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """For topics a user may not read, it subscribes to the filters made by putting ``+``
    in place of each level (``sensors/+/x`` for ``sensors/private/x``) and ``#`` after
    each prefix (``sensors/private/#``); none of those topics' messages arrive.

    Weakness class: ACL engines that compare the filter text with the rule text (a ``+``
    where the rule has ``private`` is "not the protected topic"), or that only reject the
    literal forbidden topic.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        chosen = list(leak.forbidden[:4])
        filters = list(dict.fromkeys(f for t in chosen for f in substituted(t)))
        chosen = lab.subscribe_beyond(reader, filters, chosen)
        if not chosen:
            continue
        prove_unreached(reader, leak, chosen, "subst")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(
    id="ACL-WILDCARD-DOLLAR-TOPICS", family="acl", severity="medium", spec=["MQTT-4.7.2-1"]
)
def test_dollar_topics_not_matched(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Every user, even one who may read ``$SYS``, subscribes to ``#``, ``+``, ``+/#`` and
    ``+/+/#``; no message on a ``$`` topic is delivered through them (a writer also tries
    a ``$mqttsec/...`` topic of its own, retained, for brokers without ``$SYS``).

    Weakness class: ``$`` topics matched by leading wildcards [MQTT-4.7.2-1], which
    exposes ``$SYS`` (versions, client ids) to any ``#`` subscriber and feeds broker
    internals into bridges and loggers that subscribe to ``#``.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    after = SentinelAfterRefusal("a retained PUBLISH to a '$' topic")
    checked = 0
    for name in lab.users:
        reader = lab.actor(name)
        plans = [(w, s) for w in lab.standing.values() if (s := lab.sentinel(w, reader))]
        if not plans:
            continue
        writer, sentinel = plans[0]
        dollar = f"$mqttsec/{unique('dollar')}"
        writer.try_publish(dollar, b"dollar", retain=True)  # refused by closing: fine
        reader.subscribe("#", "+", "+/#", "+/+/#")
        assert reader.subscribe(sentinel)[0] < 0x80
        seen: list[Received] = []
        try:
            after.prove(writer, reader, sentinel, {}, seen=seen)
        finally:
            writer.try_publish(dollar, b"", retain=True)
        bad = [m.topic for m in seen if m.topic.startswith("$")]
        assert not bad, f"LEAK: {name!r} received '$' topics through a wildcard: {bad[:5]}"
        checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: no sentinel path to any user")


SYS_FORGERIES = ("$SYS/broker/version", "$SYS/broker/clients/connected", "$SYS/mqttsec/forged")


@pytest.mark.scenario(
    id="ACL-SYS-PUBLISH-FORGERY", family="acl", severity="medium", spec=["MQTT-4.7.2-1"]
)
def test_sys_cannot_be_forged(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Users the profile does not let write ``$SYS`` publish there, live and retained
    (``$SYS/broker/version``, ...); a user who may read ``$SYS`` never receives the
    forgeries, live or from the retained store.

    Weakness class: ``$SYS`` writable by clients, so monitoring that trusts
    ``$SYS/broker/...`` (client counts, versions, load) can be fed lies, and a retained
    forgery outlives the attacker's connection.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    after = SentinelAfterRefusal("a PUBLISH to '$SYS'")
    checked = 0
    for name in lab.users:
        forger = lab.actor(name)
        topics = [f"{t}/{unique('x')}" if t.endswith("forged") else t for t in SYS_FORGERIES]
        if any(forger.may_publish(t) for t in topics):
            continue
        readers = [o for o in lab.standing.values() if all(o.may_receive(t) for t in topics)]
        plans = [(o, s) for o in readers if (s := lab.sentinel(forger, o))]
        if not plans:
            continue
        observer, sentinel = plans[0]
        lab.listen(forger, observer)
        observer.subscribe("$SYS/#")
        forged = {unique(f"forged-{name}").encode(): t for t in topics}
        for payload, topic in forged.items():
            forger.try_publish(topic, payload, retain=True)  # refused by closing: fine
        after.prove(forger, observer, sentinel, forged)
        late = lab.actor(observer.user)
        late.subscribe(*topics)
        retained_token = unique("sys-retained").encode()
        forger.send_sentinel(sentinel, retained_token, retain=True)
        try:
            late.subscribe(sentinel)
            read_until(late, retained_token, forged)
        finally:
            forger.client.publish(sentinel, b"", retain=True)
        checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: nobody may read $SYS to observe")


@pytest.mark.scenario(
    id="ACL-SHARED-DENIED-FILTER",
    family="acl",
    severity="high",
    spec=["MQTT-4.8.2-1", "MQTT-3.8.4-3"],
)
def test_shared_forbidden_filters(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes to ``$share/<group>/<filter>`` for filters it may not read: the
    forbidden topics themselves and the ``+``/``#`` filters that single them out; as the
    only member of the group it would get every message, yet none may arrive.

    Weakness class: shared subscriptions authorised on the ``$share/<group>/`` string (no
    rule matches it, so a default allow applies) instead of the filter inside.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        group = unique("grp")
        chosen = list(leak.forbidden[:3])
        inner = list(dict.fromkeys([*chosen, *(f for t in chosen for f in substituted(t))]))
        shared = [f"$share/{group}/{f}" for f in inner]
        chosen = lab.subscribe_beyond(reader, shared, chosen)
        if not chosen:
            continue
        prove_unreached(reader, leak, chosen, "shared")
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(
    id="ACL-SHARED-MIXED-GROUP",
    family="acl",
    severity="high",
    spec=["MQTT-4.8.2-1", "MQTT-4.8.2-2"],
)
def test_shared_group_with_a_non_reader(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user who may read a topic and one who may not join the same shared group on a
    filter covering it; messages on the topic are spread over the group, but never to
    the member who may not read them (several are sent so that round-robin reaches it).

    Weakness class: the read check done once for the group (by its first member) and the
    message then handed to whichever member's turn it is.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        reader = lab.actor(name)
        wide = [o for o in lab.standing.values() if all(gets(o, t) for t in leak.forbidden)]
        if not wide:
            continue
        covering = [f for f in granted_filters(mqtt_profile, reader) if "#" in f or "+" in f]
        inner = next((f for f in covering if any(matches(f, t) for t in leak.forbidden)), "#")
        topics = [t for t in leak.forbidden if matches(inner, t)][:2]
        group = unique("grp")
        shared = f"$share/{group}/{inner}"
        wide[0].subscribe(shared)
        granted = [shared] if reader.subscribe(shared)[0] < 0x80 else []
        topics = lab.beyond_limits(reader, granted, topics)
        if not topics:
            continue
        assert reader.subscribe(leak.sentinel)[0] < 0x80
        forbidden = [(t, unique(f"mixed-{i}").encode()) for t in topics for i in range(4)]
        prove_absent(reader, leak.writer, forbidden, leak.sentinel)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no reader/non-reader pair")


MALFORMED_SHARES = ("$share/+/#", "$share/#", "$share//#", "$share/{g}", "$share/{g}+/#")


@pytest.mark.scenario(
    id="ACL-SHARED-MALFORMED-NAME",
    family="acl",
    severity="medium",
    spec=["MQTT-4.8.2-1", "MQTT-4.8.2-2"],
)
def test_malformed_share_names(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user with narrow read rights subscribes to malformed shared filters
    (``$share/+/#``, ``$share/#``, ``$share//#``, a share without filter, a wildcard in
    the share name); the broker may refuse them or close the connection, but no message
    the user may not read may arrive.

    Weakness class: a share-name parser that, on a malformed ``$share`` filter, falls back
    to the text after the first ``/`` (``#``) after the ACL judged the whole string.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name, leak in leaks(lab):
        group = unique("grp")
        for text in MALFORMED_SHARES:
            reader = lab.actor(name)
            try:
                codes = reader.subscribe(text.replace("{g}", group))
            except ValueError:
                checked += 1  # not even sendable: nothing leaks
                continue
            if codes[0] == CLOSED:
                checked += 1  # refused by closing: nothing leaks
                continue
            granted = [text.replace("{g}", group)] if codes[0] < 0x80 else []
            if not lab.beyond_limits(reader, granted, leak.forbidden[:3]):
                continue
            assert reader.subscribe(leak.sentinel)[0] < 0x80
            kept = [t for t in leak.forbidden[:3] if t not in reader.excused]
            forbidden = [(t, unique("malformed").encode()) for t in kept]
            prove_absent(reader, leak.writer, forbidden, leak.sentinel)
            checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")
