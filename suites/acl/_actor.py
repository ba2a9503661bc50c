"""The parties of the ACL scenarios: profile users connected with a client id we chose.

An :class:`Actor` is one user over paho that survives a broker refusing by closing the
connection (it reconnects with the same client id and subscriptions and keeps what the
closed connection received); a :class:`RawReader` is one over our own codec, for SUBSCRIBE
options paho does not expose. Both answer what the profile lets them read, as a
:class:`Reader`, with the client id the broker really sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mqttsec.fixtures.clients import ClientError, MqttClient, PeerClosed, Received
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.suites.helpers import unique

from ._limits import Limits

__all__ = [
    "CLOSED",
    "LISTENER",
    "Actor",
    "MqttClientFactory",
    "RawReader",
    "Reader",
    "raw_reader",
]

MqttClientFactory = Callable[..., MqttClient]

LISTENER = "plain"
"""The listener the ACL is probed on (password users, no certificate identities)."""

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
