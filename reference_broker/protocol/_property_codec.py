"""Decode, encode and check the MQTT 5.0 property list of one packet (section 2.2.2).

One function checks a (property, value) pair for both directions, so the decoder refuses
exactly what the encoder refuses: an unknown identifier (malformed), a property the packet may
not carry, a repeat of a property that may not repeat, or a value out of its range (protocol
errors, as the specification words each of them).
"""

from __future__ import annotations

from typing import Final

from .enums import PacketType, ReasonCode
from .errors import MalformedPacket, ProtocolViolation
from .primitives import (
    VBI_MAX,
    decode_binary,
    decode_string,
    decode_string_pair,
    decode_vbi,
    encode_binary,
    encode_string,
    encode_string_pair,
    encode_uint16,
    encode_uint32,
    encode_vbi,
)
from .properties import (
    NO_PROPERTIES,
    PROPERTY_SPECS,
    WILL_PROPERTIES,
    Properties,
    PropertyContext,
    PropertyId,
    PropertyType,
    PropertyValue,
)
from .topics import validate_topic_name

__all__ = ["decode_properties", "encode_properties", "make_properties"]

_I = PropertyId
_BYTE, _U16, _U32, _VBI, _STR, _BIN, _PAIR = range(7)
_TYPE_CODES: Final = {
    PropertyType.BYTE: _BYTE,
    PropertyType.TWO_BYTE_INTEGER: _U16,
    PropertyType.FOUR_BYTE_INTEGER: _U32,
    PropertyType.VARIABLE_BYTE_INTEGER: _VBI,
    PropertyType.UTF8_STRING: _STR,
    PropertyType.BINARY_DATA: _BIN,
    PropertyType.UTF8_STRING_PAIR: _PAIR,
}
# id -> (PropertyId, wire type code, contexts, repeatable)
_BY_ID: Final[dict[int, tuple[PropertyId, int, frozenset[PropertyContext], bool]]] = {
    int(pid): (pid, _TYPE_CODES[spec.type], spec.contexts, spec.repeatable)
    for pid, spec in PROPERTY_SPECS.items()
}
_ZERO_ONE: Final = frozenset(
    {
        _I.PAYLOAD_FORMAT_INDICATOR,
        _I.REQUEST_PROBLEM_INFORMATION,
        _I.REQUEST_RESPONSE_INFORMATION,
        _I.MAXIMUM_QOS,
        _I.RETAIN_AVAILABLE,
        _I.WILDCARD_SUBSCRIPTION_AVAILABLE,
        _I.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        _I.SHARED_SUBSCRIPTION_AVAILABLE,
    }
)
_NON_ZERO: Final = frozenset({_I.RECEIVE_MAXIMUM, _I.MAXIMUM_PACKET_SIZE})


def _ctx_name(context: PropertyContext) -> str:
    return "will properties" if context is WILL_PROPERTIES else f"{context.name} properties"


def make_properties(items: tuple[tuple[PropertyId, PropertyValue], ...]) -> Properties:
    """Wrap already-checked items without re-validating them (the decoder's fast path)."""
    if not items:
        return NO_PROPERTIES
    props = object.__new__(Properties)
    object.__setattr__(props, "_items", items)
    return props


def _check_value(pid: PropertyId, value: PropertyValue, where: str, remote: bool) -> None:
    """Refuse a value the specification calls a protocol error."""
    if pid in _ZERO_ONE:
        if value not in (0, 1):
            raise ProtocolViolation(
                f"{where}: {pid.name} must be 0 or 1, not {value!r}",
                spec="5.0 §2.2.2.2",
                remote=remote,
            )
    elif pid in _NON_ZERO:
        if value == 0:
            raise ProtocolViolation(
                f"{where}: {pid.name} must not be 0", spec="5.0 §3.1.2.11", remote=remote
            )
    elif pid is _I.SUBSCRIPTION_IDENTIFIER:
        if value == 0:
            raise ProtocolViolation(
                f"{where}: SUBSCRIPTION_IDENTIFIER must not be 0",
                spec="5.0 §3.8.2.1.2",
                remote=remote,
            )
    elif pid is _I.TOPIC_ALIAS:
        if value == 0:
            raise ProtocolViolation(
                f"{where}: TOPIC_ALIAS must not be 0",
                spec="MQTT-3.3.2-8",
                reason_code=ReasonCode.TOPIC_ALIAS_INVALID,
                remote=remote,
            )
    elif pid is _I.RESPONSE_TOPIC:
        assert isinstance(value, str)
        validate_topic_name(value, what=f"{where}: RESPONSE_TOPIC", remote=remote)


def _check_item(
    pid: PropertyId,
    contexts: frozenset[PropertyContext],
    repeatable: bool,
    context: PropertyContext,
    seen: set[PropertyId],
    remote: bool,
) -> str:
    where = _ctx_name(context)
    if context not in contexts:
        raise ProtocolViolation(
            f"{where}: {pid.name} is not allowed here", spec="5.0 §2.2.2.2", remote=remote
        )
    if pid in seen and not (
        pid is _I.USER_PROPERTY or (repeatable and context is PacketType.PUBLISH)
    ):
        raise ProtocolViolation(
            f"{where}: {pid.name} given more than once", spec="5.0 §2.2.2.2", remote=remote
        )
    seen.add(pid)
    return where


