"""What a client can read: subscriptions to ``#`` and ``$SYS/#``, and what actually arrives.

A granted SUBACK is not proof of a leak (mosquitto grants ``#`` and then filters each message
through the ACL), so the probe also proves delivery with a sentinel: after subscribing it
publishes one message of its own under ``mqttsec/audit/<run-id>/``; once that arrives
through ``#``, everything the broker would deliver has had its chance to arrive, and the
probe listens only a short, bounded while longer for live traffic and ``$SYS`` updates.
No message is retained and nothing outside the audit's own topic is published.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from dataclasses import dataclass, field

from mqttsec.fixtures.clients import ClientError, ClientTimeout
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Puback,
    Publish,
    QoS,
    Suback,
    Subscribe,
    Subscription,
)

from .findings import Finding, Severity
from .probe import Prober
from .target import Identity

__all__ = ["MAX_MESSAGES", "Observation", "observe_topics", "topic_findings"]

MAX_MESSAGES = 10_000
"""Messages collected at most (a busy broker must not make the audit grow without bound)."""

_SAMPLE = 8


@dataclass(slots=True)
class Observation:
    """What one subscriber to ``#`` and ``$SYS/#`` saw.

    Attributes:
        identity: who subscribed.
        codes: SUBACK code for ``#`` and for ``$SYS/#`` (None: no SUBACK, see *failure*).
        sentinel: the audit's own message came back through ``#``.
        sentinel_ack: how the broker acknowledged the sentinel PUBLISH.
        topics: topic -> messages seen (the sentinel excluded).
        sys_version: payload of ``$SYS/broker/version`` if seen.
        listened: seconds spent collecting.
        total: messages seen (the sentinel excluded), at most :data:`MAX_MESSAGES`.
        failure: why the probe stopped early ("" if it did not).
    """

    identity: Identity
    codes: tuple[int | None, int | None] = (None, None)
    sentinel: bool = False
    sentinel_ack: str = ""
    topics: Counter[str] = field(default_factory=Counter)
    sys_version: str = ""
    listened: float = 0.0
    failure: str = ""
    total: int = 0

    def seen(self, sys: bool) -> Counter[str]:
        """The ``$SYS`` topics (*sys*) or the others."""
        return Counter({t: n for t, n in self.topics.items() if t.startswith("$SYS") == sys})


def observe_topics(prober: Prober, version: str, identity: Identity, listen: float) -> Observation:
    """Subscribe to ``#`` and ``$SYS/#`` as *identity*, prove delivery, collect for *listen* s."""
    seen = Observation(identity)
    with prober.session(version, identity) as (client, attempt):
        if client is None:
            seen.failure = f"could not connect as {identity.label}: {attempt.describe()}"
            return seen
        start = time.monotonic()
        try:
            _run(prober, client, seen, listen)
        except (ClientError, OSError, ssl.SSLError) as exc:
            seen.failure = f"{type(exc).__name__}: {exc}"
        seen.listened = time.monotonic() - start
    return seen


def _run(prober: Prober, client: RawClient, seen: Observation, listen: float) -> None:
    filters = (Subscription("#", QoS.AT_MOST_ONCE), Subscription("$SYS/#", QoS.AT_MOST_ONCE))
    client.send(Subscribe(1, filters))
    suback = client.expect(Suback)
    codes = [int(c) for c in suback.reason_codes] + [None, None]
    seen.codes = (codes[0], codes[1])
    sentinel = prober.topic("sentinel")
    client.send(Publish(sentinel, b"mqttsec audit sentinel", QoS.AT_LEAST_ONCE, packet_id=2))
    denied = False
    end = time.monotonic() + prober.target.timeout
    while seen.total < MAX_MESSAGES and (remaining := end - time.monotonic()) > 0:
        try:
            packet = client.recv(remaining)
        except ClientTimeout:  # the window is over
            break
        if isinstance(packet, Puback):
            seen.sentinel_ack = f"PUBACK {int(packet.reason_code):#04x}"
            if int(packet.reason_code) >= 0x80:  # denied: it will not come back, just listen
                denied = True
                end = min(end, time.monotonic() + listen)
        elif isinstance(packet, Publish):
            if packet.topic == sentinel:
                seen.sentinel = True
                end = time.monotonic() + listen
                continue
            seen.topics[packet.topic] += 1
            seen.total += 1
            if packet.topic == "$SYS/broker/version" and not seen.sys_version:
                seen.sys_version = bytes(packet.payload[:80]).decode("utf-8", "replace")
    if not seen.sentinel and not denied and not seen.sentinel_ack:
        seen.sentinel_ack = "no PUBACK"


