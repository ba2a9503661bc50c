"""An application message inside the broker, independent of who sent it and how.

A :class:`Message` is built once from an inbound PUBLISH (or a will) and shared by every
subscriber, queue and the retained store. It is never mutated after creation except for its
private encoding cache, which lets every subscriber that gets an identical PUBLISH share one
encoding (see :mod:`.wire`).
"""

from __future__ import annotations

import math

from .protocol import NO_PROPERTIES, Properties, PropertyId

__all__ = ["FORWARDED_PROPERTIES_DROPPED", "Message"]

FORWARDED_PROPERTIES_DROPPED = (
    PropertyId.TOPIC_ALIAS,
    PropertyId.SUBSCRIPTION_IDENTIFIER,
    PropertyId.MESSAGE_EXPIRY_INTERVAL,
)
"""Properties that are per hop, not per message: recomputed for each receiver."""


class Message:
    """One application message.

    Attributes:
        topic: the topic name (aliases already resolved).
        payload: the application payload.
        qos: the QoS it was published with.
        retain: the RETAIN flag it was published with.
        properties: the 5.0 properties forwarded unchanged (Topic Alias, Subscription
            Identifier and Message Expiry Interval removed; see ``expires_at``).
        expires_at: monotonic deadline from Message Expiry Interval, or None.
        sender: client id of the publisher, for the no-local option; None for wills.
        origin: (username, client id) of the publisher of a retained message (or will),
            set only when an ACL is configured: a retained message is delivered only while
            its publisher may still write its topic (CVE-2018-12546 class).
    """

    __slots__ = (
        "expires_at",
        "origin",
        "payload",
        "properties",
        "qos",
        "retain",
        "sender",
        "topic",
        "wire",
        "wire_key",
        "wire_parts",
    )

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = NO_PROPERTIES,
        expires_at: float | None = None,
        sender: str | None = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.expires_at = expires_at
        self.sender = sender
        self.origin: tuple[str | None, str] | None = None
        self.wire_key: tuple[object, ...] | None = None
        self.wire_parts: tuple[bytes, bytes] = (b"", b"")
        self.wire: dict[tuple[object, ...], tuple[bytes, bytes]] | None = None

    @classmethod
    def from_publish_properties(
        cls,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties,
        now: float,
        sender: str | None,
    ) -> Message:
        """Build from inbound 5.0 properties: strip per-hop ones, turn expiry into a deadline."""
        expires_at: float | None = None
        if properties:
            interval = properties.get(PropertyId.MESSAGE_EXPIRY_INTERVAL)
            if isinstance(interval, int):
                expires_at = now + interval
            if any(pid in properties for pid in FORWARDED_PROPERTIES_DROPPED):
                properties = properties.without(*FORWARDED_PROPERTIES_DROPPED)
        return cls(topic, payload, qos, retain, properties, expires_at, sender)

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def remaining_expiry(self, now: float) -> int | None:
        """Seconds left, rounded up, to send as Message Expiry Interval [MQTT-3.3.2-6]."""
        if self.expires_at is None:
            return None
        return max(0, math.ceil(self.expires_at - now - 1e-9))

    def __repr__(self) -> str:
        return (
            f"Message(topic={self.topic!r}, payload={self.payload[:32]!r}, qos={self.qos}, "
            f"retain={self.retain})"
        )
