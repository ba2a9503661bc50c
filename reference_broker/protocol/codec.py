"""Encode and decode single MQTT 3.1.1 / 5.0 control packets, strictly and exactly.

``decode(data, version)`` reads one packet from the start of *data* and returns it with the
number of bytes it used, or ``None`` when more bytes are needed; a truncated packet is never
an error. Everything the specification forbids raises a :class:`ProtocolError` subclass
naming the packet, the field and the normative statement. ``encode(packet, version)`` refuses
the same things (``remote=False``), so ``decode(encode(p)) == p`` for every valid packet and
``encode(decode(b)) == b`` for bytes in their canonical (shortest) form.
"""

from __future__ import annotations

from typing import Final

from ._decoders import DECODERS, reject_first_byte
from ._encoders import ENCODERS
from .enums import PacketType, ProtocolVersion
from .errors import MalformedPacket, ProtocolViolation
from .packets import Packet
from .rules import CLIENT_PACKET_TYPES, REASON_CODES, SERVER_PACKET_TYPES

__all__ = [
    "CLIENT_PACKET_TYPES",
    "MAX_PACKET_SIZE",
    "REASON_CODES",
    "SERVER_PACKET_TYPES",
    "decode",
    "decode_body",
    "encode",
    "parse_fixed_header",
]

MAX_PACKET_SIZE: Final = 268_435_460
"""The largest packet MQTT can frame: a five byte fixed header and 268435455 bytes."""

_V311 = ProtocolVersion.V311
_V5 = ProtocolVersion.V5
_TABLE_311: Final = DECODERS[_V311]
_TABLE_5: Final = DECODERS[_V5]


def check_first_byte(b0: int, version: ProtocolVersion | None) -> None:
    """Raise at once for a first byte no valid packet starts with (no need to wait for more)."""
    if version is None:
        if b0 >> 4 != PacketType.CONNECT:
            raise ProtocolViolation(
                f"first packet must be CONNECT, not packet type {b0 >> 4}", spec="MQTT-3.1.0-1"
            )
        version = _V5
    if DECODERS[version][b0] is None:
        reject_first_byte(b0, version)


def parse_fixed_header(data: bytes, pos: int = 0) -> tuple[int, int] | None:
    """Read the Remaining Length that follows the first byte at *pos*.

    Returns:
        ``(remaining_length, header_length)``, or None when the length is not complete yet.

    Raises:
        MalformedPacket: the length is longer than four bytes or not in its shortest form.
    """
    n = len(data)
    i = pos + 1
    if i >= n:
        return None
    b = data[i]
    if b < 0x80:
        return b, 2
    value = b & 0x7F
    shift = 7
    for i in range(pos + 2, pos + 5):
        if i >= n:
            return None
        b = data[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0:
                raise MalformedPacket(
                    "fixed header: remaining length is not in its shortest form",
                    spec="MQTT-1.5.5-1",
                )
            return value, i - pos + 1
        shift += 7
    raise MalformedPacket(
        "fixed header: remaining length longer than four bytes", spec="MQTT-1.5.5-1"
    )


def decode_body(b0: int, body: bytes, version: ProtocolVersion | None) -> Packet:
    """Decode the packet whose first byte is *b0* and whose body is exactly *body*.

    With ``version=None`` only CONNECT is accepted [MQTT-3.1.0-1]; CONNECT always names its
    own version, so it decodes the same whatever *version* is.
    """
    if version is None:
        check_first_byte(b0, None)
        version = _V5
    decoder = (_TABLE_5 if version is _V5 else _TABLE_311)[b0]
    if decoder is None:
        reject_first_byte(b0, version)
        raise AssertionError("unreachable")
    return decoder(b0, body)


def decode(
    data: bytes | bytearray | memoryview, version: ProtocolVersion | None
) -> tuple[Packet, int] | None:
    """Decode one packet from the start of *data*.

    Args:
        data: received bytes; may hold less than, or more than, one packet.
        version: the connection's protocol version, or None before CONNECT.

    Returns:
        ``(packet, bytes_used)``, or None when *data* holds only a prefix of a packet.

    Raises:
        MalformedPacket, ProtocolViolation, UnsupportedProtocolVersion: the bytes break a rule.
    """
    if type(data) is not bytes:
        data = bytes(data)
    if not data:
        return None
    b0 = data[0]
    check_first_byte(b0, version)
    header = parse_fixed_header(data)
    if header is None:
        return None
    length, hlen = header
    total = hlen + length
    if len(data) < total:
        return None
    return decode_body(b0, data[hlen:total], version), total


def encode(packet: Packet, version: ProtocolVersion) -> bytes:
    """Encode *packet* for a connection speaking *version*.

    CONNECT is written in its own ``protocol_version``. Fields that exist only in 5.0
    (properties, reason codes) are not written for 3.1.1.

    Raises:
        ProtocolError: (``remote=False``) the packet breaks a rule a receiver would enforce.
        TypeError: *packet* is not a packet.
    """
    encoder = ENCODERS.get(type(packet))
    if encoder is None:
        raise TypeError(f"not an MQTT packet: {packet!r}")
    if version is not _V5 and version is not _V311:
        version = ProtocolVersion(version)
    return encoder(packet, version)
