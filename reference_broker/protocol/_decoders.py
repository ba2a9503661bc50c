"""Body decoders: the bytes after the fixed header, to one packet object, strictly.

Each decoder gets the first byte and exactly the Remaining Length bytes, so running out of data
inside a body, or bytes left over after it, is a Malformed Packet. The tables ``DECODERS``
map every first byte to its decoder per version; ``None`` marks a forbidden first byte and
:func:`reject_first_byte` says why. PUBLISH and its acknowledgements live in
:mod:`._publish_decoders`.
"""

from __future__ import annotations

from typing import Final

from ._property_codec import decode_properties
from ._publish_decoders import (
    QOS,
    Decoder,
    ack_decoders,
    check_end,
    packet_id,
    publish_5,
    publish_311,
    reason,
)
from .enums import ConnectReturnCode, PacketType, ProtocolVersion, ReasonCode, RetainHandling
from .errors import MalformedPacket, ProtocolViolation, UnsupportedProtocolVersion
from .packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from .primitives import decode_binary, decode_string
from .properties import NO_PROPERTIES, WILL_PROPERTIES
from .rules import SUBACK_RETURN_CODES_V311
from .topics import SHARE_PREFIX, validate_topic_filter, validate_topic_name

__all__ = ["DECODERS", "Decoder", "reject_first_byte"]

_P = PacketType
_V311 = ProtocolVersion.V311
_V5 = ProtocolVersion.V5
_RH: Final = tuple(RetainHandling)
_PINGREQ: Final = Pingreq()
_PINGRESP: Final = Pingresp()
_DISCONNECT: Final = Disconnect()
_AUTH: Final = Auth()

# --- CONNECT / CONNACK -------------------------------------------------------------------


def _connect(b0: int, body: bytes) -> Connect:
    name, pos = decode_string(body, 0, "CONNECT protocol name")
    if pos >= len(body):
        raise MalformedPacket("CONNECT: protocol level missing")
    level = body[pos]
    if level not in (4, 5):
        era = " (MQTT 3.1)" if level == 3 else ""
        raise UnsupportedProtocolVersion(
            f"CONNECT: protocol level {level}{era} with name {name!r} is not supported; "
            "only 4 (3.1.1) and 5 (5.0) are",
            spec="MQTT-3.1.2-2",
        )
    if name != "MQTT":
        raise ProtocolViolation(
            f"CONNECT: protocol name {name!r} is not 'MQTT'", spec="MQTT-3.1.2-1"
        )
    v5 = level == 5
    if pos + 4 > len(body):
        raise MalformedPacket("CONNECT: variable header truncated")
    flags = body[pos + 1]
    keep_alive = (body[pos + 2] << 8) | body[pos + 3]
    pos += 4
    if flags & 0x01:
        raise MalformedPacket("CONNECT: reserved flag is 1", spec="MQTT-3.1.2-3")
    will_flag = flags & 0x04
    will_qos = (flags >> 3) & 3
    will_retain = bool(flags & 0x20)
    if will_flag:
        if will_qos == 3:
            raise MalformedPacket(
                "CONNECT: will QoS is 3", spec="MQTT-3.1.2-12" if v5 else "MQTT-3.1.2-14"
            )
    else:
        if will_qos:
            raise MalformedPacket(
                "CONNECT: will QoS set without the will flag",
                spec="MQTT-3.1.2-11" if v5 else "MQTT-3.1.2-13",
            )
        if will_retain:
            raise MalformedPacket(
                "CONNECT: will retain set without the will flag",
                spec="MQTT-3.1.2-13" if v5 else "MQTT-3.1.2-15",
            )
    if flags & 0x40 and not flags & 0x80 and not v5:
        raise MalformedPacket(
            "CONNECT: password flag set without the user name flag", spec="MQTT-3.1.2-22"
        )
    props = NO_PROPERTIES
    if v5:
        props, pos = decode_properties(body, pos, _P.CONNECT)
    client_id, pos = decode_string(body, pos, "CONNECT client identifier")
    will = None
    if will_flag:
        will_props = NO_PROPERTIES
        if v5:
            will_props, pos = decode_properties(body, pos, WILL_PROPERTIES)
        will_topic, pos = decode_string(body, pos, "CONNECT will topic")
        validate_topic_name(will_topic, what="CONNECT will topic")
        will_payload, pos = decode_binary(body, pos, "CONNECT will payload")
        will = Will(will_topic, will_payload, QOS[will_qos], will_retain, will_props)
    username = password = None
    if flags & 0x80:
        username, pos = decode_string(body, pos, "CONNECT user name")
    if flags & 0x40:
        password, pos = decode_binary(body, pos, "CONNECT password")
    check_end(body, pos, "CONNECT")
    return Connect(
        client_id=client_id,
        protocol_version=_V5 if v5 else _V311,
        clean_start=bool(flags & 0x02),
        keep_alive=keep_alive,
        username=username,
        password=password,
        will=will,
        properties=props,
    )


