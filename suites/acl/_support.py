"""Helpers shared by the ACL scenarios: probe topics derived from the profile's rules,
actors (a user with a known client id), and the sentinel proof for several messages.

Nothing here hard-codes a user or a topic. Probe topics are made from the rules of the
profile (``%u`` and ``%c`` substituted, wildcards replaced by fresh levels); what should
happen to them is asked of :meth:`~mqttsec.fixtures.profile.SecurityProfile.may_publish`
and :meth:`~mqttsec.fixtures.profile.SecurityProfile.may_receive`, with the client id the
client really uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mqttsec.fixtures.clients import ClientError, ClientTimeout, MqttClient, PeerClosed, Received
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.suites.helpers import unique

from ._limits import Limits

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
    "unique",
]

MqttClientFactory = Callable[..., MqttClient]

LISTENER = "plain"
"""The listener the ACL is probed on (password users, no certificate identities)."""

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


CLOSED = 0x100
"""The code :meth:`Actor.subscribe` reports for a filter the broker refused by closing the
connection (>= 0x80 like every refusal; no SUBACK carries it)."""


@dataclass
class Actor:
    """A profile user connected with a client id we chose, so that ``%c`` rules can be
    asked about with the id the broker sees.

    A broker may answer a forbidden PUBLISH or SUBSCRIBE by closing the connection (3.1.1
    allows it; 5.0 with DISCONNECT 0x87). That is a refusal, not an error: the actor
    connects again with the same client id (at once when it saw the close, else on next
    use), subscribes again to the filters the broker had granted, and hands out first what
    the closed connection had received.
    """

    factory: MqttClientFactory
    profile: SecurityProfile
    user: str
    client_id: str = field(default_factory=lambda: unique("mqttsec-acl-cid"))
    options: dict[str, object] = field(default_factory=dict)
    limits: Limits | None = None
    refusals: int = 0
    """Connections of this actor the broker closed (refused PUBLISH/SUBSCRIBE)."""
    excused: set[str] = field(default_factory=set)
    """Topics whose delivery to this actor a declared limit explains (not judged)."""
    _client: MqttClient | None = None
    _held: list[str] = field(default_factory=list)
    _carry: list[Received] = field(default_factory=list)

    @property
    def client(self) -> MqttClient:
        """The live connection (made, or remade after the broker closed it)."""
        if self._client is not None and not self._client.connected:
            self._salvage(self._client)
            self.refusals += 1
            self._client = None
        if self._client is None:
            self._client = self.factory(self.user, client_id=self.client_id, **self.options)
            if self._held:
                codes = self._client.subscribe(*self._held)
                assert all(c < 0x80 for c in codes), (
                    f"{self!r} lost {self._held} when it reconnected: {codes}"
                )
        return self._client

    def _salvage(self, old: MqttClient) -> None:
        """Keep what a closed connection received and nobody read yet."""
        while not old.messages.empty():
            self._carry.append(old.messages.get_nowait())
        old.close()

    def attach(self, client: MqttClient) -> None:
        """Use *client*, connected elsewhere (a resumed session), as this actor's
        connection; its subscriptions are the session's."""
        self._client = client
        self._held = []

    def restart(self) -> None:
        """Close the connection ourselves and connect again at once, with the same client
        id and subscriptions (what the old connection received is kept)."""
        if self._client is not None:
            self._salvage(self._client)
            self._client = None
        _ = self.client

    def close(self) -> None:
        """Disconnect (the next use connects again, without subscriptions)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._held = []

    def may_publish(self, topic: str) -> bool:
        return self.profile.may_publish(self.user, topic, LISTENER, client_id=self.client_id)

    def may_receive(self, topic: str) -> bool:
        return self.profile.may_receive(self.user, topic, LISTENER, client_id=self.client_id)

    def settled_publish(self, topic: str) -> bool:
        """Whether the target must answer this actor's PUBLISH to *topic* as the profile
        says (no declared limit changes the verdict)."""
        return self.limits is None or self.limits.settled_publish(self.user, self.client_id, topic)

    def settled_receive(self, topic: str) -> bool:
        """Whether the target must deliver *topic* to this actor as the profile says."""
        if topic in self.excused:
            return False
        return self.limits is None or self.limits.settled_receive(self.user, self.client_id, topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> object:
        """Publish with this actor's connection (remade if needed).

        Raises:
            PeerClosed: the broker closed the connection instead of acknowledging.
        """
        return self.client.publish(topic, payload, qos)

    def try_publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Publish a message the broker may refuse and wait for the answer; False when it
        closed the connection (a refusal; the actor is connected again, see :meth:`_reopen`)."""
        try:
            self.client.publish(topic, payload, qos, retain=retain)
        except PeerClosed:
            self._reopen()
            return False
        return True

    def _reopen(self) -> None:
        """Connect again at once, with the held subscriptions, after the broker closed the
        connection (a :class:`PeerClosed`, which paho may report before its callback has
        marked the client disconnected). Waiting for the next use would leave the actor
        without a session in between, and a message published meanwhile to a topic it
        reads (a sentinel) would be lost with nobody to blame."""
        if self._client is not None:
            self._salvage(self._client)
            self.refusals += 1
            self._client = None
        _ = self.client

    def send_sentinel(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish an allowed message after probes the broker may have refused by closing:
        a connection that dies under it (the close of a refusal acknowledged just before)
        is remade once and the message sent again."""
        try:
            self.client.publish(topic, payload, qos, retain=retain)
        except PeerClosed:
            self._reopen()
            self.client.publish(topic, payload, qos, retain=retain)

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish without waiting for the acknowledgement (a probe in a batch; the
        sentinel published after it with :meth:`publish` is acknowledged, and the broker
        handles one client's packets in order). A connection already closed by the broker
        drops the message, which is no leak."""
        self.client.paho.publish(topic, payload, qos=qos)

    def try_subscribe(self, *filters: str, qos: int = 1) -> list[int] | None:
        """One SUBSCRIBE with *filters*: the SUBACK codes, or None when the broker closed
        the connection instead (refusing the whole packet; the actor is connected again)."""
        try:
            codes = self.client.subscribe(*filters, qos=qos)
        except PeerClosed:
            self._reopen()
            return None
        self._held += [f for f, c in zip(filters, codes, strict=False) if c < 0x80]
        return codes

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe to *filters*; one code per filter. When the broker refuses a packet by
        closing the connection, each filter is sent again alone on a new connection, so
        that every filter gets its own verdict; :data:`CLOSED` for those it refused so."""
        codes = self.try_subscribe(*filters, qos=qos)
        if codes is not None:
            return codes
        if len(filters) == 1:
            return [CLOSED]
        out: list[int] = []
        for topic_filter in filters:
            alone = self.try_subscribe(topic_filter, qos=qos)
            out.append(CLOSED if alone is None else alone[0])
        return out

    def next_message(self, timeout: float | None = None) -> Received:
        if self._carry:
            return self._carry.pop(0)
        return self.client.next_message(timeout)

    def __repr__(self) -> str:
        return f"<{self.user} as {self.client_id}>"


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


class Reader(Protocol):
    """What :func:`read_until` needs of a reader: who it is, what it may read, and its
    next message (an :class:`Actor`, or a raw-socket client wrapped as one)."""

    user: str

    def may_receive(self, topic: str) -> bool: ...

    def settled_receive(self, topic: str) -> bool: ...

    def next_message(self, timeout: float | None = None) -> Received: ...


@dataclass
class RawReader:
    """A raw-socket client as a :class:`Reader`, for SUBSCRIBE options and properties
    paho does not expose exactly (subscription identifiers, retain handling).

    Attributes:
        raw: connected and logged in.
        profile, user, client_id: who the broker sees.
    """

    raw: RawClient
    profile: SecurityProfile
    user: str
    client_id: str
    limits: Limits | None = None

    def may_receive(self, topic: str) -> bool:
        return self.profile.may_receive(self.user, topic, LISTENER, client_id=self.client_id)

    def settled_receive(self, topic: str) -> bool:
        return self.limits is None or self.limits.settled_receive(self.user, self.client_id, topic)

    def next_message(self, timeout: float | None = None) -> Received:
        return self.raw.next_message(timeout)


def raw_reader(
    factory: Callable[..., RawClient],
    profile: SecurityProfile,
    user: str,
    limits: Limits | None = None,
) -> RawReader:
    """A raw client logged in as *user* with a fresh client id."""
    raw = factory()
    client_id = unique("mqttsec-acl-raw")
    answer = raw.connect(client_id, username=user, password=profile.users[user].password)
    if int(answer.reason_code) != 0:
        raise ClientError(f"{user!r} cannot log in on a raw socket: {answer!r}")
    return RawReader(raw, profile, user, client_id, limits)


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
