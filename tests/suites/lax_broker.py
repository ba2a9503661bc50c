"""A deliberately broken MQTT broker: it checks nothing.

It exists to prove that the robustness scenarios can fail. It frames packets by their
Remaining Length and nothing more: every CONNECT is accepted (any flags, any protocol name),
packets before CONNECT are processed, every PUBLISH is forwarded byte for byte to every
subscriber whose filter matches the (leniently decoded) topic, whatever its QoS bits or
characters, and no connection is ever closed by the broker. Real brokers had each of these
bugs; a scenario that passes against this one cannot catch them.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Self

from mqttsec.reference_broker.protocol.primitives import encode_vbi
from mqttsec.reference_broker.protocol.topics import topic_matches


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.v5 = False
        self.filters: list[str] = []
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass


def _length(data: bytes, pos: int) -> tuple[int, int] | None:
    """(remaining length, header size) of the packet at *pos*; None if incomplete."""
    value, shift = 0, 0
    for index in range(pos + 1, min(pos + 5, len(data))):
        value |= (data[index] & 0x7F) << shift
        shift += 7
        if not data[index] & 0x80:
            return value, index + 1 - pos
    return None


class LaxBroker(socketserver.ThreadingTCPServer):
    """Listen on 127.0.0.1:*port* (0: any free port) in a background thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.clients: list[_Client] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        with self.lock:
            for client in self.clients:
                client.sock.close()

    def forward(self, packet: bytes, topic: str) -> None:
        with self.lock:
            receivers = [c for c in self.clients if any(topic_matches(f, topic) for f in c.filters)]
        for client in receivers:
            client.send(packet)


class _Handler(socketserver.BaseRequestHandler):
    server: LaxBroker

    def handle(self) -> None:
        client = _Client(self.request)
        with self.server.lock:
            self.server.clients.append(client)
        buffer = b""
        while True:
            try:
                chunk = self.request.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while (framing := _length(buffer, 0)) is not None:
                size, header = framing
                if len(buffer) < header + size:
                    break
                packet, buffer = buffer[: header + size], buffer[header + size :]
                self._on_packet(client, packet, header)

    def _on_packet(self, client: _Client, packet: bytes, header: int) -> None:
        kind, body = packet[0] >> 4, packet[header:]
        props = b"\x00" if client.v5 else b""
        if kind == 1:  # CONNECT: whatever it says
            client.v5 = len(body) > 6 and body[6] == 5
            client.send(b"\x20\x03\x00\x00\x00" if client.v5 else b"\x20\x02\x00\x00")
        elif kind == 3:  # PUBLISH: forward as is
            topic_length = int.from_bytes(body[:2], "big")
            topic = body[2 : 2 + topic_length].decode("utf-8", "replace")
            if packet[0] & 0x06:
                client.send(b"\x40\x02" + body[2 + topic_length : 4 + topic_length])
            self.server.forward(packet, topic)
        elif kind == 8:  # SUBSCRIBE: grant everything
            pos, codes = 2 + (len(props) and 1 + body[2]), b""
            while pos + 2 <= len(body):
                length = int.from_bytes(body[pos : pos + 2], "big")
                client.filters.append(body[pos + 2 : pos + 2 + length].decode("utf-8", "replace"))
                pos += 3 + length
                codes += b"\x01"
            payload = body[:2] + props + codes
            client.send(b"\x90" + encode_vbi(len(payload)) + payload)
        elif kind == 12:  # PINGREQ
            client.send(b"\xd0\x00")