def _connack(b0: int, body: bytes, v5: bool) -> Connack:
    if len(body) < 2 or (not v5 and len(body) != 2):
        raise MalformedPacket(f"CONNACK: remaining length {len(body)} is wrong")
    flags, code = body[0], body[1]
    if flags & 0xFE:
        raise MalformedPacket("CONNACK: reserved acknowledge flags are set", spec="MQTT-3.2.2-1")
    session_present = bool(flags & 1)
    if session_present and code:
        raise ProtocolViolation(
            "CONNACK: session present with a refusal",
            spec="MQTT-3.2.2-6" if v5 else "MQTT-3.2.2-4",
        )
    if not v5:
        if code > 5:
            raise MalformedPacket(f"CONNACK: return code {code} is reserved")
        return Connack(ConnectReturnCode(code), session_present)
    rc = reason(code, _P.CONNACK)
    props, pos = decode_properties(body, 2, _P.CONNACK)
    check_end(body, pos, "CONNACK")
    return Connack(rc, session_present, props)


# --- SUBSCRIBE / UNSUBSCRIBE and their acknowledgements ----------------------------------


def _subscribe(b0: int, body: bytes, v5: bool) -> Subscribe:
    pid, pos = packet_id(body, 0, "SUBSCRIBE", v5)
    props = NO_PROPERTIES
    if v5:
        props, pos = decode_properties(body, pos, _P.SUBSCRIBE)
    subs: list[Subscription] = []
    n = len(body)
    while pos < n:
        topic_filter, pos = decode_string(body, pos, "SUBSCRIBE topic filter")
        if pos >= n:
            raise MalformedPacket("SUBSCRIBE: subscription options missing")
        opt = body[pos]
        pos += 1
        validate_topic_filter(topic_filter, what="SUBSCRIBE topic filter")
        if not v5:
            if opt & 0xFC or opt == 3:
                raise MalformedPacket(
                    f"SUBSCRIBE: requested QoS byte 0x{opt:02x} is not 0, 1 or 2",
                    spec="MQTT-3-8.3-4",
                )
            subs.append(Subscription(topic_filter, QOS[opt]))
            continue
        if opt & 0xC0:
            raise MalformedPacket(
                "SUBSCRIBE: reserved subscription option bits are set", spec="MQTT-3.8.3-5"
            )
        if opt & 3 == 3:
            raise ProtocolViolation("SUBSCRIBE: maximum QoS is 3", spec="5.0 §3.8.3.1")
        if opt & 0x30 == 0x30:
            raise ProtocolViolation("SUBSCRIBE: retain handling is 3", spec="5.0 §3.8.3.1")
        no_local = bool(opt & 4)
        if no_local and topic_filter.startswith(SHARE_PREFIX):
            raise ProtocolViolation(
                "SUBSCRIBE: no local set on a shared subscription", spec="MQTT-3.8.3-4"
            )
        subs.append(
            Subscription(topic_filter, QOS[opt & 3], no_local, bool(opt & 8), _RH[opt >> 4])
        )
    if not subs:
        raise ProtocolViolation(
            "SUBSCRIBE: no topic filter", spec="MQTT-3.8.3-2" if v5 else "MQTT-3.8.3-3"
        )
    return Subscribe(pid, tuple(subs), props)


def _unsubscribe(b0: int, body: bytes, v5: bool) -> Unsubscribe:
    pid, pos = packet_id(body, 0, "UNSUBSCRIBE", v5)
    props = NO_PROPERTIES
    if v5:
        props, pos = decode_properties(body, pos, _P.UNSUBSCRIBE)
    filters: list[str] = []
    while pos < len(body):
        topic_filter, pos = decode_string(body, pos, "UNSUBSCRIBE topic filter")
        validate_topic_filter(topic_filter, what="UNSUBSCRIBE topic filter")
        filters.append(topic_filter)
    if not filters:
        raise ProtocolViolation("UNSUBSCRIBE: no topic filter", spec="MQTT-3.10.3-2")
    return Unsubscribe(pid, tuple(filters), props)


def _suback(b0: int, body: bytes, v5: bool) -> Suback:
    pid, pos = packet_id(body, 0, "SUBACK", v5)
    props = NO_PROPERTIES
    if v5:
        props, pos = decode_properties(body, pos, _P.SUBACK)
        codes = [reason(c, _P.SUBACK) for c in body[pos:]]
    else:
        for c in body[pos:]:
            if c not in SUBACK_RETURN_CODES_V311:
                raise MalformedPacket(f"SUBACK: return code 0x{c:02x}", spec="MQTT-3.9.3-2")
        codes = [ReasonCode(c) for c in body[pos:]]
    if not codes:
        raise MalformedPacket("SUBACK: no return code")
    return Suback(pid, tuple(codes), props)


