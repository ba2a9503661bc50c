"""A trivial stand-in broker for the generator's self-test: a sink and a source, no routing.

It answers CONNECT and SUBSCRIBE, then, per connection: a publisher's PUBLISH bytes are read
and discarded (at QoS 1 acknowledged in bulk with strided slices, as the subscribers do); a
subscriber gets a stream of pre-encoded PUBLISH packets (at QoS 1 with a window of
unacknowledged messages, mosquitto's default of 20 unless told otherwise, and one send per
packet as mosquitto does, so the subscriber sees as many small segments as with a broker). Measured against
it, the generator's rate is the most it can drive or absorb: it must be far above the rate
of any broker it is used to measure.
"""

from __future__ import annotations

import selectors
import socket
from typing import Any

from wire import CONNACK_OK, PUBACK, Shape, publish_buffer

__all__ = ["serve"]

RECV_SIZE = 256 * 1024
SEND_CHUNK = 64 * 1024


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray(RECV_SIZE)
        self.have = 0
        self.role = "handshake"
        self.sent = 0  # source: bytes (QoS 0) or packets (QoS 1) sent
        self.acked = 0


def serve(listener: socket.socket, qos: int, shape: Shape, payload: int, window: int) -> None:
    """Process entry: serve connections on ``listener`` until killed by the orchestrator."""
    stream = memoryview(publish_buffer(65535 if qos else 8192, qos, payload))
    template = bytes([PUBACK, 2, 0, 0]) * (RECV_SIZE // shape.size + 1)
    sel = selectors.DefaultSelector()
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    while True:
        for key, events in sel.select():
            if key.data is None:
                sock, _ = listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                sel.register(sock, selectors.EVENT_READ, _Conn(sock))
                continue
            conn: _Conn = key.data
            if events & selectors.EVENT_READ:
                _on_read(conn, sel, qos, shape, template, stream, window)
            if events & selectors.EVENT_WRITE and conn.role == "source" and conn.sock.fileno() >= 0:
                _on_write(conn, stream, qos, shape, window)


def _on_read(
    conn: _Conn, sel: Any, qos: int, shape: Shape, template: bytes, stream: memoryview, window: int
) -> None:
    try:
        got = conn.sock.recv_into(memoryview(conn.buf)[conn.have :])
    except (BlockingIOError, ConnectionError):
        return
    except OSError:  # the generator closed abruptly at the end of a run
        got = 0
    if not got:
        sel.unregister(conn.sock)
        conn.sock.close()
        return
    conn.have += got
    buf = conn.buf
    if conn.role == "handshake":
        _handshake(conn, sel, qos)
    if conn.role == "sink":
        k = conn.have // shape.size
        end = k * shape.size
        if qos and k:
            acks = bytearray(template[: 4 * k])
            acks[2::4] = buf[shape.id_offset : end : shape.size]
            acks[3::4] = buf[shape.id_offset + 1 : end : shape.size]
            conn.sock.setblocking(True)
            conn.sock.sendall(acks)
            conn.sock.setblocking(False)
        rest = conn.have - end
        buf[0:rest] = buf[end : conn.have]
        conn.have = rest
    elif conn.role == "source":  # PUBACKs from a QoS 1 subscriber
        k = conn.have // 4
        conn.acked += k
        rest = conn.have - 4 * k
        buf[0:rest] = buf[4 * k : conn.have]
        conn.have = rest
    if conn.role == "source" and qos:
        _on_write(conn, stream, qos, shape, window)


def _handshake(conn: _Conn, sel: Any, qos: int) -> None:
    """CONNECT -> CONNACK; then SUBSCRIBE makes a source, a PUBLISH makes a sink."""
    while conn.have >= 2 and conn.have >= 2 + conn.buf[1]:  # bench packets are < 128 bytes
        first, size = conn.buf[0], 2 + conn.buf[1]
        if first == 0x10:
            conn.sock.sendall(CONNACK_OK)
        elif first == 0x82:
            pid = bytes(conn.buf[2:4])
            conn.sock.sendall(b"\x90\x03" + pid + bytes([qos]))
            conn.role = "source"
            if qos == 0:  # a QoS 1 source sends from _on_read, as acknowledgements free room
                sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        elif first >> 4 == 3:
            conn.role = "sink"
            return  # leave the PUBLISH bytes in the buffer for the sink path
        else:
            raise RuntimeError(f"sink: unexpected packet {first:#x} during handshake")
        rest = conn.have - size
        conn.buf[0:rest] = conn.buf[size : conn.have]
        conn.have = rest
        if conn.role == "source":
            return


def _on_write(conn: _Conn, stream: memoryview, qos: int, shape: Shape, window: int) -> None:
    try:
        if qos == 0:
            off = conn.sent % len(stream)
            conn.sent += conn.sock.send(stream[off : off + SEND_CHUNK])
            return
        room = window - (conn.sent - conn.acked)
        packets = len(stream) // shape.size
        pos = conn.sent % packets
        n = min(room, packets - pos)
        if n > 0:  # one send per packet, as mosquitto writes them: the subscriber's worst case
            conn.sock.setblocking(True)
            for i in range(pos, pos + n):
                conn.sock.sendall(stream[i * shape.size : (i + 1) * shape.size])
            conn.sock.setblocking(False)
            conn.sent += n
    except BlockingIOError:
        return
    except OSError:  # the subscriber went away; its read event closes the connection
        return
