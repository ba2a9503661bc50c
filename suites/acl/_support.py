"""Helpers shared by the ACL scenarios: probe topics derived from the profile's rules,
the verdicts the target must give on them, and the sentinel proof for several messages.

Nothing here hard-codes a user or a topic. Probe topics are made from the rules of the
profile (``%u`` and ``%c`` substituted, wildcards replaced by fresh levels); what should
happen to them is asked of :meth:`~mqttsec.fixtures.profile.SecurityProfile.may_publish`
and :meth:`~mqttsec.fixtures.profile.SecurityProfile.may_receive`, with the client id the
client really uses. The clients themselves (:class:`Actor`, :class:`RawReader`) live in
:mod:`._actor` and are re-exported here, so scenarios import everything from one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mqttsec.fixtures.clients import ClientTimeout, Received
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.suites.helpers import unique

from ._actor import (
    CLOSED,
    LISTENER,
    Actor,
    MqttClientFactory,
    RawReader,
    Reader,
    raw_reader,
)

__all__ = [
    "CLOSED",
    "LISTENER",
    "VICTIM_CLIENT_ID",
    "Actor",
    "Leak",
    "MqttClientFactory",
    "RawReader",
    "Reader",
    "barred_from_getting",
    "barred_from_sending",
    "find_sentinel",
    "first",
    "gets",
    "matches",
    "narrow_readers",
    "password_users",
    "plan_leak",
    "probe_topics",
    "prove_absent",
    "raw_reader",
    "read_until",
    "sends",
    "sentinel_for",
    "sentinel_proof",
    "unique",
]

VICTIM_CLIENT_ID = "mqttsec-acl-victim"
"""The client id of "somebody else" when a ``%c`` rule is probed from the outside."""


def password_users(profile: SecurityProfile) -> list[str]:
    """The password users who may connect on :data:`LISTENER`; unsupported if fewer than
    two (an ACL between one user and nobody proves little)."""
    if profile.listener(LISTENER).kind is ListenerKind.MTLS:
        mqttsec_unsupported(f"profile {profile.name!r}: listener {LISTENER!r} is mTLS")
    users = sorted(u for u in profile.users if profile.may_connect(u, LISTENER))
    if len(users) < 2:
        mqttsec_unsupported(f"profile {profile.name!r} has fewer than two password users")
    return users


def _concrete(rule_topic: str, user: str, client_id: str) -> str | None:
    """A fresh topic name matched by one rule's filter with *user* and *client_id*
    substituted; None for ``$`` topics (nobody may publish there)."""
    if rule_topic.startswith("$"):
        return None
    base = rule_topic.replace("%u", user).replace("%c", client_id)
    levels = [unique("lvl") if level in ("+", "#") else level for level in base.split("/")]
    if base.endswith("#") and len(levels) > 1:
        levels[-1] = unique("x")
    return "/".join(levels)


def probe_topics(profile: SecurityProfile, client_id: str) -> list[str]:
    """One fresh topic per rule and identity: each rule's filter made concrete, ``%u`` as
    every identity of the profile (so one user's pattern topics are probed by the others)
    and ``%c`` as *client_id* and as another client's id. Both sides of every rule are
    thus in the list: the users it grants and the users it does not."""
    out: list[str] = []
    names = sorted(profile.identities())
    for rule in profile.acl:
        users = names if "%u" in rule.topic else names[:1]
        ids = (client_id, VICTIM_CLIENT_ID) if "%c" in rule.topic else (client_id,)
        for user in users:
            for cid in ids:
                topic = _concrete(rule.topic, user, cid)
                if topic is not None and topic not in out:
                    out.append(topic)
    return out


def matches(topic_filter: str, topic: str) -> bool:
    """Whether *topic_filter* matches *topic* as MQTT defines it [MQTT-4.7.1-2],
    [MQTT-4.7.1-3], with ``$`` topics unmatched by a leading wildcard [MQTT-4.7.2-1]."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels, parts = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or (level != "+" and level != parts[i]):
            return False
    return len(levels) == len(parts)


def first(items: Iterable[str], test: Callable[[str], bool]) -> str | None:
    """The first of *items* that passes *test*, or None."""
    return next((item for item in items if test(item)), None)


_NO_ID = "mqttsec-no-client-id"


def find_sentinel(profile: SecurityProfile, writer: Actor, reader: Actor) -> str | None:
    """A fresh topic *writer* may publish and *reader* may receive, or None. A writer with
    an empty client id gets one assigned by the broker, so no ``%c`` topic is chosen then."""
    if writer.client_id:
        candidates = probe_topics(profile, writer.client_id)
    else:
        candidates = [t for t in probe_topics(profile, _NO_ID) if _NO_ID not in t]
    return first(candidates, lambda t: sends(writer, t) and gets(reader, t))


def sends(writer: Actor, topic: str) -> bool:
    """*writer* may publish *topic* and the target must let it (no declared limit)."""
    return writer.may_publish(topic) and writer.settled_publish(topic)


def gets(reader: Reader, topic: str) -> bool:
    """*reader* may receive *topic* and the target must deliver it (no declared limit)."""
    return reader.may_receive(topic) and reader.settled_receive(topic)


def barred_from_sending(writer: Actor, topic: str) -> bool:
    """*writer* may not publish *topic*, and the target must refuse it too."""
    return not writer.may_publish(topic) and writer.settled_publish(topic)


def barred_from_getting(reader: Reader, topic: str) -> bool:
    """*reader* may not receive *topic*, and the target must not deliver it either."""
    return not reader.may_receive(topic) and reader.settled_receive(topic)


def sentinel_for(profile: SecurityProfile, writer: Actor, reader: Actor) -> str:
    """A fresh topic *writer* may publish and *reader* may receive (the sentinel's path);
    unsupported when the profile has none."""
    found = find_sentinel(profile, writer, reader)
    if found is None:
        mqttsec_unsupported(
            f"profile {profile.name!r}: no topic {writer.user!r} may write and "
            f"{reader.user!r} may read, so nothing can be proven between them"
        )
    assert found is not None
    return found


def prove_absent(
    reader: Actor,
    publisher: Actor,
    forbidden: Sequence[tuple[str, bytes]],
    sentinel_topic: str,
    *,
    qos: int = 1,
    timeout: float = 5.0,
) -> list[Received]:
    """Publish every *forbidden* message, then a sentinel on *sentinel_topic*; read what
    *reader* gets until the sentinel arrives. A broker forwards one client's messages in
    order, so nothing published before the sentinel can arrive after it.

    Fails on any forbidden payload *and* on any message whose topic the profile does not
    let *reader* read (a retained ``$SYS`` topic, another client's message), because
    what is delivered is what counts, not what the SUBACK said.

    Raises:
        AssertionError: a leak.
        SentinelLost: the sentinel never came (nothing proven: a harness error).
    """
    payloads = {payload: topic for topic, payload in forbidden}
    for topic, payload in forbidden:
        publisher.try_publish(topic, payload, qos)  # refusing by closing is no leak
    token = unique("sentinel").encode()
    publisher.send_sentinel(sentinel_topic, token, qos)
    return read_until(reader, token, payloads, timeout=timeout)


def read_until(
    reader: Reader,
    token: bytes,
    forbidden: dict[bytes, str],
    *,
    timeout: float = 5.0,
    seen: list[Received] | None = None,
) -> list[Received]:
    """Read what *reader* gets until the sentinel payload *token*; fail on any payload in
    *forbidden* (payload -> the topic it was published to) and on any message on a topic
    the profile does not let *reader* read. Returns the messages before the sentinel
    (appended to *seen* when given, which then keeps them even if the sentinel is lost).

    Raises:
        AssertionError: a leak.
        SentinelLost: *token* never came (nothing proven: a harness error).
    """
    seen = [] if seen is None else seen
    deadline = time.monotonic() + timeout
    while True:
        try:
            message = reader.next_message(max(0.0, deadline - time.monotonic()))
        except ClientTimeout:
            raise SentinelLost(
                f"{reader!r}: sentinel {token!r} never came, so nothing is proven; "
                f"received {[(m.topic, m.payload[:30]) for m in seen]!r}"
            ) from None
        assert message.payload not in forbidden, (
            f"LEAK: {reader.user!r} received {message.payload!r} published to "
            f"{forbidden.get(message.payload)!r} (delivered on {message.topic!r}), which "
            "the profile forbids it to read"
        )
        assert not barred_from_getting(reader, message.topic), (
            f"LEAK: {reader.user!r} received a message on {message.topic!r}, which the "
            f"profile forbids it to read (payload {message.payload[:60]!r})"
        )
        if message.payload == token:
            return seen
        seen.append(message)


def sentinel_proof(
    writer: Actor, sentinel: str, reader: Reader, forbidden: dict[bytes, str], label: str
) -> list[Received]:
    """Close a proof: *writer* sends a fresh sentinel (labelled *label*) to *sentinel*,
    and :func:`read_until` reads *reader* up to it, failing on any of *forbidden*."""
    token = unique(label).encode()
    writer.send_sentinel(sentinel, token)
    return read_until(reader, token, forbidden)


@dataclass(frozen=True, slots=True)
class Leak:
    """What one writer can publish that one reader must not receive.

    Attributes:
        writer: publishes the forbidden messages and the sentinel.
        forbidden: fresh topics *writer* may write and the reader may not read.
        sentinel: a fresh topic *writer* may write and the reader may read.
    """

    writer: Actor
    forbidden: tuple[str, ...]
    sentinel: str


def plan_leak(profile: SecurityProfile, writers: Iterable[Actor], reader: Actor) -> Leak | None:
    """The writer with the most topics *reader* must not receive (and a sentinel path to
    *reader*), or None when no writer has any."""
    best: Leak | None = None
    for writer in writers:
        topics = probe_topics(profile, writer.client_id)
        forbidden = tuple(t for t in topics if sends(writer, t) and barred_from_getting(reader, t))
        sentinel = find_sentinel(profile, writer, reader)
        if forbidden and sentinel and (best is None or len(forbidden) > len(best.forbidden)):
            best = Leak(writer, forbidden, sentinel)
    return best


def narrow_readers(profile: SecurityProfile, actors: Iterable[Actor]) -> list[Actor]:
    """Users who may not read everything (``#``): the ones wildcards must not widen."""
    return [
        a for a in actors if not profile.may_subscribe(a.user, "#", LISTENER, client_id=a.client_id)
    ]
