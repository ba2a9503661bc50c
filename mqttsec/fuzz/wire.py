"""Byte-level helpers for building malformed packets: framing, raw properties, the oracle.

The codec's encoder refuses every invalid packet, so malformed bytes are made here, by hand,
from the pieces of valid encodings. :func:`codec_objection` is the oracle: the reference
codec (spec-exact) says whether a byte stream breaks a rule, which tells the broker harness
whether a broker that answers normally is deviating.
"""

from __future__ import annotations

from typing import Final

from mqttsec.reference_broker.protocol import (
    PROPERTY_SPECS,
    PropertyId,
    PropertyValue,
    ProtocolError,
    StreamParser,
)
from mqttsec.reference_broker.protocol.codec import parse_fixed_header
from mqttsec.reference_broker.protocol.primitives import encode_vbi
from mqttsec.reference_broker.protocol.properties import PropertyType

__all__ = [
    "MARKER",
    "PINGREQ",
    "codec_objection",
    "frame",
    "raw_property",
    "raw_string",
    "split",
    "vbi",
]

PINGREQ: Final = b"\xc0\x00"
"""The sentinel sent after every example: a broker that answers it has accepted what came
before it; a broker that closes first has refused it."""

MARKER: Final = "\ue000\ue001"
"""A 6-byte UTF-8 placeholder put into a string field of a valid packet and then replaced
by 6 bad bytes, so no length field needs fixing."""
MARKER_BYTES: Final = MARKER.encode()


def vbi(value: int) -> bytes:
    """A Variable Byte Integer in its shortest form."""
    return encode_vbi(value)


def split(raw: bytes) -> tuple[int, bytes]:
    """The first byte and the body of one encoded packet.

    Raises:
        ValueError: *raw* is not exactly one complete packet.
    """
    header = parse_fixed_header(raw)
    if header is None or header[0] + header[1] != len(raw):
        raise ValueError(f"not one complete packet: {raw.hex()}")
    return raw[0], raw[header[1] :]


def frame(b0: int, body: bytes) -> bytes:
    """First byte, the body's length as a shortest-form VBI, the body."""
    return bytes((b0,)) + vbi(len(body)) + body


def raw_string(data: bytes) -> bytes:
    """A two-byte length and *data*, unchecked (any bytes, even invalid UTF-8)."""
    return len(data).to_bytes(2, "big") + data


def raw_property(pid: int, value: PropertyValue, ptype: PropertyType | None = None) -> bytes:
    """One property as identifier and value, written without any validation.

    Args:
        pid: the identifier (may be one MQTT does not define; then give *ptype*).
        value: the value, in the Python type the codec uses for *ptype*.
        ptype: the wire type; default the one MQTT defines for *pid*.
    """
    if ptype is None:
        ptype = PROPERTY_SPECS[PropertyId(pid)].type
    out = vbi(pid)
    if ptype is PropertyType.BYTE:
        assert isinstance(value, int)
        return out + bytes((value & 0xFF,))
    if ptype is PropertyType.TWO_BYTE_INTEGER:
        assert isinstance(value, int)
        return out + (value & 0xFFFF).to_bytes(2, "big")
    if ptype is PropertyType.FOUR_BYTE_INTEGER:
        assert isinstance(value, int)
        return out + (value & 0xFFFFFFFF).to_bytes(4, "big")
    if ptype is PropertyType.VARIABLE_BYTE_INTEGER:
        assert isinstance(value, int)
        return out + vbi(value)
    if ptype is PropertyType.BINARY_DATA:
        assert isinstance(value, bytes)
        return out + raw_string(value)
    if ptype is PropertyType.UTF8_STRING:
        assert isinstance(value, str)
        return out + raw_string(value.encode("utf-8", "surrogatepass"))
    assert isinstance(value, tuple)
    name, text = value
    return out + raw_string(name.encode()) + raw_string(text.encode())


def codec_objection(stream: bytes) -> str | None:
    """What the reference codec refuses in *stream*, as a client sends it to a broker.

    Returns:
        ``"<ErrorClass>: message [spec]"`` for the first rule broken, or None when every
        packet decodes (or the stream ends inside a packet, which is no error yet).
    """
    parser = StreamParser(None, role="server")
    try:
        parser.feed(stream)
    except ProtocolError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
