"""Sessions: the state that outlives a network connection, and the QoS 1/2 bookkeeping.

A :class:`Session` holds what MQTT says a server keeps for a client (MQTT 5.0 section 4.1):
its subscriptions, outbound QoS 1/2 messages awaiting acknowledgement (in send order, for
redelivery with DUP on resume [MQTT-4.4.0-1]), messages queued beyond the inflight window or
while offline, and inbound QoS 2 packet ids awaiting PUBREL (exactly-once: a duplicate
PUBLISH with one of these ids is acknowledged but not distributed again [MQTT-4.3.3-?]).
Nothing here does I/O; the connection reads and changes this state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .message import Message
from .timers import Timer
from .topic_tree import SubscriptionEntry

if TYPE_CHECKING:
    from .connection import Connection

__all__ = [
    "AWAIT_ACK",
    "AWAIT_COMP",
    "NEVER_EXPIRES",
    "Flight",
    "Pending",
    "Session",
    "SessionStore",
]

NEVER_EXPIRES = 0xFFFF_FFFF
"""Session Expiry Interval meaning the session does not expire (MQTT 5.0 section 3.1.2.11.2)."""

AWAIT_ACK = 0
"""Outbound flight state: PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)."""
AWAIT_COMP = 1
"""Outbound flight state: PUBREL sent, waiting for PUBCOMP (QoS 2)."""


class Flight:
    """One outbound QoS 1/2 message between PUBLISH and its final acknowledgement."""

    __slots__ = ("message", "qos", "retain", "state", "sub_ids")

    def __init__(self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]) -> None:
        self.message = message
        self.qos = qos
        self.retain = retain
        self.sub_ids = sub_ids
        self.state = AWAIT_ACK


class Pending:
    """A message waiting for room in the inflight window (or for the client to come back)."""

    __slots__ = ("message", "qos", "retain", "sub_ids")

    def __init__(self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]) -> None:
        self.message = message
        self.qos = qos
        self.retain = retain
        self.sub_ids = sub_ids


@dataclass(eq=False)
class Session:
    """Everything the broker keeps for one client id.

    Sessions compare by identity, so they can key the topic tree directly.

    Attributes:
        client_id: the client identifier (possibly assigned by the broker).
        expiry_interval: seconds the session survives its connection (NEVER_EXPIRES = always).
        subscriptions: by the filter text as subscribed (``$share/...`` included).
        inflight: outbound QoS 1/2 flights by packet id, oldest first.
        queue: messages not yet sent, oldest first, bounded by ``max_queued``.
        inbound_qos2: packet ids of inbound QoS 2 PUBLISH not yet released by PUBREL.
        connection: the live connection, or None while offline.
        dropped: messages discarded because the queue was full.
        username: the authenticated username of the client that owns the session (READ
            checks for queued messages use it while the client is offline).
        read_cache: ACL READ decisions by topic for this identity (cleared on reload).
        policy_generation: the security policy generation its subscriptions were judged by.
    """

    client_id: str
    max_queued: int = 10_000
    expiry_interval: int = 0
    subscriptions: dict[str, SubscriptionEntry[Session]] = field(default_factory=dict)
    inflight: dict[int, Flight] = field(default_factory=dict)
    queue: deque[Pending] = field(default_factory=deque)
    inbound_qos2: set[int] = field(default_factory=set)
    connection: Connection | None = None
    expiry_timer: Timer | None = None
    will_timer: Timer | None = None
    dropped: int = 0
    username: str | None = None
    read_cache: dict[str, bool] = field(default_factory=dict)
    policy_generation: int = 0
    _next_id: int = 0

    def __hash__(self) -> int:
        return id(self)

    def allocate_packet_id(self) -> int | None:
        """A packet id not used by any outbound flight, or None when all 65535 are in use.

        Ids are reused only after their flow completed [MQTT-2.2.1-3].
        """
        inflight = self.inflight
        if len(inflight) >= 65535:
            return None
        pid = self._next_id
        while True:
            pid = pid + 1 if pid < 65535 else 1
            if pid not in inflight:
                self._next_id = pid
                return pid

    def enqueue(self, pending: Pending) -> bool:
        """Queue a message; when full, the oldest is dropped. False if nothing could be kept."""
        if self.max_queued <= 0:
            self.dropped += 1
            return False
        if len(self.queue) >= self.max_queued:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(pending)
        return True

    def cancel_timers(self) -> None:
        for timer in (self.expiry_timer, self.will_timer):
            if timer is not None:
                timer.cancel()
        self.expiry_timer = None
        self.will_timer = None

    def describe(self) -> dict[str, Any]:
        """A summary for logs and tests."""
        return {
            "client_id": self.client_id,
            "subscriptions": sorted(self.subscriptions),
            "inflight": len(self.inflight),
            "queued": len(self.queue),
            "inbound_qos2": len(self.inbound_qos2),
            "online": self.connection is not None,
        }


class SessionStore:
    """Sessions by client id."""

    def __init__(self, max_queued: int = 10_000) -> None:
        self._sessions: dict[str, Session] = {}
        self.max_queued = max_queued

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._sessions

    def get(self, client_id: str) -> Session | None:
        return self._sessions.get(client_id)

    def create(self, client_id: str) -> Session:
        """A fresh session, replacing any previous one of that id (the caller discards it)."""
        session = Session(client_id, max_queued=self.max_queued)
        self._sessions[client_id] = session
        return session

    def remove(self, session: Session) -> bool:
        """Forget a session if it is still the current one for its id."""
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]
            return True
        return False

    def __iter__(self) -> Any:
        return iter(list(self._sessions.values()))
