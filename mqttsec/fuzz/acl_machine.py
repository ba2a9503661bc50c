"""A hypothesis state machine: several clients, some unauthorized, under the profile's ACL.

Clients log in as the profile's password users plus one that is not in the profile
(``mallory``, always refused); they subscribe, publish and reconnect in any order. The
property: no message is ever delivered to a client that may not read its topic, and no
message from a client that may not write it is ever delivered to anyone
(:meth:`SecurityProfile.may_receive` / :meth:`~SecurityProfile.may_publish`).

No sleeps: after every publish each connected client gets a *sentinel* from the harness
login (which may write everywhere) on ``users/<name>/sentinel``, published only after the
publisher's PINGREQ was answered, so the broker had already routed the publish. Once a
client has its sentinel, anything the broker routed to it before has arrived. A sentinel
that never comes is a harness error, never a pass.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mqttsec.fixtures.clients import ClientError, PeerClosed
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Pingreq,
    Pingresp,
    ProtocolVersion,
    Puback,
    Publish,
    QoS,
    Subscribe,
    Subscription,
)

__all__ = ["SentinelLost", "acl_machine"]

TOPICS = (
    "sensors/bob/t", "sensors/private/x", "sensors/a", "reports/r", "reports/secret/s",
    "users/alice/x", "users/bob/x", "users/carol/x", "public/p", "fleet/announce",
)  # fmt: skip
FILTERS = (*TOPICS, "#", "sensors/#", "sensors/+/x", "reports/#", "users/+/x", "+/bob/#", "+/+")
INTRUDER = "mallory"


class SentinelLost(ClientError):
    """A sentinel did not arrive: the check proves nothing (a harness error)."""


class _Client:
    """One machine client: a RawClient logging every byte it sends, and what it received."""

    def __init__(self, name: str, password: str | None, machine: Any, client_id: str) -> None:
        self.name = name
        self.password = password
        self.machine = machine
        self.client_id = client_id
        self.raw: RawClient | None = None
        self.sent = bytearray()
        self.received: list[Publish] = []

    def open(self) -> RawClient:
        """A new connection whose every sent byte is logged in :attr:`sent`."""
        m = self.machine
        raw = RawClient(m.endpoint, m.version, timeout=m.timeout)
        original = raw.send_bytes

        def send_bytes(data: bytes) -> None:
            self.sent += data
            original(data)

        raw.send_bytes = send_bytes  # type: ignore[method-assign]
        return raw

    def connect(self) -> bool:
        """Log in; False (and not connected) when the broker refuses."""
        self.close()
        raw = self.open()
        try:
            ack = raw.connect(self.client_id, username=self.name, password=self.password)
        except ClientError:
            raw.close()
            return False
        if int(ack.reason_code) != 0:
            self.raw = raw  # keep it: a refused client still gets to send (and be dropped)
            return False
        self.raw = raw
        raw.send(Subscribe(1, (Subscription(f"users/{self.name}/sentinel", QoS(1)),)))
        self.sync()
        return True

    def sync(self) -> None:
        """PINGREQ and read up to its PINGRESP, keeping deliveries (closed: not connected)."""
        raw = self.raw
        if raw is None:
            return
        try:
            raw.send(Pingreq())
            while True:
                packet = raw.recv()
                if isinstance(packet, Pingresp):
                    return
                self._keep(packet)
        except PeerClosed:
            self.close()

    def _keep(self, packet: object) -> None:
        if isinstance(packet, Publish):
            self.received.append(packet)
            if packet.qos == QoS(1) and packet.packet_id is not None and self.raw is not None:
                self.raw.send(Puback(packet.packet_id))

    def wait_for(self, token: bytes) -> None:
        """Read until the sentinel *token* arrives."""
        raw = self.raw
        if raw is None:
            return
        try:
            while True:
                packet = raw.recv()
                self._keep(packet)
                if isinstance(packet, Publish) and packet.payload == token:
                    return
        except PeerClosed:
            self.close()
        except ClientError as exc:
            raise SentinelLost(f"{self.name}: sentinel {token!r} did not arrive: {exc}") from None

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
        self.raw = None


def acl_machine(
    endpoint: Any,
    profile: SecurityProfile,
    listener: str,
    admin: tuple[str, str],
    version: ProtocolVersion = ProtocolVersion.V5,
    timeout: float = 5.0,
) -> type[RuleBasedStateMachine]:
    """The state machine class for one running broker.

    Args:
        endpoint: the plain listener's endpoint.
        profile: the profile the broker was started with (the ACL expectations).
        listener: that listener's profile name.
        admin: (user, password) that may write ``users/<name>/sentinel`` for every client.
        version: the MQTT version every client speaks.
        timeout: bound of every wait.
    """
    names = sorted(profile.users)
    passwords: dict[str, str | None] = {n: profile.users[n].password for n in names}
    passwords[INTRUDER] = "wrong-password"
    who = st.sampled_from([*names, INTRUDER])
    tokens = itertools.count()

    class AclMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.endpoint, self.version, self.timeout = endpoint, version, timeout
            self.clients = {n: _Client(n, passwords[n], self, f"acl-{n}") for n in passwords}
            self.sentinel = _Client(admin[0], admin[1], self, "acl-sentinel-publisher")
            self.origin: dict[bytes, tuple[str, str]] = {}
            if not self.sentinel.connect():
                raise SentinelLost(f"the sentinel publisher {admin[0]!r} cannot log in")
            for client in self.clients.values():
                client.connect()

        @property
        def transcript(self) -> dict[str, bytes]:
            """Every byte each client sent (for a reproducer)."""
            return {n: bytes(c.sent) for n, c in self.clients.items()}

        @rule(name=who, topic_filter=st.sampled_from(FILTERS), qos=st.integers(0, 1))
        def subscribe(self, name: str, topic_filter: str, qos: int) -> None:
            client = self.clients[name]
            if client.raw is None:
                return
            client.raw.send(Subscribe(2, (Subscription(topic_filter, QoS(qos)),)))
            client.sync()

        @rule(name=who, topic=st.sampled_from(TOPICS), qos=st.integers(0, 1))
        def publish(self, name: str, topic: str, qos: int) -> None:
            client = self.clients[name]
            token = f"acl-{next(tokens)}".encode()
            self.origin[token] = (name, topic)
            if client.raw is None:  # not logged in: log in (maybe refused) and send anyway
                client.connect()
            if client.raw is not None:
                try:
                    client.raw.send(Publish(topic, token, QoS(qos), packet_id=3 if qos else None))
                except PeerClosed:
                    client.close()
                client.sync()
            self.settle()

        @rule(name=who)
        def reconnect(self, name: str) -> None:
            self.clients[name].connect()

        def settle(self) -> None:
            """Sentinel each connected client, so every routed message has arrived."""
            for client in self.clients.values():
                if client.raw is None:
                    continue
                token = f"sentinel-{next(tokens)}".encode()
                assert self.sentinel.raw is not None, "the sentinel publisher was disconnected"
                self.sentinel.raw.send(Publish(f"users/{client.name}/sentinel", token))
                client.wait_for(token)

        @invariant()
        def nothing_leaked(self) -> None:
            for client in self.clients.values():
                for message in client.received:
                    origin = self.origin.get(bytes(message.payload))
                    if origin is None:
                        continue
                    publisher, topic = origin
                    assert profile.may_receive(client.name, topic, listener), (
                        f"LEAK: {client.name} received {topic!r} (published by {publisher}) "
                        "but may not read it"
                    )
                    assert profile.may_publish(publisher, topic, listener), (
                        f"LEAK: {publisher} may not write {topic!r}, yet {client.name} received it"
                    )

        def teardown(self) -> None:
            for client in (self.sentinel, *self.clients.values()):
                client.close()

    return AclMachine
