"""Packet encoders: one packet object to its exact bytes, refusing what a receiver refuses.

PUBLISH and the success-without-properties acknowledgements are written by hand-tuned paths
that check every rule themselves. Every other packet is written, then read back by the strict
decoder, so the encoder refuses exactly what the decoder refuses; the error is re-raised with
``remote=False`` because the fault is our caller's.
Short forms are used only where they are exact (MQTT 5.0 sections 3.4.2.1, 3.14.2.1,
3.15.2.1), so that ``decode(encode(p)) == p``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ._decoders import DECODERS
from ._property_codec import encode_properties
from .enums import ConnectReturnCode, PacketType, ProtocolVersion, ReasonCode
from .errors import MalformedPacket, PacketTooLarge, ProtocolError, ProtocolViolation
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
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
)
from .primitives import (
    VBI_MAX,
    check_utf8_text,
    encode_binary,
    encode_string,
    encode_uint16,
    encode_vbi,
)
from .properties import WILL_PROPERTIES, PropertyId
from .topics import validate_topic_name

__all__ = ["ENCODERS", "Encoder"]

Encoder = Callable[[Packet, ProtocolVersion], bytes]
_P = PacketType
_V5 = ProtocolVersion.V5
_V311 = ProtocolVersion.V311


def _frame(b0: int, body: bytes, name: str) -> bytes:
    n = len(body)
    if n < 128:
        return bytes((b0, n)) + body
    if n > VBI_MAX:
        raise PacketTooLarge(f"{name}: remaining length {n} exceeds {VBI_MAX}", remote=False)
    return bytes((b0,)) + encode_vbi(n) + body


def _checked(b0: int, body: bytes, version: ProtocolVersion) -> bytes:
    """Read the body back with the strict decoder; its complaint becomes our caller's fault."""
    decoder = DECODERS[version][b0]
    assert decoder is not None, f"encoder produced a forbidden first byte 0x{b0:02x}"
    try:
        decoder(b0, body)
    except ProtocolError as exc:
        raise exc.as_local() from None
    return _frame(b0, body, _P(b0 >> 4).name)


def _pid(value: object, name: str) -> bytes:
    if not isinstance(value, int) or not 0 < value <= 0xFFFF:
        raise ProtocolViolation(
            f"{name}: packet identifier {value!r} is not 1..65535",
            spec="MQTT-2.2.1-3",
            remote=False,
        )
    return value.to_bytes(2, "big")


def _connect(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Connect)
    level = int(p.protocol_version)
    v5 = level == 5
    flags = 0x02 if p.clean_start else 0
    parts = [
        encode_string(p.protocol_name, "CONNECT protocol name"),
        b"",  # level and flags
        encode_uint16(p.keep_alive, "CONNECT keep alive"),
    ]
    if v5:
        parts.append(encode_properties(p.properties, _P.CONNECT))
    parts.append(encode_string(p.client_id, "CONNECT client identifier"))
    if p.will is not None:
        will = p.will
        flags |= 0x04 | (int(will.qos) << 3) | (0x20 if will.retain else 0)
        if v5:
            parts.append(encode_properties(will.properties, WILL_PROPERTIES))
        parts.append(encode_string(will.topic, "CONNECT will topic"))
        parts.append(encode_binary(will.payload, "CONNECT will payload"))
    if p.username is not None:
        flags |= 0x80
        parts.append(encode_string(p.username, "CONNECT user name"))
    if p.password is not None:
        flags |= 0x40
        parts.append(encode_binary(p.password, "CONNECT password"))
    if not 0 <= level <= 255 or not 0 <= flags <= 255:
        raise MalformedPacket(f"CONNECT: protocol level {level} out of range", remote=False)
    parts[1] = bytes((level, flags))
    body = b"".join(parts)
    decoder = DECODERS[_V5][0x10]
    assert decoder is not None
    try:
        decoder(0x10, body)
    except ProtocolError as exc:
        raise exc.as_local() from None
    return _frame(0x10, body, "CONNECT")


def _connack(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Connack)
    code = p.reason_code
    if version is _V311 and isinstance(code, ReasonCode) and code:
        raise ProtocolViolation(
            f"CONNACK: {code.name} is a 5.0 reason code; use ConnectReturnCode in 3.1.1",
            remote=False,
        )
    if version is _V5 and isinstance(code, ConnectReturnCode) and code:
        raise ProtocolViolation(
            f"CONNACK: {code.name} is a 3.1.1 return code; use ReasonCode in 5.0", remote=False
        )
    if not isinstance(code, int) or not 0 <= code <= 255:
        raise MalformedPacket(f"CONNACK: reason code {code!r} is not a byte", remote=False)
    body = bytes((1 if p.session_present else 0, code))
    if version is _V5:
        body += encode_properties(p.properties, _P.CONNACK)
    return _checked(0x20, body, version)


