"""Judging one (user, topic) pair by observation: may this client publish there, may it
receive from there, and does the broker do exactly what the profile says?

Most ACL scenarios differ only in *which* pairs they probe (a rule kind, a look-alike
topic, a client id chosen by an attacker); the judging is always the same and lives here.
A :class:`Lab` keeps one standing connection per profile user (observers and writers) so
that a scenario of a hundred probes opens a handful of connections. :meth:`Lab.judge`
publishes a batch of probes, then one sentinel per (writer, reader) path: an allowed probe
must arrive, a denied one must not have arrived when the sentinel does (a broker forwards
one client's messages in order). Each probe is counted in a :class:`Tally` as allowed or
denied; one nobody could observe (no reader, no sentinel path) is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from mqttsec.fixtures.clients import DEFAULT_TIMEOUT, ClientTimeout
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._limits import READ_AT_SUBSCRIBE, Limits
from ._support import (
    LISTENER,
    Actor,
    MqttClientFactory,
    find_sentinel,
    gets,
    password_users,
    sends,
    unique,
)

__all__ = ["Lab", "Tally", "closes_on_subscribe", "concrete"]


def concrete(topic_filter: str, user: str, client_id: str) -> str:
    """A fresh topic name matched by *topic_filter* with ``%u`` = *user* and ``%c`` =
    *client_id*: every ``+`` becomes a fresh level, a trailing ``#`` one fresh level."""
    base = topic_filter.replace("%u", user).replace("%c", client_id)
    return "/".join(unique("lvl") if level in ("+", "#") else level for level in base.split("/"))


@dataclass
class Tally:
    """How many probes the broker allowed and denied as the profile says. A rule probed
    from one side only proves little (a broker denying everything passes every denial)."""

    allowed: int = 0
    denied: int = 0
    probes: list[str] = field(default_factory=list)
    limited: int = 0
    """Probes left out because a limit the target declares decides them."""
    refused: int = 0
    """Allowed probes the broker refused (a size or depth limit: a deviation)."""
    limits: Limits | None = None

    def add(self, verdict: bool | None, what: str = "") -> None:
        """Count one probe's verdict (None: not observable, not counted)."""
        if verdict is None:
            return
        if verdict:
            self.allowed += 1
        else:
            self.denied += 1
        if what:
            self.probes.append(f"{what}: {'allowed' if verdict else 'denied'}")

    def skip(self, limits: Limits | None) -> None:
        """Count one probe left out because of a declared limit."""
        self.limited += 1
        self.limits = limits

    def require_both(self, profile: SecurityProfile, what: str) -> None:
        """Unsupported unless both sides were observed; when probes were left out for a
        limit the target declares, with the target's reason."""
        if not self.allowed or not self.denied:
            if self.limited and self.limits is not None:
                mqttsec_unsupported(
                    f"{what}: {self.allowed} allowed and {self.denied} denied probes could "
                    f"be judged, {self.limited} depend on what the target cannot express "
                    f"({self.limits.why()})"
                )
            mqttsec_unsupported(
                f"profile {profile.name!r}: {what}: {self.allowed} allowed and "
                f"{self.denied} denied observable probes; both sides are needed"
            )