def _unsuback(b0: int, body: bytes, v5: bool) -> Unsuback:
    if not v5:
        if len(body) != 2:
            raise MalformedPacket(f"UNSUBACK: remaining length {len(body)} is not 2")
        return Unsuback(packet_id(body, 0, "UNSUBACK", v5)[0])
    pid, pos = packet_id(body, 0, "UNSUBACK", v5)
    props, pos = decode_properties(body, pos, _P.UNSUBACK)
    codes = tuple(reason(c, _P.UNSUBACK) for c in body[pos:])
    if not codes:
        raise MalformedPacket("UNSUBACK: no reason code")
    return Unsuback(pid, codes, props)


# --- PINGREQ, PINGRESP, DISCONNECT, AUTH -------------------------------------------------


def _empty(packet: Packet) -> Decoder:
    name = packet.type.name

    def dec(b0: int, body: bytes) -> Packet:
        if body:
            raise MalformedPacket(f"{name}: remaining length {len(body)} is not 0")
        return packet

    return dec


def _reason_only(packet: Disconnect | Auth) -> Decoder:
    """DISCONNECT and AUTH in 5.0: empty, a reason code alone, or a reason code and properties."""
    cls = type(packet)
    ptype = cls.type

    def dec(b0: int, body: bytes) -> Packet:
        if not body:
            return packet
        rc = reason(body[0], ptype)
        if len(body) == 1:
            return cls(rc)
        props, pos = decode_properties(body, 1, ptype)
        check_end(body, pos, ptype.name)
        return cls(rc, props)

    return dec


# --- the first-byte tables ---------------------------------------------------------------

_FIXED_FLAGS: Final = {6: 2, 8: 2, 10: 2}


def reject_first_byte(b0: int, version: ProtocolVersion) -> None:
    """Raise the error a forbidden first byte deserves (type, flags or QoS)."""
    ptype, flags = b0 >> 4, b0 & 0x0F
    if ptype == 0 or (ptype == 15 and version is _V311):
        raise MalformedPacket(
            f"packet type {ptype} is reserved in MQTT {'3.1.1' if ptype else version.name}",
            spec="MQTT-2.1.2",
        )
    if ptype == 3:
        if flags & 6 == 6:
            raise MalformedPacket("PUBLISH: QoS is 3", spec="MQTT-3.3.1-4")
        raise MalformedPacket("PUBLISH: DUP set with QoS 0", spec="MQTT-3.3.1-2")
    raise MalformedPacket(
        f"{PacketType(ptype).name}: fixed header flags 0b{flags:04b} must be "
        f"0b{_FIXED_FLAGS.get(ptype, 0):04b}",
        spec="MQTT-2.1.3-1",
    )


def _table(version: ProtocolVersion) -> tuple[Decoder | None, ...]:
    v5 = version is _V5
    puback, pubrec, pubrel, pubcomp = (
        ack_decoders(c)[v5] for c in (Puback, Pubrec, Pubrel, Pubcomp)
    )
    by_type: dict[int, Decoder] = {
        1: _connect,
        2: lambda b0, body: _connack(b0, body, v5),
        4: puback,
        5: pubrec,
        6: pubrel,
        7: pubcomp,
        8: lambda b0, body: _subscribe(b0, body, v5),
        9: lambda b0, body: _suback(b0, body, v5),
        10: lambda b0, body: _unsubscribe(b0, body, v5),
        11: lambda b0, body: _unsuback(b0, body, v5),
        12: _empty(_PINGREQ),
        13: _empty(_PINGRESP),
        14: _reason_only(_DISCONNECT) if v5 else _empty(_DISCONNECT),
    }
    if v5:
        by_type[15] = _reason_only(_AUTH)
    table: list[Decoder | None] = []
    for b0 in range(256):
        ptype, flags = b0 >> 4, b0 & 0x0F
        if ptype == 3:
            qos = (flags >> 1) & 3
            ok = qos != 3 and not (qos == 0 and flags & 8)
            table.append((publish_5 if v5 else publish_311) if ok else None)
        elif ptype in by_type and flags == _FIXED_FLAGS.get(ptype, 0):
            table.append(by_type[ptype])
        else:
            table.append(None)
    return tuple(table)


DECODERS: Final[dict[ProtocolVersion, tuple[Decoder | None, ...]]] = {
    _V311: _table(_V311),
    _V5: _table(_V5),
}
"""First byte -> body decoder, per version; None where the first byte is forbidden."""