def _check_auth_pair(seen: set[PropertyId], where: str, remote: bool) -> None:
    if _I.AUTHENTICATION_DATA in seen and _I.AUTHENTICATION_METHOD not in seen:
        raise ProtocolViolation(
            f"{where}: AUTHENTICATION_DATA without AUTHENTICATION_METHOD",
            spec="5.0 §3.1.2.11.10",
            remote=remote,
        )


def decode_properties(data: bytes, pos: int, context: PropertyContext) -> tuple[Properties, int]:
    """Read a Property Length and the properties after it, checking each one.

    Returns:
        The properties (``NO_PROPERTIES`` when empty) and the offset after them.

    Raises:
        MalformedPacket: truncated, unknown identifier, or bad encoding.
        ProtocolViolation: not allowed in *context*, repeated, or out of range.
    """
    length, pos = decode_vbi(data, pos, f"{_ctx_name(context)} length")
    if length == 0:
        return NO_PROPERTIES, pos
    end = pos + length
    if end > len(data):
        raise MalformedPacket(f"{_ctx_name(context)}: property length runs past the packet")
    block = data[pos:end]
    items: list[tuple[PropertyId, PropertyValue]] = []
    seen: set[PropertyId] = set()
    i = 0
    n = len(block)
    where = _ctx_name(context)
    while i < n:
        ident, i = decode_vbi(block, i, f"{where} identifier")
        entry = _BY_ID.get(ident)
        if entry is None:
            raise MalformedPacket(f"{where}: unknown property identifier 0x{ident:02x}")
        pid, code, contexts, repeatable = entry
        _check_item(pid, contexts, repeatable, context, seen, True)
        what = f"{where}: {pid.name}"
        value: PropertyValue
        if code == _BYTE:
            if i >= n:
                raise MalformedPacket(f"{what} runs past the property length")
            value = block[i]
            i += 1
        elif code == _U16:
            if i + 2 > n:
                raise MalformedPacket(f"{what} runs past the property length")
            value = (block[i] << 8) | block[i + 1]
            i += 2
        elif code == _U32:
            if i + 4 > n:
                raise MalformedPacket(f"{what} runs past the property length")
            value = int.from_bytes(block[i : i + 4], "big")
            i += 4
        elif code == _VBI:
            value, i = decode_vbi(block, i, what)
        elif code == _STR:
            value, i = decode_string(block, i, what)
        elif code == _BIN:
            value, i = decode_binary(block, i, what)
        else:
            value, i = decode_string_pair(block, i, what)
        _check_value(pid, value, where, True)
        items.append((pid, value))
    _check_auth_pair(seen, where, True)
    return make_properties(tuple(items)), end


def _encode_value(code: int, value: PropertyValue, what: str) -> bytes:
    if code == _STR:
        if not isinstance(value, str):
            raise MalformedPacket(f"{what}: {value!r} is not a string", remote=False)
        return encode_string(value, what)
    if code == _PAIR:
        if not isinstance(value, tuple):
            raise MalformedPacket(f"{what}: {value!r} is not a (name, value) pair", remote=False)
        return encode_string_pair(value, what)
    if code == _BIN:
        if not isinstance(value, bytes):
            raise MalformedPacket(f"{what}: {value!r} is not bytes", remote=False)
        return encode_binary(value, what)
    if not isinstance(value, int):
        raise MalformedPacket(f"{what}: {value!r} is not an integer", remote=False)
    if code == _BYTE:
        if not 0 <= value <= 0xFF:
            raise MalformedPacket(f"{what}: {value!r} is not a byte", remote=False)
        return bytes((value,))
    if code == _U16:
        return encode_uint16(value, what)
    if code == _U32:
        return encode_uint32(value, what)
    if not 0 <= value <= VBI_MAX:
        raise MalformedPacket(f"{what}: {value!r} out of range", remote=False)
    return encode_vbi(value, what)


def encode_properties(props: Properties, context: PropertyContext) -> bytes:
    """Write a Property Length and the properties, refusing what a receiver would refuse.

    Raises:
        MalformedPacket, ProtocolViolation: with ``remote=False``.
    """
    if not props:
        return b"\x00"
    if not isinstance(props, Properties):
        raise MalformedPacket(f"{_ctx_name(context)}: {props!r} is not Properties", remote=False)
    seen: set[PropertyId] = set()
    parts: list[bytes] = []
    where = _ctx_name(context)
    for pid, value in props.items():
        _, code, contexts, repeatable = _BY_ID[int(pid)]
        _check_item(pid, contexts, repeatable, context, seen, False)
        what = f"{where}: {pid.name}"
        raw = _encode_value(code, value, what)
        _check_value(pid, value, where, False)
        parts.append(encode_vbi(int(pid)))
        parts.append(raw)
    _check_auth_pair(seen, where, False)
    body = b"".join(parts)
    return encode_vbi(len(body), f"{where} length") + body
