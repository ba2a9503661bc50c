"""The load generator: one publisher process and subscriber processes over raw sockets.

It must be faster than any broker it measures, so nothing in a hot loop is per message in
Python. The publisher sends slices of a pre-encoded buffer of PUBLISH packets. Subscribers
receive into a buffer and, since every delivered PUBLISH of a run has the same size, count
whole packets by length, check every packet's first byte with one strided slice, and at
QoS 1 build the PUBACKs for a whole receive with two strided slice assignments (packet ids
sit at a fixed offset). Anything unexpected in the stream falls back to a per-packet walk.

Processes share plain counters (``multiprocessing`` raw shared memory, no locks): the
orchestrator samples them on its own clock, so the children never time anything.
"""

from __future__ import annotations

import selectors
import socket
import time
import traceback
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from wire import (
    CONNACK_OK,
    PUBACK,
    Shape,
    connect_bytes,
    disconnect_bytes,
    publish_buffer,
    subscribe_bytes,
)

__all__ = ["LoadSpec", "Shared", "open_client", "run_publisher", "run_subscribers"]

RECV_SIZE = 256 * 1024
SEND_CHUNK = 64 * 1024
QOS0_BUFFER_PACKETS = 8192
QOS1_BUFFER_PACKETS = 65535  # packet ids 1..65535, so the buffer can be sent cyclically
QUICKACK = getattr(socket, "TCP_QUICKACK", 0)
"""Linux: acknowledge TCP segments at once. A broker that leaves Nagle on (mosquitto's
default) otherwise waits for our delayed ACK before each small write, which would make
QoS 1 ping-pong measure TCP timers instead of the broker. Re-armed after every receive."""
POLL = 0.25
ACK_BATCH = 8
ACK_NAP = 0.0003  # at most window/2 per nap: a cap of ~170k msg/s per publisher at window 100
BACKLOG_NAP = 0.0003  # seconds the publisher sleeps while the backlog is full
BACKLOG_STALL = (
    0.2,
    2.0,
)  # by QoS: no delivery this long with a full backlog: give up on it  # seconds a blocked socket call waits before re-checking the stop flag


@dataclass(frozen=True)
class LoadSpec:
    """What one scenario sends.

    Attributes:
        host: broker address.
        port: broker port.
        qos: 0 or 1, for both the PUBLISH packets and the subscriptions.
        shape: layout of every PUBLISH (see :func:`wire.shape_of`).
        payload_size: bytes of payload.
        inflight: the publisher's window of unacknowledged QoS 1 PUBLISH packets.
        max_messages: stop publishing after this many (0: only the stop flag ends it).
        backlog: at most this many messages may be published but not yet received by the
            slowest subscriber (0: flood, limited only by TCP back-pressure). This keeps the
            load at the broker's sustainable rate: a broker whose delivery falls behind its
            reading otherwise queues without bound and measures its collapse, not its speed.
        tag: distinguishes client ids between scenarios.
    """

    host: str
    port: int
    qos: int
    shape: Shape
    payload_size: int
    inflight: int = 100
    max_messages: int = 0
    backlog: int = 2000
    tag: str = "bench"


class Shared:
    """Counters and flags shared between the orchestrator and the generator processes."""

    def __init__(self, ctx: Any, subscribers: int) -> None:
        self.subscribers = subscribers
        self.stop_pub: Synchronized[int] = ctx.RawValue("b", 0)
        self.stop_sub: Synchronized[int] = ctx.RawValue("b", 0)
        self.pub_ready: Synchronized[int] = ctx.RawValue("b", 0)
        self.pub_done: Synchronized[int] = ctx.RawValue("b", 0)
        self.sent: Synchronized[int] = ctx.RawValue("q", 0)
        self.acked: Synchronized[int] = ctx.RawValue("q", 0)
        self.sub_ready = ctx.RawArray("b", max(subscribers, 1))
        self.delivered = ctx.RawArray("q", max(subscribers, 1))
        self.errors = ctx.SimpleQueue()

    def total_delivered(self) -> int:
        """Messages received by all subscribers so far."""
        return sum(self.delivered)