class Lab:
    """Standing connections for every password user of the profile, and the two judges.

    Args:
        factory: the ``mqtt_client`` fixture.
        profile: the profile under test.
        target: the running target, whose declared limits (``unsupported``) decide which
            probes can be judged; None: it enforces the whole profile.
    """

    def __init__(
        self,
        factory: MqttClientFactory,
        profile: SecurityProfile,
        target: RunningTarget | None = None,
    ) -> None:
        self.factory = factory
        self.profile = profile
        self.limits = (
            Limits.none(profile) if target is None else Limits.of(target.unsupported, profile)
        )
        self.limited: set[str] = set()
        """Limits (keys) that made this lab leave probes out."""
        self.users = password_users(profile)
        self.standing = {u: self.actor(u) for u in self.users}
        self._sentinels: dict[tuple[str, str, str, str], str | None] = {}

    def beyond_limits(
        self, reader: Actor, granted: Iterable[str], topics: Iterable[str]
    ) -> list[str]:
        """The forbidden *topics* whose absence from *reader* still proves something: on a
        target that checks read access against the SUBSCRIBE filter only
        (``acl-read-at-delivery``), those no wildcard filter *reader* was granted
        (*granted*) covers. The others are excused for *reader* from then on."""
        granted = list(granted)
        kept = []
        for topic in topics:
            if self.limits.read_at_subscribe_only(granted, topic):
                reader.excused.add(topic)
                self.limited.add(READ_AT_SUBSCRIBE)
            else:
                kept.append(topic)
        return kept

    def subscribe_beyond(self, reader: Actor, filters: list[str], topics: list[str]) -> list[str]:
        """Subscribe *reader* to *filters* in one SUBSCRIBE, then :meth:`beyond_limits` with
        the filters the broker granted: the forbidden *topics* whose absence still proves
        something."""
        codes = reader.subscribe(*filters)
        granted = [f for f, c in zip(filters, codes, strict=True) if c < 0x80]
        return self.beyond_limits(reader, granted, topics)

    def nothing_checked(self, why: str) -> None:
        """End a scenario that judged nothing as unsupported: with the target's reasons
        when probes were left out for its declared limits, else with *why*."""
        if self.limits.enforced is not self.profile or self.limited:
            why = f"{why}; probes left out for the target's limits: {self.limits.why()}"
        mqttsec_unsupported(why)

    def actor(self, user: str, **kwargs: object) -> Actor:
        """A new actor (its own connection, made on first use) for *user*."""
        return Actor(self.factory, self.profile, user, limits=self.limits, **kwargs)  # type: ignore[arg-type]

    def sentinel(self, writer: Actor, reader: Actor) -> str | None:
        """A fresh topic *writer* may write and *reader* may read (cached per identity
        pair); *reader* is not subscribed to it yet (see :meth:`listen`)."""
        key = (writer.user, writer.client_id, reader.user, reader.client_id)
        if key not in self._sentinels:
            self._sentinels[key] = find_sentinel(self.profile, writer, reader)
        return self._sentinels[key]

    def listen(self, writer: Actor, reader: Actor) -> str:
        """Subscribe *reader* (its current connection) to the sentinel topic from *writer*
        and return it; a connection remade after a close has lost its subscriptions."""
        found = self.sentinel(writer, reader)
        assert found is not None
        assert reader.subscribe(found)[0] < 0x80, f"{reader!r} refused sentinel {found!r}"
        return found

    def observer_for(self, topic: str, writer: Actor) -> Actor | None:
        """A standing connection that may read *topic* and has a sentinel path from
        *writer* (needed when the publish must be denied)."""
        for observer in self.standing.values():
            if observer is writer or not gets(observer, topic):
                continue
            if writer.may_publish(topic) or self.sentinel(writer, observer) is not None:
                return observer
        return None

    def paths(
        self, readers: Iterable[Actor] | None = None, writers: Iterable[Actor] | None = None
    ) -> list[tuple[Actor, Actor]]:
        """(writer, observer) pairs with a sentinel path between them, observers from
        *readers* and writers from *writers* (each: every standing connection when None):
        who can prove that something did not arrive."""
        writers = list(self.standing.values() if writers is None else writers)
        return [
            (w, o)
            for o in (self.standing.values() if readers is None else readers)
            for w in writers
            if self.sentinel(w, o)
        ]

    def writer_for(self, topic: str, reader: Actor, extra: Iterable[Actor] = ()) -> Actor | None:
        """A connection (standing, or one of *extra*) that may write *topic* and has a
        sentinel path to *reader* (needed when the reader must not receive)."""
        for writer in (*extra, *self.standing.values()):
            if writer is reader or not sends(writer, topic):
                continue
            if reader.may_receive(topic) or self.sentinel(writer, reader) is not None:
                return writer
        return None

    # ------------------------------------------------------------------ in batches

    def judge(self, actor: Actor, topics: Iterable[str], tally: Tally) -> None:
        """Judge *actor* on every topic of *topics*, as a publisher and as a reader, in
        batches: all probes first, then one sentinel per path, so a few round trips
        instead of one per probe. A publish is judged by a standing reader of the topic,
        a subscription by a standing writer of it; a probe nobody can observe is not
        counted.

        Raises:
            AssertionError: a leak ("LEAK") or an allowed message not delivered ("NOT
                DELIVERED").
            SentinelLost: a sentinel never came (nothing proven: a harness error).
        """
        wanted = list(dict.fromkeys(topics))
        self._judge_publish(actor, wanted, tally)
        self._judge_receive(actor, wanted, tally)

    def judge_publish(self, writer: Actor, topics: Iterable[str], tally: Tally) -> None:
        """The publishing half of :meth:`judge`: *writer* publishes to every topic; a
        standing reader of each receives it exactly when the profile lets *writer* write."""
        self._judge_publish(writer, list(dict.fromkeys(topics)), tally)

    def judge_receive(self, reader: Actor, topics: Iterable[str], tally: Tally) -> None:
        """The reading half of :meth:`judge`: *reader* subscribes to every topic, a writer
        publishes there, and it arrives exactly when the profile lets *reader* read."""
        self._judge_receive(reader, list(dict.fromkeys(topics)), tally)

    def _judge_publish(self, writer: Actor, topics: list[str], tally: Tally) -> None:
        groups: dict[str, tuple[Actor, list[str]]] = {}
        for topic in topics:
            if not writer.settled_publish(topic):
                tally.skip(self.limits)
                continue
            observer = self.observer_for(topic, writer)
            if observer is not None:
                groups.setdefault(observer.user, (observer, []))[1].append(topic)
        for observer, mine in groups.values():
            codes = observer.subscribe(*mine)
            refused = [t for t, c in zip(mine, codes, strict=True) if c >= 0x80]
            assert not refused, (
                f"NOT DELIVERED: {observer!r} may read {refused} but the SUBACK refused them"
            )
        planned = [t for _, mine in groups.values() for t in mine]
        sent = {t: unique(f"pub-{writer.user}").encode() for t in planned}
        denied = {p: t for t, p in sent.items() if not writer.may_publish(t)}
        # Allowed probes first, then the denied ones, in one batch each, then a sentinel
        # per observer. A broker that refuses by closing the connection (legal) never saw
        # the denied probes after the first: then each is sent again, acknowledged (a new
        # connection after each close), and new sentinels follow.
        for topic in planned:
            if writer.may_publish(topic):
                writer.publish_nowait(topic, sent[topic])
        before = writer.refusals
        for payload, topic in denied.items():
            writer.publish_nowait(topic, payload)
        tokens = self._end_markers(writer, groups)
        if writer.refusals != before:
            for payload, topic in denied.items():
                writer.try_publish(topic, payload)
            for user, more in self._end_markers(writer, groups).items():
                tokens[user] += more
        for observer, mine in groups.values():
            expected = {sent[t]: t for t in mine if writer.may_publish(t)}
            _collect(observer, expected, tokens[observer.user], denied, f"{writer!r} publishing")
            for topic in mine:
                tally.add(writer.may_publish(topic), f"{writer.user} publish {topic}")

    def _judge_receive(self, reader: Actor, topics: list[str], tally: Tally) -> None:
        groups: dict[str, tuple[Actor, list[str]]] = {}
        for topic in topics:
            if not reader.settled_receive(topic):
                tally.skip(self.limits)
                continue
            writer = self.writer_for(topic, reader)
            if writer is not None:
                groups.setdefault(writer.user, (writer, []))[1].append(topic)
        planned = [t for _, mine in groups.values() for t in mine]
        if not planned:
            return
        readable = [t for t in planned if reader.may_receive(t)]
        codes = reader.subscribe(*readable) if readable else []
        bad = [t for t, c in zip(readable, codes, strict=True) if c >= 0x80]
        assert not bad, f"NOT DELIVERED: {reader!r} may read {bad} but the SUBACK refused them"
        unreadable = [t for t in planned if not reader.may_receive(t)]
        if unreadable:
            reader.subscribe(*unreadable)  # refused, closed, or granted and filtered
        sent = {t: unique(f"recv-{reader.user}").encode() for t in planned}
        expected = {sent[t]: t for t in planned if reader.may_receive(t)}
        denied = {p: t for t, p in sent.items() if p not in expected}
        tokens: list[bytes] = []
        for writer, mine in groups.values():
            needed = any(not reader.may_receive(t) for t in mine)
            sentinel = self.listen(writer, reader) if needed else None
            for topic in mine:
                writer.publish_nowait(topic, sent[topic])
            if sentinel is not None:
                tokens.append(unique("sentinel").encode())
                writer.send_sentinel(sentinel, tokens[-1])
        _collect(reader, expected, tokens, denied, f"{reader!r} reading")
        for topic in planned:
            tally.add(reader.may_receive(topic), f"{reader.user} receive {topic}")

    def _end_markers(
        self, writer: Actor, groups: dict[str, tuple[Actor, list[str]]]
    ) -> dict[str, list[bytes]]:
        """Publish a sentinel from *writer* to each observer of *groups* that must see
        something proven absent (a denied probe among its topics); the tokens to wait
        for, by observer."""
        tokens: dict[str, list[bytes]] = {}
        for observer, mine in groups.values():
            tokens[observer.user] = []
            if all(writer.may_publish(t) for t in mine):
                continue
            sentinel = self.listen(writer, observer)
            tokens[observer.user].append(unique("sentinel").encode())
            writer.send_sentinel(sentinel, tokens[observer.user][-1])
        return tokens

    def rules(self) -> list[AclEntry]:
        """The profile's rules that hold on the probed listener, without ``$`` topics
        (nobody may publish there, so they are probed by the ``$`` scenarios instead)."""
        return [r for r in self.profile.acl if r.holds_on(LISTENER) and not r.topic.startswith("$")]


