"""A tiny synchronous MQTT 3.1.1 client over the project's codec, for the target tests.

3.1.1 because every target speaks it (amqtt speaks nothing else). Every read has a deadline;
"not delivered" is proven with a sentinel message, never by waiting.
"""

from __future__ import annotations

import itertools
import socket
import ssl
import time
from collections.abc import Iterator

from mqttsec.fixtures.targets import Endpoint
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Packet,
    ProtocolVersion,
    Puback,
    Publish,
    QoS,
    StreamParser,
    Suback,
    Subscribe,
    Subscription,
    encode,
)

V311 = ProtocolVersion.V311
WAIT = 5.0
_ids: Iterator[int] = itertools.count(1)


class Client:
    """One connection; :func:`connect` makes it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = StreamParser(V311, role="client")
        self.pending: list[Packet] = []
        self.messages: list[Publish] = []

    def send(self, packet: Packet) -> None:
        self.sock.sendall(encode(packet, V311))

    def next_packet(self, deadline: float) -> Packet | None:
        """The next packet, or None when the broker closed the connection."""
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no packet from the broker in time")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    def expect(self, kind: type[Packet]) -> Packet:
        """Wait for a packet of *kind*, keeping PUBLISHes that arrive meanwhile."""
        deadline = time.monotonic() + WAIT
        while True:
            packet = self.next_packet(deadline)
            if packet is None:
                raise ConnectionError(f"closed while waiting for {kind.__name__}")
            if isinstance(packet, Publish) and kind is not Publish:
                self._received(packet)
                continue
            if isinstance(packet, kind):
                return packet

    def _received(self, packet: Publish) -> None:
        self.messages.append(packet)
        if packet.qos == QoS.AT_LEAST_ONCE and packet.packet_id is not None:
            self.send(Puback(packet.packet_id))

    def subscribe(self, topic_filter: str) -> list[int]:
        packet_id = next(_ids) % 65535 + 1
        self.send(Subscribe(packet_id, (Subscription(topic_filter, QoS.AT_LEAST_ONCE),)))
        suback = self.expect(Suback)
        assert isinstance(suback, Suback)
        return [int(code) for code in suback.reason_codes]

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        if qos == 0:
            self.send(Publish(topic, payload))
            return
        packet_id = next(_ids) % 65535 + 1
        self.send(Publish(topic, payload, QoS.AT_LEAST_ONCE, packet_id=packet_id))
        self.expect(Puback)

    def collect_until(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Every message received before the sentinel (*topic*, *payload*)."""
        deadline = time.monotonic() + WAIT
        seen: list[tuple[str, bytes]] = []
        while True:
            while self.messages:
                message = self.messages.pop(0)
                if (message.topic, message.payload) == (topic, payload):
                    return seen
                seen.append((message.topic, message.payload))
            packet = self.next_packet(deadline)
            if packet is None:
                raise ConnectionError(f"closed before the sentinel {topic!r} arrived; got {seen}")
            if isinstance(packet, Publish):
                self._received(packet)

    def close(self) -> None:
        self.sock.close()


def connect(
    endpoint: Endpoint,
    username: str | None = None,
    password: str | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    client_id: str | None = None,
) -> tuple[Client | None, int | None]:
    """Connect; returns (client, CONNACK code). The client is None (closed) when refused;
    the code is None when the broker closed the connection without a CONNACK."""
    raw = socket.create_connection((endpoint.host, endpoint.port), timeout=WAIT)
    sock = tls.wrap_socket(raw, server_hostname=endpoint.host) if tls is not None else raw
    client = Client(sock)
    client.send(
        Connect(
            client_id=client_id or f"t-{username or 'anon'}-{next(_ids)}",
            protocol_version=V311,
            username=username,
            password=None if password is None else password.encode(),
        )
    )
    try:
        packet = client.next_packet(time.monotonic() + WAIT)
    except OSError:
        packet = None
    if not isinstance(packet, Connack):
        client.close()
        return None, None
    code = int(packet.reason_code)
    if code != 0:
        client.close()
        return None, code
    return client, code