def _granted(code: int | None) -> bool:
    return code is not None and code < 0x80


def _sample(topics: Counter[str]) -> str:
    names = [t for t, _ in topics.most_common(_SAMPLE)]
    more = len(topics) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def topic_findings(seen: Observation, privileged: bool) -> list[Finding]:
    """TOPIC-WILDCARD and TOPIC-SYS rows.

    Args:
        seen: the observation.
        privileged: the identity is the user's own (``--username``), whose wide access may be
            intended, rather than anonymous or guessed credentials (then severity is higher).
    """
    who = seen.identity.label
    if seen.codes == (None, None):
        reason = seen.failure or "no SUBACK"
        return [
            Finding.not_tested("TOPIC-WILDCARD", "Subscribe to #", f"as {who}: {reason}"),
            Finding.not_tested("TOPIC-SYS", "Subscribe to $SYS/#", f"as {who}: {reason}"),
        ]
    return [_wildcard(seen, who, privileged), _sys(seen, who, privileged)]


def _wildcard(seen: Observation, who: str, privileged: bool) -> Finding:
    code = seen.codes[0]
    others = seen.seen(sys=False)
    base = f"as {who}: SUBACK for '#' {code:#04x}" if code is not None else f"as {who}"
    if not _granted(code):
        return Finding.ok("TOPIC-WILDCARD", "Subscription to # refused", base)
    delivery = (
        f"the audit's own message came back through '#' ({seen.sentinel_ack})"
        if seen.sentinel
        else f"the audit's own message did not come back ({seen.sentinel_ack})"
    )
    evidence = (
        f"{base}; {delivery}; {sum(others.values())} other message(s) on {len(others)} "
        f"topic(s) in {seen.listened:.1f}s" + (f": {_sample(others)}" if others else "")
    )
    if not seen.sentinel and not others:
        return Finding.note(
            "TOPIC-WILDCARD",
            "Subscription to # granted, but nothing delivered",
            evidence + "; the broker seems to filter deliveries per topic (ACL)",
        )
    return Finding.issue(
        "TOPIC-WILDCARD",
        Severity.MEDIUM if privileged else Severity.HIGH,
        f"{'Anonymous clients' if seen.identity.is_anonymous else who} can read every topic (#)",
        evidence,
        "restrict reads with an ACL (mosquitto `acl_file`: `topic read devices/%u/#` per "
        "user, no `topic #`); grant wildcard reads only to the accounts that need them",
    )


def _sys(seen: Observation, who: str, privileged: bool) -> Finding:
    code = seen.codes[1]
    sys_topics = seen.seen(sys=True)
    base = f"as {who}: SUBACK for '$SYS/#' " + (f"{code:#04x}" if code is not None else "none")
    if not _granted(code):
        return Finding.ok("TOPIC-SYS", "Subscription to $SYS/# refused", base)
    if not sys_topics:
        return Finding.note(
            "TOPIC-SYS",
            "Subscription to $SYS/# granted, no $SYS messages seen",
            f"{base}; nothing under $SYS within {seen.listened:.1f}s",
        )
    version = f"; broker version {seen.sys_version!r}" if seen.sys_version else ""
    return Finding.issue(
        "TOPIC-SYS",
        Severity.LOW if privileged else Severity.MEDIUM,
        f"Broker internals readable in $SYS by {who}",
        f"{base}; {sum(sys_topics.values())} message(s) on {len(sys_topics)} $SYS topic(s): "
        f"{_sample(sys_topics)}{version}",
        "deny $SYS to ordinary clients (mosquitto acl_file: no `topic read $SYS/#` except for "
        "monitoring accounts; or `sys_interval 0`); it reveals the version, client counts "
        "and load",
    )