def open_client(host: str, port: int, client_id: str, timeout: float = 5.0) -> socket.socket:
    """Connect over TCP and complete the MQTT 3.1.1 CONNECT/CONNACK exchange.

    Raises:
        ConnectionError: the broker refused or answered something else than CONNACK 0.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_bytes(client_id))
    answer = _recv_exact(sock, len(CONNACK_OK))
    if answer != CONNACK_OK:
        sock.close()
        raise ConnectionError(f"{client_id}: expected CONNACK 0, got {answer.hex()}")
    return sock


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"broker closed the connection after {data.hex() or 'nothing'}")
        data += chunk
    return data


def _subscribe(sock: socket.socket, qos: int) -> None:
    sock.sendall(subscribe_bytes(qos))
    suback = _recv_exact(sock, 5)
    if suback[0] != 0x90 or suback[2:4] != b"\x00\x01" or suback[4] != qos:
        raise ConnectionError(f"expected SUBACK granting QoS {qos}, got {suback.hex()}")


def _disconnect(sock: socket.socket) -> None:
    """Send DISCONNECT and close; the broker may already be gone."""
    try:
        sock.sendall(disconnect_bytes())
    except OSError:
        pass
    sock.close()


def _report(shared: Shared, role: str) -> None:
    shared.errors.put(f"{role}: {traceback.format_exc()}")


# --------------------------------------------------------------------------- publisher


def run_publisher(spec: LoadSpec, shared: Shared) -> None:
    """Process entry: connect, then publish until ``stop_pub`` is set or the limit is hit."""
    try:
        count = QOS1_BUFFER_PACKETS if spec.qos else QOS0_BUFFER_PACKETS
        buf = memoryview(publish_buffer(count, spec.qos, spec.payload_size))
        sock = open_client(spec.host, spec.port, f"{spec.tag}-pub")
        sock.settimeout(POLL)
        shared.pub_ready.value = 1
        if spec.qos == 0:
            _publish_qos0(sock, buf, spec, shared)
        else:
            _publish_qos1(sock, buf, spec, shared)
        shared.pub_done.value = 1
        # Stay connected until the subscribers have drained, then say goodbye: a broker may
        # discard what it has read but not yet routed when a client just vanishes (amqtt does).
        while not shared.stop_sub.value:
            time.sleep(0.02)
        _disconnect(sock)
    except Exception:  # noqa: BLE001 - any failure must reach the orchestrator, not vanish
        _report(shared, "publisher")
    finally:
        shared.pub_done.value = 1


def _send(sock: socket.socket, data: memoryview, shared: Shared) -> int:
    """Send ``data`` whole unless stopped; returns the bytes sent."""
    done = 0
    while done < len(data):
        try:
            done += sock.send(data[done:])
        except TimeoutError:
            if shared.stop_pub.value:
                break
    return done


class _Backlog:
    """Holds the publisher back while too many messages are still on their way."""

    def __init__(self, spec: LoadSpec, shared: Shared) -> None:
        self.limit = spec.backlog if shared.subscribers else 0
        self.delivered = shared.delivered
        self.forgiven = 0  # messages given up on (dropped by the broker)
        self.stall = BACKLOG_STALL[spec.qos]
        self.last, self.since = -1, time.monotonic()

    def room(self, sent: int) -> int:
        """Messages that may be sent now; naps briefly when there is no room."""
        if not self.limit:
            return 1 << 62
        slowest: int = min(self.delivered)
        room = self.limit - (sent - slowest - self.forgiven)
        if room > 0:
            return room
        now = time.monotonic()
        if slowest != self.last:
            self.last, self.since = slowest, now
        elif now - self.since > self.stall:
            self.forgiven = sent - slowest  # a QoS 0 drop (or a stuck broker): move on
            return self.limit
        time.sleep(BACKLOG_NAP)
        return 0


def _publish_qos0(sock: socket.socket, buf: memoryview, spec: LoadSpec, shared: Shared) -> None:
    size, total = spec.shape.size, len(buf)
    limit = spec.max_messages * size if spec.max_messages else 1 << 62
    backlog = _Backlog(spec, shared)
    sent = 0
    while not shared.stop_pub.value and sent < limit:
        room = backlog.room(sent // size) * size - sent % size
        if room <= 0:
            continue
        off = sent % total
        end = min(off + SEND_CHUNK, total, off + (limit - sent), off + room)
        try:
            sent += sock.send(buf[off:end])
        except TimeoutError:
            continue
        shared.sent.value = sent // size


def _publish_qos1(sock: socket.socket, buf: memoryview, spec: LoadSpec, shared: Shared) -> None:
    size, packets = spec.shape.size, len(buf) // spec.shape.size
    window, limit = spec.inflight, spec.max_messages or 1 << 62
    acks = bytearray(RECV_SIZE)
    view = memoryview(acks)
    have = sent = acked = 0
    backlog = _Backlog(spec, shared)
    while not shared.stop_pub.value and acked < limit:
        room = min(window - (sent - acked), limit - sent, backlog.room(sent))
        while room > 0:  # the buffer is cyclic in packet ids: send up to its end, then wrap
            pos = sent % packets
            n = min(room, packets - pos)
            if _send(sock, buf[pos * size : (pos + n) * size], shared) < n * size:
                return
            sent += n
            room -= n
        shared.sent.value = sent
        if sent == acked:
            continue  # nothing in flight: the backlog holds us back, and it naps
        try:
            got = sock.recv_into(view[have:])
        except TimeoutError:
            continue
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        if not got:
            raise ConnectionError("broker closed the publisher's connection")
        have += got
        k = have // 4
        if acks[0 : 4 * k : 4].count(PUBACK) != k:
            raise ConnectionError(f"expected only PUBACKs, got {bytes(acks[:16]).hex()}...")
        acked += k
        if k < ACK_BATCH and window - (sent - acked) < window // 2:
            time.sleep(ACK_NAP)  # acks trickle in one by one: let them pile up, wake less
        rest = have - 4 * k
        acks[0:rest] = acks[4 * k : have]
        have = rest
        shared.acked.value = acked


# --------------------------------------------------------------------------- subscribers


class _Inbox:
    """One subscriber connection: its receive buffer and what it has counted."""

    def __init__(self, sock: socket.socket, index: int) -> None:
        self.sock = sock
        self.index = index
        self.buf = bytearray(RECV_SIZE)
        self.view = memoryview(self.buf)
        self.have = 0
        self.count = 0


def run_subscribers(spec: LoadSpec, shared: Shared, indexes: list[int]) -> None:
    """Process entry: subscribe one connection per index, then count until ``stop_sub``."""
    try:
        inboxes = []
        for i in indexes:
            sock = open_client(spec.host, spec.port, f"{spec.tag}-sub{i}")
            _subscribe(sock, spec.qos)
            sock.settimeout(POLL)
            inboxes.append(_Inbox(sock, i))
            shared.sub_ready[i] = 1
        _count_loop(inboxes, spec.shape, spec.qos, shared)
        for inbox in inboxes:
            _disconnect(inbox.sock)
    except Exception:  # noqa: BLE001 - any failure must reach the orchestrator, not vanish
        _report(shared, f"subscribers {indexes}")


def _count_loop(inboxes: list[_Inbox], shape: Shape, qos: int, shared: Shared) -> None:
    sel = selectors.DefaultSelector()
    for inbox in inboxes:
        sel.register(inbox.sock, selectors.EVENT_READ, inbox)
    template = bytes([PUBACK, 2, 0, 0]) * (RECV_SIZE // shape.size + 1)
    quickack = qos and QUICKACK
    while not shared.stop_sub.value:
        for key, _ in sel.select(POLL):
            inbox = key.data
            got = inbox.sock.recv_into(inbox.view[inbox.have :])
            if quickack:
                inbox.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            if not got:
                raise ConnectionError(f"broker closed subscriber {inbox.index}")
            inbox.have += got
            _consume(inbox, shape, qos, template)
            shared.delivered[inbox.index] = inbox.count


def _consume(inbox: _Inbox, shape: Shape, qos: int, template: bytes) -> None:
    """Count the whole packets in the buffer, acknowledge them at QoS 1, keep the rest."""
    buf, size, have = inbox.buf, shape.size, inbox.have
    k = have // size
    end = k * size
    if buf[0:end:size].count(shape.first_byte) == k:
        if qos and k:
            acks = bytearray(template[: 4 * k])
            acks[2::4] = buf[shape.id_offset : end : size]
            acks[3::4] = buf[shape.id_offset + 1 : end : size]
            inbox.sock.sendall(acks)
        consumed, messages = end, k
    else:
        consumed, messages, slow_acks = _walk(buf, have)
        if slow_acks:
            inbox.sock.sendall(slow_acks)
    inbox.count += messages
    rest = have - consumed
    buf[0:rest] = buf[consumed:have]
    inbox.have = rest


def _walk(buf: bytearray, have: int) -> tuple[int, int, bytes]:
    """Slow path: walk packet by packet (a DUP redelivery, PINGRESP, ...).

    Returns:
        (bytes consumed, PUBLISH packets seen, PUBACK bytes to send).
    """
    pos = messages = 0
    acks = bytearray()
    while pos + 2 <= have:
        first, length, mult, i = buf[pos], 0, 1, pos + 1
        while i < have:
            length += (buf[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if not buf[i - 1] & 0x80:
                break
        else:
            break
        if i + length > have:
            break
        if first >> 4 == 3:
            messages += 1
            if (first >> 1) & 3 == 1:
                topic_len = int.from_bytes(buf[i : i + 2], "big")
                pid = buf[i + 2 + topic_len : i + 4 + topic_len]
                acks += bytes([PUBACK, 2]) + pid
        elif first >> 4 not in (13,):  # PINGRESP is harmless; anything else is a bug
            raise ConnectionError(f"unexpected packet type {first >> 4} at a subscriber")
        pos = i + length
    return pos, messages, bytes(acks)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 5 ms until true; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)
