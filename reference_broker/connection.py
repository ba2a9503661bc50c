"""One client's network connection: bytes in, packets handled, bytes out.

:class:`Connection` is an :class:`asyncio.Protocol`. It feeds received bytes to the codec's
:class:`StreamParser`, dispatches each packet by type for the current
:class:`~.states.ConnectionState`, and appends its answers to an outbox that the broker core
flushes once per event-loop iteration. It never blocks and never raises into the event loop:
a protocol error closes this connection only (in 5.0 with DISCONNECT or CONNACK carrying the
error's reason code; in 3.1.1 by closing), and a bug is logged, recorded and closes it too.

The CONNECT handshake lives in :mod:`.handshake`, SUBSCRIBE in :mod:`.subscribing`,
publish authorization in :mod:`.authorization` and outbound delivery in :mod:`.outbound`;
inbound PUBLISH flows and the lifecycle are here.

An async security hook (plugin authentication or authorization) suspends the connection
(:meth:`Connection.suspend`): no further packet of this client is handled, and the socket
is not read, until the decision is made; packets already read wait in order. So a client's
packets keep their order, and a client cannot act before it is authenticated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .authorization import guarded_publish
from .config import MAX_PACKET_SIZE_LIMIT, ListenerConfig
from .core import BrokerCore, with_plugin_changes
from .handshake import accept_connect, refuse_malformed_connect
from .message import Message
from .outbound import OutboundFlows
from .protocol import (
    Auth,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    PropertyId,
    ProtocolError,
    ProtocolVersion,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    ReasonCode,
    StreamParser,
    Subscribe,
    Unsuback,
    Unsubscribe,
    Will,
    encode,
)
from .security.identity import ClientCertificate
from .security.plugin_api import ClientInfo, PluginMessage
from .sessions import Session
from .states import ConnectionState, check_transition
from .subscribing import handle_subscribe
from .topic_tree import parse_filter
from .wire import PINGRESP, PUBACK, PUBCOMP, PUBREC, ack

__all__ = ["Connection"]

_V5 = ProtocolVersion.V5
_CONNECTED = ConnectionState.CONNECTED
_CLOSED = ConnectionState.CLOSED
_SNIFF_BYTES = 64
_WRITE_CACHE_LIMIT = 1024

T = TypeVar("T")


class Connection(OutboundFlows, asyncio.Protocol):
    """The broker side of one MQTT network connection."""

    def __init__(self, core: BrokerCore, listener: ListenerConfig | None = None) -> None:
        self.core = core
        self.config = core.config
        # The listener this client came in on (its TLS settings decide certificate usernames)
        # and the client certificate the TLS handshake verified; both are set before any
        # MQTT byte is handled. Without a listener: the plain default one.
        self.listener = (
            listener if listener is not None else ListenerConfig("default", core.config.host, 0)
        )
        self.certificate: ClientCertificate | None = None
        self.log = core.log
        self.state = ConnectionState.AWAITING_CONNECT
        self.transport: asyncio.Transport | None = None
        self.parser = StreamParser(None, max_packet_size=self.config.max_packet_size)
        self.version: ProtocolVersion = ProtocolVersion.V311
        self.session: Session | None = None
        self.client_id = ""
        self.peer = "?"
        self.out: list[bytes] = []
        self.dirty = False
        self.paused = False
        self.throttled = False
        self.congested = False
        self.exempt = False
        self.congested_since = 0.0
        self.send_quota = self.config.max_inflight
        self.max_outbound_packet = MAX_PACKET_SIZE_LIMIT
        self.aliases: dict[int, str] = {}
        self.will: Will | None = None
        self.keep_alive = 0
        self.connect_expiry_zero = True
        self.last_activity = 0.0
        self._sniffed = b""
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Security: who the client is once admitted, and the suspension for async hooks.
        self.peer_address: tuple[str, int] | None = None
        self.username: str | None = None
        self.client_info: ClientInfo | None = None
        self.write_cache: dict[str, bool] = {}
        self.guarded = core.security.checks_messages
        self.blocked = False
        self.halted = False  # closed or blocked: stop handling packets
        self._backlog: list[Packet] = []
        self._deferred_error: ProtocolError | None = None
        self._suspended: asyncio.Task[Any] | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            Publish: self._on_publish,
            Puback: self._on_puback,
            Pubrec: self._on_pubrec,
            Pubrel: self._on_pubrel,
            Pubcomp: self._on_pubcomp,
            Subscribe: self._on_subscribe,
            Unsubscribe: self._on_unsubscribe,
            Pingreq: self._on_pingreq,
            Disconnect: self._on_disconnect,
            Connect: self._on_second_connect,
            Auth: self._on_auth,
        }

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if isinstance(peer, tuple):
            self.peer_address = (str(peer[0]), int(peer[1]))
        transport.set_write_buffer_limits(high=self.config.max_outbound_buffer)
        self._loop = asyncio.get_running_loop()
        self.last_activity = self._loop.time()
        self._timer = self._loop.call_later(self.config.connect_timeout, self._on_connect_timeout)
        self.core.all_connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.state is _CLOSED:
            return
        assert self._loop is not None
        self.last_activity = self._loop.time()
        if self.state is not _CONNECTED and len(self._sniffed) < _SNIFF_BYTES:
            self._sniffed += data[: _SNIFF_BYTES - len(self._sniffed)]
        error: ProtocolError | None = None
        try:
            packets = self.parser.feed(data)
        except ProtocolError as exc:
            error = exc
            packets = list(getattr(exc, "packets_before", ()))
        if self.blocked:
            self._defer(packets, error)
            return
        self._handle(packets, error)

    def _handle(self, packets: list[Packet], error: ProtocolError | None) -> None:
        """Handle packets in order; stop at a close, keep the rest while suspended."""
        try:
            if self.state is _CONNECTED:
                handlers = self._handlers
                for packet in packets:
                    handlers[type(packet)](packet)
                    if self.halted:
                        if self.state is _CLOSED:
                            return
                        # Suspended by this packet (a CONNECT, PUBLISH or SUBSCRIBE, never
                        # a shared singleton): keep the ones after it.
                        index = next(i for i, p in enumerate(packets) if p is packet)
                        self._defer(packets[index + 1 :], error)
                        return
            elif not self._before_connect(packets, error):
                return
        except Exception as exc:  # noqa: BLE001 -- a bug in the broker: record it, drop only this client
            self.core.record_internal_error(exc, f"handling data from {self.describe()}")
            self.close(ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, "internal error")
            return
        if error is not None:
            self._on_protocol_error(error)
        elif self.core.throttle_senders and self.client_id in self.core.throttle_senders:
            self.core.throttle(self)

    def _defer(self, packets: list[Packet], error: ProtocolError | None) -> None:
        """Keep packets (and a protocol error after them) until the suspension ends."""
        self._backlog.extend(packets)
        if error is not None and self._deferred_error is None:
            self._deferred_error = error

    def _before_connect(self, packets: list[Packet], error: ProtocolError | None) -> bool:
        """Handle the packets of a connection not yet connected; False when it stopped."""
        for index, packet in enumerate(packets):
            if self.state is _CLOSED:
                return False
            if self.blocked:
                self._defer(packets[index:], error)
                return False
            if self.state is _CONNECTED:
                self._handlers[type(packet)](packet)
                continue
            if not isinstance(packet, Connect):
                self.log.info(
                    "refused %s: first packet was %s, not CONNECT [MQTT-3.1.0-1]",
                    self.peer,
                    type(packet).__name__.upper(),
                )
                self.close(None, "")
                return False
            accept_connect(self, packet)
        if self.state is _CLOSED:
            return False
        if self.blocked:
            self._defer([], error)
            return False
        return True

    # -- suspension for async security hooks ---------------------------------------------

    def suspend(self, work: Coroutine[Any, Any, T], then: Callable[[T], None]) -> None:
        """Handle no further packet (and read nothing) until *work* is done; then ``then``.

        ``then(result)`` runs on the event loop; afterwards the packets that arrived
        meanwhile are handled in order (one of them may suspend again).
        """
        assert self._loop is not None
        self.blocked = self.halted = True
        self.update_reading()
        task = self._loop.create_task(work)
        self._suspended = task
        task.add_done_callback(lambda done: self._resume(done, then))

    def _resume(self, task: asyncio.Task[T], then: Callable[[T], None]) -> None:
        if self._suspended is task:
            self._suspended = None
        if self.state is _CLOSED or task.cancelled():
            return
        self.blocked = self.halted = False
        try:
            then(task.result())
        except Exception as exc:  # noqa: BLE001 -- a bug in the broker: record it, drop only this client
            self.core.record_internal_error(exc, f"finishing a security check of {self.describe()}")
            self.close(ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, "internal error")
            return
        if self.state is _CLOSED or self.blocked:
            return
        backlog, error = self._backlog, self._deferred_error
        self._backlog, self._deferred_error = [], None
        self._handle(backlog, error)
        if not self.blocked:
            self.update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state is not _CLOSED:
            if self.state is _CONNECTED:
                self.log.info("client %s disconnected: connection lost", self.describe())
            self._teardown()
        self.core.all_connections.discard(self)
        self.transport = None

    # -- output ----------------------------------------------------------------------------

    def send(self, packet: Packet) -> None:
        self.write(encode(packet, self.version))

    def close(self, reason: ReasonCode | None, why: str, level: int = logging.INFO) -> None:
        """Close the connection; in 5.0 a connected client is told why with DISCONNECT."""
        if self.state is _CLOSED:
            return
        if why:
            self.log.log(level, "closing %s: %s", self.describe(), why)
        if reason is not None and self.version is _V5 and self.state is _CONNECTED:
            self.send(Disconnect(reason))
        self._teardown()
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def describe(self) -> str:
        return f"{self.client_id!r}@{self.peer}" if self.client_id else self.peer

    # -- lifecycle -------------------------------------------------------------------------

    def set_state(self, new: ConnectionState) -> None:
        check_transition(self.state, new)
        self.state = new

    def _teardown(self) -> None:
        """Leave the broker: will message, session offline, timers off. Idempotent."""
        was_connected = self.state is _CONNECTED
        self.set_state(_CLOSED)
        self.halted = True
        self._backlog = []
        if self._suspended is not None:
            self._suspended.cancel()
            self._suspended = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        core = self.core
        if self.congested:
            core.relieve(self)
        core.throttled.discard(self)
        if core.connections.get(self.client_id) is self:
            del core.connections[self.client_id]
        session = self.session
        if not was_connected or session is None:
            return
        self.session = None
        will = self.will
        self.will = None
        if will is not None:
            self._schedule_will(session, will)
        if session.connection is self:
            core.session_offline(session)

    def _schedule_will(self, session: Session, will: Will) -> None:
        """Publish the will now, or after its delay unless the session resumes [MQTT-3.1.3-9]."""
        core = self.core
        delay = will.properties.get(PropertyId.WILL_DELAY_INTERVAL, 0) if will.properties else 0
        assert isinstance(delay, int)
        message = Message.from_publish_properties(
            will.topic,
            will.payload,
            int(will.qos),
            will.retain,
            will.properties.without(PropertyId.WILL_DELAY_INTERVAL),
            core.clock(),
            None,
        )
        if core.read_checked:
            message.origin = (self.username, self.client_id)
        client = self.client_info
        delay = min(delay, session.expiry_interval)
        if delay <= 0:
            core.publish_will(message, client)
            return
        session.will_timer = core.timers.call_later(
            delay, lambda: core.publish_will(message, client)
        )

    def _on_connect_timeout(self) -> None:
        self._timer = None
        if self.state is ConnectionState.AWAITING_CONNECT:
            self.close(None, f"no CONNECT within {self.config.connect_timeout:g} s")

    def start_keep_alive(self, keep_alive: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.keep_alive = keep_alive
        if keep_alive and self._loop is not None:
            limit = keep_alive * self.config.keep_alive_factor
            self._timer = self._loop.call_later(limit, self._check_keep_alive)

    def _check_keep_alive(self) -> None:
        """Close after 1.5 x keep-alive without a packet [MQTT-3.1.2-24]."""
        self._timer = None
        if self.state is not _CONNECTED or self._loop is None:
            return
        limit = self.keep_alive * self.config.keep_alive_factor
        idle = self._loop.time() - self.last_activity
        if idle >= limit:
            self.close(ReasonCode.KEEP_ALIVE_TIMEOUT, f"keep-alive timeout ({idle:.1f} s idle)")
        else:
            self._timer = self._loop.call_later(limit - idle, self._check_keep_alive)

    # -- protocol errors -------------------------------------------------------------------

    def _on_protocol_error(self, exc: ProtocolError) -> None:
        if self.state is _CLOSED:
            return
        if self.state is _CONNECTED:
            self.close(exc.reason_code, f"protocol error: {exc}")
            return
        refuse_malformed_connect(self, exc, self._sniffed)

    def protocol_violation(self, reason: ReasonCode, why: str) -> None:
        """The client broke a rule the codec cannot see; close as the spec requires."""
        self.close(reason, why)

    # -- inbound PUBLISH ---------------------------------------------------------------------

    def _on_publish(self, packet: Publish) -> None:
        config = self.config
        topic = packet.topic
        properties = packet.properties
        qos = int(packet.qos)
        if properties and self.version is _V5:
            alias = properties.get(PropertyId.TOPIC_ALIAS)
            if isinstance(alias, int):
                if alias == 0 or alias > config.topic_alias_maximum:
                    self.protocol_violation(
                        ReasonCode.TOPIC_ALIAS_INVALID, f"topic alias {alias} out of range"
                    )
                    return
                if topic:
                    self.aliases[alias] = topic
                else:
                    known = self.aliases.get(alias)
                    if known is None:
                        self.protocol_violation(
                            ReasonCode.PROTOCOL_ERROR, f"unknown topic alias {alias}"
                        )
                        return
                    topic = known
        if not topic:
            self.protocol_violation(ReasonCode.PROTOCOL_ERROR, "PUBLISH without topic name")
            return
        if qos > config.max_qos:
            self.protocol_violation(ReasonCode.QOS_NOT_SUPPORTED, f"PUBLISH QoS {qos} refused")
            return
        if packet.retain and not config.retain_available:
            self.protocol_violation(ReasonCode.RETAIN_NOT_SUPPORTED, "retain not available")
            return
        session = self.session
        assert session is not None
        if qos == 2:
            pid = packet.packet_id
            assert pid is not None
            if pid in session.inbound_qos2:
                self.write(ack(PUBREC, pid))  # duplicate: acknowledge, do not redistribute
                return
            if len(session.inbound_qos2) >= config.receive_maximum:
                self.protocol_violation(
                    ReasonCode.RECEIVE_MAXIMUM_EXCEEDED,
                    f"more than {config.receive_maximum} unacknowledged QoS 2 PUBLISH",
                )
                return
        if self.guarded or topic[0] == "$":
            guarded_publish(self, packet, topic)
            return
        # Nothing to check (no ACL, no publish plugins): accept_publish() inlined, so an
        # open broker does no extra work per message.
        if qos == 2:
            assert pid is not None
            session.inbound_qos2.add(pid)
        core = self.core
        if properties:
            message = Message.from_publish_properties(
                topic, packet.payload, qos, packet.retain, properties, core.clock(), self.client_id
            )
        else:
            message = Message(topic, packet.payload, qos, packet.retain, sender=self.client_id)
        count = core.publish(message)
        if qos:
            pid = packet.packet_id
            assert pid is not None
            if count == 0 and self.version is _V5:
                cls = Puback if qos == 1 else Pubrec
                self.send(cls(pid, ReasonCode.NO_MATCHING_SUBSCRIBERS))
            else:
                self.write(ack(PUBACK if qos == 1 else PUBREC, pid))

    def may_write(self, topic: str) -> bool:
        """ACL WRITE (and reserved topics) for this client, cached per topic."""
        cache = self.write_cache
        allowed = cache.get(topic)
        if allowed is None:
            if len(cache) >= _WRITE_CACHE_LIMIT:
                cache.clear()
            allowed = cache[topic] = self.core.security.may_write(
                self.username, self.client_id, topic
            )
        return allowed

    def accept_publish(
        self, packet: Publish, topic: str, changed: PluginMessage | None = None, drop: bool = False
    ) -> None:
        """Distribute an authorized PUBLISH (as a plugin changed it) and acknowledge it.

        Args:
            packet: the PUBLISH as received.
            topic: its topic name, alias resolved.
            changed: the message as ``on_message`` plugins returned it, if they ran.
            drop: a plugin dropped the message: acknowledge it, distribute nothing.
        """
        core = self.core
        qos = int(packet.qos)
        properties = packet.properties
        if qos == 2:
            session = self.session
            assert session is not None and packet.packet_id is not None
            session.inbound_qos2.add(packet.packet_id)
        if drop:
            if qos:
                assert packet.packet_id is not None
                self.write(ack(PUBACK if qos == 1 else PUBREC, packet.packet_id))
            return
        if properties:
            message = Message.from_publish_properties(
                topic, packet.payload, qos, packet.retain, properties, core.clock(), self.client_id
            )
        else:
            message = Message(topic, packet.payload, qos, packet.retain, sender=self.client_id)
        if changed is not None:
            message = with_plugin_changes(message, changed, self.config)
        if message.retain and core.read_checked:
            message.origin = (self.username, self.client_id)
        count = core.publish(message)
        if qos:
            pid = packet.packet_id
            assert pid is not None
            if count == 0 and self.version is _V5:
                cls = Puback if qos == 1 else Pubrec
                self.send(cls(pid, ReasonCode.NO_MATCHING_SUBSCRIBERS))
            else:
                self.write(ack(PUBACK if qos == 1 else PUBREC, pid))

    def _on_pubrel(self, packet: Pubrel) -> None:
        session = self.session
        assert session is not None
        pid = packet.packet_id
        if pid in session.inbound_qos2:
            session.inbound_qos2.discard(pid)
            self.write(ack(PUBCOMP, pid))
        elif self.version is _V5:
            self.send(Pubcomp(pid, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND))
        else:
            self.write(ack(PUBCOMP, pid))

    # -- subscriptions ----------------------------------------------------------------------

    def _on_subscribe(self, packet: Subscribe) -> None:
        handle_subscribe(self, packet)

    def _on_unsubscribe(self, packet: Unsubscribe) -> None:
        session = self.session
        assert session is not None
        codes: list[ReasonCode] = []
        for text in packet.topic_filters:
            entry = session.subscriptions.pop(text, None)
            if entry is not None:
                self.core.tree.unsubscribe(session, entry.topic_filter, entry.share_group)
                codes.append(ReasonCode.SUCCESS)
            elif parse_filter(text) is None:
                codes.append(ReasonCode.TOPIC_FILTER_INVALID)
            else:
                codes.append(ReasonCode.NO_SUBSCRIPTION_EXISTED)
        if self.version is _V5:
            self.send(Unsuback(packet.packet_id, tuple(codes)))
        else:
            self.send(Unsuback(packet.packet_id))

    # -- the rest --------------------------------------------------------------------------

    def _on_pingreq(self, packet: Pingreq) -> None:
        self.write(PINGRESP)

    def _on_disconnect(self, packet: Disconnect) -> None:
        session = self.session
        assert session is not None
        if self.version is _V5:
            interval = packet.properties.get(PropertyId.SESSION_EXPIRY_INTERVAL)
            if isinstance(interval, int):
                if self.connect_expiry_zero and interval != 0:
                    self.protocol_violation(
                        ReasonCode.PROTOCOL_ERROR,
                        "DISCONNECT sets Session Expiry Interval after CONNECT set 0 "
                        "[MQTT-3.14.2-2]",
                    )
                    return
                session.expiry_interval = min(interval, self.config.max_session_expiry)
        if packet.reason_code == ReasonCode.NORMAL_DISCONNECTION:
            self.will = None  # only a normal DISCONNECT discards the will [MQTT-3.14.4-3]
        self.log.info(
            "client %s disconnected (DISCONNECT 0x%02X)", self.describe(), packet.reason_code
        )
        self._teardown()
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def _on_second_connect(self, packet: Connect) -> None:
        self.protocol_violation(ReasonCode.PROTOCOL_ERROR, "second CONNECT [MQTT-3.1.0-2]")

    def _on_auth(self, packet: Auth) -> None:
        self.protocol_violation(
            ReasonCode.PROTOCOL_ERROR, "AUTH without an authentication method [MQTT-4.12.0-?]"
        )