def _publish(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Publish)
    qos = p.qos
    pid = p.packet_id
    if qos == 0:
        if pid is not None:
            raise ProtocolViolation(
                "PUBLISH: QoS 0 must not carry a packet identifier",
                spec="MQTT-2.2.1-2",
                remote=False,
            )
        if p.dup:
            raise MalformedPacket("PUBLISH: DUP set with QoS 0", spec="MQTT-3.3.1-2", remote=False)
        b0 = 0x31 if p.retain else 0x30
        pid_bytes = b""
    elif qos == 1 or qos == 2:
        pid_bytes = _pid(pid, "PUBLISH")
        b0 = 0x30 | (qos << 1) | (8 if p.dup else 0) | (1 if p.retain else 0)
    else:
        raise MalformedPacket(f"PUBLISH: QoS {qos!r}", spec="MQTT-3.3.1-4", remote=False)
    topic = p.topic
    props = p.properties
    try:
        raw = topic.encode()
    except (UnicodeEncodeError, AttributeError):
        raw = check_utf8_text(topic, "PUBLISH topic name")  # raises the right error
    if not topic or "+" in topic or "#" in topic or "\x00" in topic or len(raw) > 0xFFFF:
        check_utf8_text(topic, "PUBLISH topic name")
        alias = version is _V5 and PropertyId.TOPIC_ALIAS in props
        validate_topic_name(topic, allow_empty=alias, what="PUBLISH topic name", remote=False)
    payload = p.payload
    if type(payload) is not bytes:
        if not isinstance(payload, (bytearray, memoryview)):
            raise MalformedPacket(
                f"PUBLISH: payload {type(payload).__name__} is not bytes", remote=False
            )
        payload = bytes(payload)
    if version is _V5:
        prop_bytes = encode_properties(props, _P.PUBLISH) if props else b"\x00"
    else:
        prop_bytes = b""
    n = 2 + len(raw) + len(pid_bytes) + len(prop_bytes) + len(payload)
    if n < 128:
        head = bytes((b0, n, len(raw) >> 8, len(raw) & 0xFF))
    elif n <= VBI_MAX:
        head = bytes((b0,)) + encode_vbi(n) + len(raw).to_bytes(2, "big")
    else:
        raise PacketTooLarge(f"PUBLISH: remaining length {n} exceeds {VBI_MAX}", remote=False)
    return b"".join((head, raw, pid_bytes, prop_bytes, payload))


_AckPacket = Puback | Pubrec | Pubrel | Pubcomp


def _ack(b0: int) -> Encoder:
    name = _P(b0 >> 4).name
    short = bytes((b0, 2))

    def enc(p: Packet, version: ProtocolVersion) -> bytes:
        assert isinstance(p, (Puback, Pubrec, Pubrel, Pubcomp))
        if version is _V311 or (p.reason_code == 0 and not p.properties):
            return short + _pid(p.packet_id, name)
        body = _pid(p.packet_id, name) + bytes((p.reason_code,))
        if p.properties:
            body += encode_properties(p.properties, _P(b0 >> 4))
        return _checked(b0, body, version)

    return enc


def _subscribe(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Subscribe)
    parts = [_pid(p.packet_id, "SUBSCRIBE")]
    if version is _V5:
        parts.append(encode_properties(p.properties, _P.SUBSCRIBE))
    for sub in p.subscriptions:
        parts.append(encode_string(sub.topic_filter, "SUBSCRIBE topic filter"))
        opt = int(sub.qos)
        if version is _V5:
            opt |= (4 if sub.no_local else 0) | (8 if sub.retain_as_published else 0)
            opt |= int(sub.retain_handling) << 4
        if not 0 <= opt <= 255:
            raise MalformedPacket(f"SUBSCRIBE: options of {sub!r} out of range", remote=False)
        parts.append(bytes((opt,)))
    return _checked(0x82, b"".join(parts), version)


def _unsubscribe(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Unsubscribe)
    parts = [_pid(p.packet_id, "UNSUBSCRIBE")]
    if version is _V5:
        parts.append(encode_properties(p.properties, _P.UNSUBSCRIBE))
    parts.extend(encode_string(f, "UNSUBSCRIBE topic filter") for f in p.topic_filters)
    return _checked(0xA2, b"".join(parts), version)


def _codes(codes: tuple[ReasonCode, ...], name: str) -> bytes:
    if not all(isinstance(c, int) and 0 <= c <= 255 for c in codes):
        raise MalformedPacket(f"{name}: reason codes {codes!r} are not bytes", remote=False)
    return bytes(codes)


def _suback(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Suback)
    body = _pid(p.packet_id, "SUBACK")
    if version is _V5:
        body += encode_properties(p.properties, _P.SUBACK)
    return _checked(0x90, body + _codes(p.reason_codes, "SUBACK"), version)


def _unsuback(p: Packet, version: ProtocolVersion) -> bytes:
    assert isinstance(p, Unsuback)
    body = _pid(p.packet_id, "UNSUBACK")
    if version is _V5:
        body += encode_properties(p.properties, _P.UNSUBACK)
        body += _codes(p.reason_codes, "UNSUBACK")
    return _checked(0xB0, body, version)


def _reason_only(b0: int) -> Encoder:
    name = _P(b0 >> 4).name
    empty = bytes((b0, 0))

    def enc(p: Packet, version: ProtocolVersion) -> bytes:
        assert isinstance(p, (Disconnect, Auth))
        if version is _V311:
            if isinstance(p, Auth):
                raise ProtocolViolation("AUTH does not exist in MQTT 3.1.1", remote=False)
            return empty
        if p.reason_code == 0 and not p.properties:
            return empty
        body = _codes((p.reason_code,), name)
        if p.properties or isinstance(p, Auth):
            body += encode_properties(p.properties, _P(b0 >> 4))
        return _checked(b0, body, version)

    return enc


def _constant(data: bytes) -> Encoder:
    def enc(p: Packet, version: ProtocolVersion) -> bytes:
        return data

    return enc


ENCODERS: Final[dict[type, Encoder]] = {
    Connect: _connect,
    Connack: _connack,
    Publish: _publish,
    Puback: _ack(0x40),
    Pubrec: _ack(0x50),
    Pubrel: _ack(0x62),
    Pubcomp: _ack(0x70),
    Subscribe: _subscribe,
    Suback: _suback,
    Unsubscribe: _unsubscribe,
    Unsuback: _unsuback,
    Pingreq: _constant(b"\xc0\x00"),
    Pingresp: _constant(b"\xd0\x00"),
    Disconnect: _reason_only(0xE0),
    Auth: _reason_only(0xF0),
}
"""Packet class -> encoder(packet, version) -> bytes."""