def _collect(
    reader: Actor,
    expected: dict[bytes, str],
    tokens: list[bytes],
    denied: dict[bytes, str],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Read until every *expected* payload and every sentinel *token* has arrived; fail
    on a *denied* payload or on a message on a topic *reader* may not read."""
    missing, waiting = dict(expected), set(tokens)
    deadline = time.monotonic() + timeout
    while missing or waiting:
        try:
            message = reader.next_message(max(0.0, deadline - time.monotonic()))
        except ClientTimeout:
            if waiting:
                raise SentinelLost(
                    f"{what}: a sentinel never came to {reader!r}, nothing is proven"
                ) from None
            raise AssertionError(
                f"NOT DELIVERED: {what}: {reader!r} did not receive {sorted(missing.values())}"
            ) from None
        assert message.payload not in denied, (
            f"LEAK: {what}: {reader.user!r} received {message.payload!r} published to "
            f"{denied[message.payload]!r}, which the profile forbids"
        )
        assert reader.may_receive(message.topic) or not reader.settled_receive(message.topic), (
            f"LEAK: {what}: {reader.user!r} received a message on {message.topic!r}, which "
            "the profile forbids it to read"
        )
        missing.pop(message.payload, None)
        waiting.discard(message.payload)


def closes_on_subscribe(target: RunningTarget, lab: Lab) -> None:
    """End a scenario whose check needs one SUBSCRIBE with allowed and forbidden filters
    answered filter by filter, on a broker that refused such packets by closing the
    connection (a legal refusal that leaks nothing, but also refuses the allowed filters,
    so the positive half cannot be judged)."""
    mqttsec_unsupported(
        f"{target.name} closes the connection on a SUBSCRIBE with forbidden filters, refusing "
        "the allowed filters beside them too, so whether each filter is judged on its own "
        f"cannot be seen ({lab.limits.closes or 'the target does not declare it'})"
    )
