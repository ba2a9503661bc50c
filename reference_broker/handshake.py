"""The CONNECT handshake: accept or refuse a client, set up its session, answer CONNACK.

Refusals answer with the CONNACK code of the client's version and close: 3.1.1 return codes
(section 3.2.2.3) or 5.0 reason codes (section 3.2.2.2). A CONNECT the codec cannot accept
is answered, where the spec asks for it, from the protocol level sniffed from its first bytes.

Authentication (:meth:`.security.policy.SecurityPolicy.admit`) happens before anything is
changed: a refused client takes over no client id and gets no session, and its will is
never kept. When an authentication (or will authorization) hook is async, the connection is
suspended until the answer comes. A session is resumed only by the username that created
it; another identity using the same client id gets a fresh session.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from .config import MAX_PACKET_SIZE_LIMIT
from .protocol import (
    Connack,
    Connect,
    ConnectReturnCode,
    Properties,
    PropertyId,
    ProtocolError,
    ProtocolVersion,
    ReasonCode,
    UnsupportedProtocolVersion,
    encode,
)
from .protocol.enums import PacketType
from .protocol.properties import PropertyValue
from .protocol.rules import REASON_CODES
from .security.policy import Admission, ConnectRequest, run_now
from .sessions import NEVER_EXPIRES
from .states import ConnectionState

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["accept_connect", "refuse_malformed_connect", "sniff_protocol_level"]

_V5 = ProtocolVersion.V5


def _refuse(conn: Connection, v311: ConnectReturnCode | None, v5: ReasonCode, why: str) -> None:
    """Answer CONNACK with a refusal code (none in 3.1.1 when ``v311`` is None) and close."""
    if conn.version is _V5:
        conn.send(Connack(v5))
    elif v311 is not None:
        conn.send(Connack(v311))
    conn.close(None, f"refused CONNECT: {why}", logging.WARNING)


_REFUSED_BY_HOOK = Admission(
    False,
    None,
    ConnectReturnCode.NOT_AUTHORIZED,
    ReasonCode.NOT_AUTHORIZED,
    "an authentication hook misbehaved",
)


def accept_connect(conn: Connection, packet: Connect) -> None:
    """Handle the first CONNECT of a connection (MQTT 5.0 section 3.1.4)."""
    config = conn.config
    version = packet.protocol_version
    conn.version = version
    conn.parser.version = version
    v5 = version is _V5
    props = packet.properties
    client_id = packet.client_id
    conn.client_id = client_id
    if v5 and props and PropertyId.AUTHENTICATION_METHOD in props:
        _refuse(conn, None, ReasonCode.BAD_AUTHENTICATION_METHOD, "enhanced auth not enabled")
        return
    assigned: str | None = None
    if not client_id:
        if not v5 and not packet.clean_start:
            _refuse(
                conn,
                ConnectReturnCode.IDENTIFIER_REJECTED,
                ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
                "empty client id with clean session 0 [MQTT-3.1.3-8]",
            )
            return
        client_id = assigned = f"mqttsec-{uuid.uuid4().hex}"
        conn.client_id = client_id
    will = packet.will
    if will is not None and will.qos > config.max_qos:
        _refuse(conn, None, ReasonCode.QOS_NOT_SUPPORTED, f"will QoS {int(will.qos)}")
        return
    if will is not None and will.retain and not config.retain_available:
        _refuse(conn, None, ReasonCode.RETAIN_NOT_SUPPORTED, "will retain not available")
        return
    security = conn.core.security
    tls = conn.listener.tls
    request = ConnectRequest(
        client_id,
        packet.username,
        packet.password,
        version,
        packet.clean_start,
        conn.peer_address,
        conn.listener.name,
        tls,
        conn.certificate,
        props,
        will,
    )
    work = security.admit(request)

    def then(admission: Admission) -> None:
        _admitted(conn, packet, admission, assigned)

    hooks = ("authenticate", "authorize_publish") if will is not None else ("authenticate",)
    if security.is_async(*hooks):
        conn.suspend(work, then)
    else:
        then(run_now(work, _REFUSED_BY_HOOK, f"CONNECT of {conn.describe()}"))


def _admitted(
    conn: Connection, packet: Connect, admission: Admission, assigned: str | None
) -> None:
    """Go on with a CONNECT once authentication answered."""
    if not admission.accepted:
        _refuse(conn, admission.v311, admission.v5, admission.reason)
        return
    core = conn.core
    config = conn.config
    v5 = conn.version is _V5
    props = packet.properties
    client_id = conn.client_id
    will = packet.will
    conn.username = admission.username
    conn.client_info = admission.client
    others = len(core.connections) - (1 if client_id in core.connections else 0)
    if config.max_connections and others >= config.max_connections:
        _refuse(
            conn,
            ConnectReturnCode.SERVER_UNAVAILABLE,
            ReasonCode.SERVER_BUSY,
            f"{config.max_connections} connections already",
        )
        return

    old = core.connections.get(client_id)
    if old is not None:  # client-id takeover [MQTT-3.1.4-3]
        old.close(ReasonCode.SESSION_TAKEN_OVER, f"taken over by a new connection from {conn.peer}")
    clean_start = packet.clean_start
    previous = core.sessions.get(client_id)
    if previous is not None and not clean_start and previous.username != admission.username:
        conn.log.info("client %s: session of another user not resumed", conn.describe())
        clean_start = True
    session, present = core.open_session(client_id, clean_start)
    if session.username != admission.username:
        session.read_cache.clear()
    session.username = admission.username
    if not present:
        session.policy_generation = core.security.generation
    elif session.policy_generation != core.security.generation:
        core.rejudge_subscriptions(session)
    if v5:
        requested = props.get(PropertyId.SESSION_EXPIRY_INTERVAL, 0) if props else 0
        assert isinstance(requested, int)
        expiry = min(requested, config.max_session_expiry)
    else:
        requested = expiry = 0 if packet.clean_start else NEVER_EXPIRES
    session.expiry_interval = expiry
    conn.connect_expiry_zero = requested == 0
    session.connection = conn
    conn.session = session
    core.connections[client_id] = conn
    conn.will = will

    keep_alive = packet.keep_alive
    server_keep_alive: int | None = None
    if v5 and config.max_keep_alive and (keep_alive == 0 or keep_alive > config.max_keep_alive):
        keep_alive = server_keep_alive = config.max_keep_alive
    if v5:
        receive_max = props.get(PropertyId.RECEIVE_MAXIMUM, 65535) if props else 65535
        max_packet = props.get(PropertyId.MAXIMUM_PACKET_SIZE) if props else None
        assert isinstance(receive_max, int)
        conn.send_quota = min(receive_max, config.max_inflight)
        conn.max_outbound_packet = (
            max_packet if isinstance(max_packet, int) else (MAX_PACKET_SIZE_LIMIT)
        )
        items: list[tuple[PropertyId, PropertyValue]] = [
            (PropertyId.RECEIVE_MAXIMUM, config.receive_maximum),
            (PropertyId.RETAIN_AVAILABLE, int(config.retain_available)),
            (PropertyId.MAXIMUM_PACKET_SIZE, config.max_packet_size),
            (PropertyId.TOPIC_ALIAS_MAXIMUM, config.topic_alias_maximum),
            (
                PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE,
                int(config.wildcard_subscription_available),
            ),
            (
                PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                int(config.subscription_identifier_available),
            ),
            (PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, int(config.shared_subscription_available)),
        ]
        if config.max_qos < 2:
            items.append((PropertyId.MAXIMUM_QOS, config.max_qos))
        if assigned is not None:
            items.append((PropertyId.ASSIGNED_CLIENT_IDENTIFIER, assigned))
        if server_keep_alive is not None:
            items.append((PropertyId.SERVER_KEEP_ALIVE, server_keep_alive))
        if expiry != requested:
            items.append((PropertyId.SESSION_EXPIRY_INTERVAL, expiry))
        conn.send(Connack(ReasonCode.SUCCESS, present, Properties(items)))
    else:
        conn.send_quota = config.max_inflight
        conn.send(Connack(ConnectReturnCode.ACCEPTED, present))
    conn.set_state(ConnectionState.CONNECTED)
    conn.start_keep_alive(keep_alive)
    conn.log.info(
        "client %s connected (MQTT %s, clean=%d, session present=%d, keep-alive %d s)",
        conn.describe(),
        "5.0" if v5 else "3.1.1",
        packet.clean_start,
        present,
        keep_alive,
    )
    if present:
        conn.resend_inflight()
        conn.drain_queue()


def sniff_protocol_level(data: bytes) -> int | None:
    """The protocol level byte of a CONNECT from its first bytes, or None if not visible."""
    if len(data) < 2 or data[0] >> 4 != 1:
        return None
    pos = 1
    while pos < len(data) and data[pos] & 0x80 and pos < 4:
        pos += 1
    pos += 1
    if pos + 2 > len(data):
        return None
    name_len = (data[pos] << 8) | data[pos + 1]
    pos += 2 + name_len
    return data[pos] if pos < len(data) else None


def refuse_malformed_connect(conn: Connection, exc: ProtocolError, sniffed: bytes) -> None:
    """Answer a CONNECT (or first packet) the codec refused, then close.

    An unsupported protocol level gets CONNACK 0x01 in 3.1.1 form, or 0x84 in 5.0 form for
    a level above 5 [MQTT-3.1.2-2]; another error in a 5.0 CONNECT gets CONNACK with the
    error's reason code; a 3.1.1 client is just disconnected.
    """
    level = sniff_protocol_level(sniffed)
    if isinstance(exc, UnsupportedProtocolVersion):
        if level is not None and level > 5:
            conn.write(encode(Connack(ReasonCode.UNSUPPORTED_PROTOCOL_VERSION), _V5))
        else:
            conn.write(
                encode(
                    Connack(ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION), ProtocolVersion.V311
                )
            )
    elif level == 5:
        code = exc.reason_code
        if code not in REASON_CODES[PacketType.CONNACK] or code < 0x80:
            code = ReasonCode.UNSPECIFIED_ERROR
        conn.write(encode(Connack(code), _V5))
    conn.close(None, f"refused connection: {exc}", logging.WARNING)
