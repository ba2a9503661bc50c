"""A small blocking MQTT client over the project's own codec, for exact end-to-end tests.

It sends packets (or raw bytes) and receives whole packets with a deadline; every wait is
bounded. ``expect_closed`` proves the broker closed the connection.
"""

from __future__ import annotations

import socket
import time
from typing import Self, TypeVar

from mqttsec.reference_broker.protocol import (
    NO_PROPERTIES,
    Connack,
    Connect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
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

P = TypeVar("P")

TIMEOUT = 5.0


class Closed(Exception):
    """The broker closed the connection."""


class RawClient:
    def __init__(self, host: str, port: int, version: ProtocolVersion = ProtocolVersion.V5) -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.version = version
        self.parser = StreamParser(version, role="client")
        self.pending: list[Packet] = []

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, *packets: Packet) -> None:
        self.sock.sendall(b"".join(encode(p, self.version) for p in packets))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, timeout: float = TIMEOUT) -> Packet:
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no packet from the broker")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                raise Closed()
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    def expect(self, cls: type[P], timeout: float = TIMEOUT) -> P:
        packet = self.recv(timeout)
        assert isinstance(packet, cls), f"expected {cls.__name__}, got {packet!r}"
        return packet

    def expect_closed(self, timeout: float = TIMEOUT) -> list[Packet]:
        """Read until the broker closes; return the packets received before the close."""
        got: list[Packet] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got.append(self.recv(deadline - time.monotonic()))
            except Closed:
                return got
        raise AssertionError(f"broker did not close the connection; got {got!r}")

    def connect(
        self,
        client_id: str = "",
        *,
        clean: bool = True,
        keep_alive: int = 60,
        properties: Properties = NO_PROPERTIES,
        **kw: object,
    ) -> Connack:
        self.send(
            Connect(
                client_id=client_id,
                protocol_version=self.version,
                clean_start=clean,
                keep_alive=keep_alive,
                properties=properties,
                **kw,
            )  # type: ignore[arg-type]
        )
        if self.parser.version is None:
            self.parser.version = self.version
        return self.expect(Connack)

    def subscribe(
        self,
        *filters: str | Subscription,
        packet_id: int = 1,
        properties: Properties = NO_PROPERTIES,
    ) -> Suback:
        subs = tuple(f if isinstance(f, Subscription) else Subscription(f, QoS(2)) for f in filters)
        self.send(Subscribe(packet_id, subs, properties))
        return self.expect(Suback)

    def publish(self, topic: str, payload: bytes = b"", qos: int = 0, **kw: object) -> None:
        self.send(Publish(topic, payload, QoS(qos), **kw))  # type: ignore[arg-type]

    def ping(self) -> None:
        self.send(Pingreq())
        self.expect(Pingresp)

    def expect_publish(self, timeout: float = TIMEOUT) -> Publish:
        packet = self.expect(Publish, timeout)
        if packet.qos == 1 and packet.packet_id is not None:
            pass
        return packet

    def ack(self, packet: Publish) -> None:
        assert packet.packet_id is not None
        self.send(Puback(packet.packet_id))
