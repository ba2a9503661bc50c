"""Outbound delivery for a connection: the inflight window, the queue and flow control.

:class:`OutboundFlows` is the half of :class:`~.connection.Connection` that sends application
messages to the client. QoS 0 goes straight to the outbox; QoS 1/2 takes a packet id and a
slot in the inflight window (the client's Receive Maximum), or waits in the session queue.
When the client reads too slowly (the transport's buffer passes ``max_outbound_buffer``) or
its queue fills, the publishers feeding it are throttled for at most
``slow_consumer_timeout``; after that the client is a slow consumer and loses messages
instead, so one client can never hold up the others or grow memory without bound.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from .core import BrokerCore
from .message import Message
from .protocol import Packet, ProtocolVersion, Puback, Pubcomp, Pubrec, Pubrel, ReasonCode
from .sessions import AWAIT_COMP, Flight, Pending, Session
from .wire import PUBREL, ack, publish_parts, with_dup

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["OutboundFlows"]

_V5 = ProtocolVersion.V5


class OutboundFlows:
    """Sending side of a connection (mixed into Connection, which sets these attributes)."""

    core: BrokerCore
    transport: asyncio.Transport | None
    session: Session | None
    version: ProtocolVersion
    out: list[bytes]
    dirty: bool
    paused: bool
    blocked: bool
    throttled: bool
    congested: bool
    exempt: bool
    send_quota: int
    max_outbound_packet: int

    def send(self, packet: Packet) -> None:
        raise NotImplementedError

    @property
    def _this(self) -> Connection:
        """This object as the Connection it is mixed into (for calls into the core)."""
        return cast("Connection", self)

    def pause_writing(self) -> None:
        """The client reads too slowly: stop reading from it until its buffer drains."""
        self.paused = True
        self.update_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.update_reading()
        if self.session is not None and self.session.queue:
            self.drain_queue()
        if self.congested and not self.queue_congested():
            self.core.relieve(self._this)
        self.exempt = False

    def update_reading(self) -> None:
        """Read from the socket unless paused for writing, throttled, or awaiting a hook."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.paused or self.throttled or self.blocked:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def queue_congested(self) -> bool:
        session = self.session
        return session is not None and len(session.queue) > self.core.queue_low_water

    def write(self, data: bytes) -> None:
        """Queue bytes; the core flushes all queued bytes once per loop iteration."""
        self.out.append(data)
        if not self.dirty:
            self.dirty = True
            self.core.mark_dirty(self._this)

    def flush(self) -> None:
        self.dirty = False
        out = self.out
        if not out:
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        out.clear()

    def send_message(
        self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]
    ) -> None:
        """Deliver a message to this client now, or queue it behind the inflight window."""
        if qos == 0:
            if self.paused:
                if self.exempt:
                    self.core.messages_dropped += 1
                    return
                self.core.note_congestion(self._this, message.sender)
            expiry = None
            if message.expires_at is not None:
                now = self.core.clock()
                if message.is_expired(now):
                    return
                expiry = message.remaining_expiry(now)
            head = publish_parts(message, self.version, 0, retain, sub_ids, expiry)[0]
            if len(head) <= self.max_outbound_packet:  # else discard [MQTT-3.1.2-25]
                self.write(head)
            return
        session = self.session
        assert session is not None
        queue = session.queue
        if queue or self.paused or len(session.inflight) >= self.send_quota:
            if (self.paused or len(queue) >= self.core.queue_high_water) and not self.exempt:
                self.core.note_congestion(self._this, message.sender)
            if not session.enqueue(Pending(message, qos, retain, sub_ids)):
                self.core.messages_dropped += 1
            return
        self._send_flight(session, message, qos, retain, sub_ids)

    def _send_flight(
        self, session: Session, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]
    ) -> None:
        expiry = None
        if message.expires_at is not None:
            now = self.core.clock()
            if message.is_expired(now):
                return
            expiry = message.remaining_expiry(now)
        head, tail = publish_parts(message, self.version, qos, retain, sub_ids, expiry)
        if len(head) + 2 + len(tail) > self.max_outbound_packet:
            return  # discarded as if sent [MQTT-3.1.2-25]
        pid = session.allocate_packet_id()
        if pid is None:
            session.enqueue(Pending(message, qos, retain, sub_ids))
            return
        session.inflight[pid] = Flight(message, qos, retain, sub_ids)
        self.out.append(head)
        self.out.append(bytes((pid >> 8, pid & 0xFF)))
        self.write(tail)

    def drain_queue(self) -> None:
        """Send queued messages while the inflight window has room.

        With an ACL each message is checked for READ again: it may have been queued under
        an older ACL, or for the session's previous connection.
        """
        session = self.session
        if session is None:
            return
        core = self.core
        checked = core.read_checked
        queue = session.queue
        inflight = session.inflight
        quota = self.send_quota
        while queue and len(inflight) < quota and not self.paused:
            pending = queue.popleft()
            if checked and not core.may_read(session, pending.message.topic):
                continue
            if pending.qos == 0:
                self.send_message(pending.message, 0, pending.retain, pending.sub_ids)
            else:
                self._send_flight(
                    session, pending.message, pending.qos, pending.retain, pending.sub_ids
                )
        if len(queue) <= self.core.queue_low_water:
            if self.congested and not self.paused:
                self.core.relieve(self._this)
            if not queue:
                self.exempt = False

    def resend_inflight(self) -> None:
        """On session resume: PUBLISH again with DUP, PUBREL again [MQTT-4.4.0-1].

        A PUBLISH the client may no longer read (the ACL changed while it was away) is
        dropped instead of sent again (CVE-2021-34434 class); a PUBREL carries no data.
        """
        session = self.session
        assert session is not None
        core = self.core
        now = core.clock()
        for pid, flight in list(session.inflight.items()):
            if flight.state == AWAIT_COMP:
                self.write(ack(PUBREL, pid))
                continue
            message = flight.message
            if message.is_expired(now) or (
                core.read_checked and not core.may_read(session, message.topic)
            ):
                del session.inflight[pid]
                continue
            head, tail = publish_parts(
                message,
                self.version,
                flight.qos,
                flight.retain,
                flight.sub_ids,
                message.remaining_expiry(now),
            )
            self.write(with_dup(head) + bytes((pid >> 8, pid & 0xFF)) + tail)

    def _on_puback(self, packet: Puback) -> None:
        session = self.session
        assert session is not None
        flight = session.inflight.get(packet.packet_id)
        if flight is not None and flight.qos == 1:
            del session.inflight[packet.packet_id]
            if session.queue:
                self.drain_queue()

    def _on_pubrec(self, packet: Pubrec) -> None:
        session = self.session
        assert session is not None
        pid = packet.packet_id
        flight = session.inflight.get(pid)
        if flight is None or flight.qos != 2:
            if self.version is _V5:
                self.send(Pubrel(pid, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND))
            else:
                self.write(ack(PUBREL, pid))
            return
        if packet.reason_code >= 0x80:  # the receiver refused: the flow ends here
            del session.inflight[pid]
            if session.queue:
                self.drain_queue()
            return
        flight.state = AWAIT_COMP
        self.write(ack(PUBREL, pid))

    def _on_pubcomp(self, packet: Pubcomp) -> None:
        session = self.session
        assert session is not None
        flight = session.inflight.get(packet.packet_id)
        if flight is not None and flight.state == AWAIT_COMP:
            del session.inflight[packet.packet_id]
            if session.queue:
                self.drain_queue()
