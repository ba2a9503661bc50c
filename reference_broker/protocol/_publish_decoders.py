"""PUBLISH and its acknowledgements: the hot path of the decoder, tuned by hand.

Shared by the other body decoders: the reason code table and the end-of-body check. Each
decoder gets the first byte and exactly the Remaining Length bytes of the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ._property_codec import decode_properties
from .enums import PacketType, QoS, ReasonCode
from .errors import MalformedPacket, ProtocolViolation
from .packets import Packet, Puback, Pubcomp, Publish, Pubrec, Pubrel
from .primitives import decode_uint16, decode_utf8
from .properties import NO_PROPERTIES, PropertyId
from .rules import REASON_CODES
from .topics import validate_topic_name

__all__ = [
    "QOS",
    "REASON",
    "Decoder",
    "ack_decoders",
    "check_end",
    "packet_id",
    "publish_5",
    "publish_311",
    "reason",
]

Decoder = Callable[[int, bytes], Packet]
_P = PacketType
QOS: Final = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE)
REASON: Final = tuple(
    ReasonCode(v) if v in ReasonCode._value2member_map_ else None for v in range(256)
)
"""Byte value -> ReasonCode (None where no reason code has that value)."""

# The PUBLISH decoders write the slots directly, as Publish.__init__ does, without the
# extra call; the setters are bound as default arguments, which are faster than globals.
_new = object.__new__
_SETTERS: Final = tuple(
    vars(Publish)[name].__set__
    for name in ("topic", "payload", "qos", "retain", "dup", "packet_id", "properties")
)


def check_end(body: bytes, pos: int, name: str) -> None:
    if pos != len(body):
        raise MalformedPacket(
            f"{name}: {len(body) - pos} bytes left after the last field", spec="5.0 §2.1.4"
        )


def packet_id(body: bytes, pos: int, name: str, v5: bool) -> tuple[int, int]:
    pid, pos = decode_uint16(body, pos, f"{name} packet identifier")
    if pid == 0:
        raise ProtocolViolation(
            f"{name}: packet identifier is 0", spec="MQTT-2.2.1-3" if v5 else "MQTT-2.3.1-1"
        )
    return pid, pos


def reason(code: int, ptype: PacketType) -> ReasonCode:
    rc = REASON[code]
    if rc is None or code not in REASON_CODES[ptype]:
        raise MalformedPacket(f"{ptype.name}: reason code 0x{code:02x} is not valid here")
    return rc


# --- PUBLISH and its acknowledgements ----------------------------------------------------


def _publish_slow_topic(raw: bytes, topic_alias: bool, v5: bool) -> None:
    decode_utf8(raw, "PUBLISH topic name")  # U+0000 is malformed, not a topic rule
    if not raw and not topic_alias:
        raise ProtocolViolation(
            "PUBLISH: empty topic name" + (" and no topic alias" if v5 else ""),
            spec="MQTT-3.3.2-1" if v5 else "MQTT-4.7.3-1",
        )
    validate_topic_name(raw.decode(), allow_empty=topic_alias, what="PUBLISH topic name")


def publish_311(b0: int, body: bytes, _setters: tuple[Any, ...] = _SETTERS) -> Publish:
    """MQTT 3.1.1 PUBLISH body: topic, packet id when QoS > 0, payload."""
    n = len(body)
    if n < 2:
        raise MalformedPacket("PUBLISH: topic name length missing")
    pos = 2 + ((body[0] << 8) | body[1])
    if pos > n:
        raise MalformedPacket("PUBLISH: topic name runs past the packet")
    try:
        topic = body[2:pos].decode()
    except UnicodeDecodeError:
        decode_utf8(body[2:pos], "PUBLISH topic name")
        raise
    pid = None
    if b0 & 6:
        if pos + 2 > n:
            raise MalformedPacket("PUBLISH: packet identifier missing")
        pid = (body[pos] << 8) | body[pos + 1]
        pos += 2
        if not pid:
            raise ProtocolViolation("PUBLISH: packet identifier is 0", spec="MQTT-2.3.1-1")
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        _publish_slow_topic(body[2 : 2 + ((body[0] << 8) | body[1])], False, False)
    p: Publish = _new(Publish)
    set_topic, set_payload, set_qos, set_retain, set_dup, set_pid, set_props = _setters
    set_topic(p, topic)
    set_payload(p, body[pos:])
    set_qos(p, QOS[(b0 >> 1) & 3])
    set_retain(p, b0 & 1 == 1)
    set_dup(p, b0 & 8 == 8)
    set_pid(p, pid)
    set_props(p, NO_PROPERTIES)
    return p


def publish_5(b0: int, body: bytes, _setters: tuple[Any, ...] = _SETTERS) -> Publish:
    """MQTT 5.0 PUBLISH body: topic, packet id when QoS > 0, properties, payload."""
    n = len(body)
    if n < 2:
        raise MalformedPacket("PUBLISH: topic name length missing")
    pos = 2 + ((body[0] << 8) | body[1])
    if pos > n:
        raise MalformedPacket("PUBLISH: topic name runs past the packet")
    try:
        topic = body[2:pos].decode()
    except UnicodeDecodeError:
        decode_utf8(body[2:pos], "PUBLISH topic name")
        raise
    pid = None
    if b0 & 6:
        if pos + 2 > n:
            raise MalformedPacket("PUBLISH: packet identifier missing")
        pid = (body[pos] << 8) | body[pos + 1]
        pos += 2
        if not pid:
            raise ProtocolViolation("PUBLISH: packet identifier is 0", spec="MQTT-2.2.1-3")
    if pos >= n:
        raise MalformedPacket("PUBLISH: property length missing")
    if body[pos]:
        props, pos = decode_properties(body, pos, _P.PUBLISH)
    else:
        props = NO_PROPERTIES
        pos += 1
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raw = body[2 : 2 + ((body[0] << 8) | body[1])]
        _publish_slow_topic(raw, PropertyId.TOPIC_ALIAS in props, True)
    p: Publish = _new(Publish)
    set_topic, set_payload, set_qos, set_retain, set_dup, set_pid, set_props = _setters
    set_topic(p, topic)
    set_payload(p, body[pos:])
    set_qos(p, QOS[(b0 >> 1) & 3])
    set_retain(p, b0 & 1 == 1)
    set_dup(p, b0 & 8 == 8)
    set_pid(p, pid)
    set_props(p, props)
    return p


_AckClass = type[Puback] | type[Pubrec] | type[Pubrel] | type[Pubcomp]


def ack_decoders(cls: _AckClass) -> tuple[Decoder, Decoder]:
    ptype = cls.type
    name = ptype.name
    codes = REASON_CODES[ptype]

    def dec311(b0: int, body: bytes) -> Packet:
        if len(body) != 2:
            raise MalformedPacket(f"{name}: remaining length {len(body)} is not 2")
        pid = (body[0] << 8) | body[1]
        if not pid:
            raise ProtocolViolation(f"{name}: packet identifier is 0", spec="MQTT-2.3.1-1")
        return cls(pid)

    def dec5(b0: int, body: bytes) -> Packet:
        n = len(body)
        if n < 2:
            raise MalformedPacket(f"{name}: remaining length {n} is less than 2")
        pid = (body[0] << 8) | body[1]
        if not pid:
            raise ProtocolViolation(f"{name}: packet identifier is 0", spec="MQTT-2.2.1-3")
        if n == 2:
            return cls(pid)
        code = body[2]
        rc = REASON[code]
        if rc is None or code not in codes:
            raise MalformedPacket(f"{name}: reason code 0x{code:02x} is not valid here")
        if n == 3:
            return cls(pid, rc)
        props, pos = decode_properties(body, 3, ptype)
        check_end(body, pos, name)
        return cls(pid, rc, props)

    return dec311, dec5
