"""The MQTT data representations (MQTT 5.0 section 1.5) as fast, strict functions.

Decoders take ``bytes`` and an offset and return ``(value, new_offset)``; they raise
:class:`MalformedPacket` when the value runs past the end of the data, is ill-formed UTF-8,
contains U+0000, or is a Variable Byte Integer that is longer than four bytes or not in its
shortest form [MQTT-1.5.5-1]. Encoders return ``bytes`` and raise with ``remote=False``.
U+FEFF is kept as it is: it must not be skipped or stripped [MQTT-1.5.4-3].
"""

from __future__ import annotations

from typing import Final

from .errors import MalformedPacket

__all__ = [
    "VBI_MAX",
    "check_utf8_text",
    "decode_binary",
    "decode_string",
    "decode_string_pair",
    "decode_uint16",
    "decode_uint32",
    "decode_utf8",
    "decode_vbi",
    "encode_binary",
    "encode_string",
    "encode_string_pair",
    "encode_uint16",
    "encode_uint32",
    "encode_vbi",
]

VBI_MAX: Final = 268_435_455
"""The largest value a Variable Byte Integer can hold (four bytes)."""

_VBI_1: Final = tuple(bytes((i,)) for i in range(128))


def decode_uint16(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read a Two Byte Integer (big-endian) at *pos*."""
    end = pos + 2
    if end > len(data):
        raise MalformedPacket(f"{what}: two byte integer runs past the end of the packet")
    return (data[pos] << 8) | data[pos + 1], end


def decode_uint32(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read a Four Byte Integer (big-endian) at *pos*."""
    end = pos + 4
    if end > len(data):
        raise MalformedPacket(f"{what}: four byte integer runs past the end of the packet")
    return int.from_bytes(data[pos:end], "big"), end


def decode_vbi(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read a Variable Byte Integer at *pos*; at most four bytes, shortest form only.

    Raises:
        MalformedPacket: truncated, longer than four bytes, or an overlong encoding.
    """
    n = len(data)
    if pos >= n:
        raise MalformedPacket(f"{what}: variable byte integer runs past the end of the packet")
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    value = b & 0x7F
    shift = 7
    for i in range(pos + 1, pos + 4):
        if i >= n:
            raise MalformedPacket(f"{what}: variable byte integer runs past the end of the packet")
        b = data[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0:
                raise MalformedPacket(
                    f"{what}: variable byte integer is not in its shortest form",
                    spec="MQTT-1.5.5-1",
                )
            return value, i + 1
        shift += 7
    raise MalformedPacket(
        f"{what}: variable byte integer longer than four bytes", spec="MQTT-1.5.5-1"
    )


def decode_utf8(raw: bytes, what: str) -> str:
    """Decode UTF-8 text strictly: no ill-formed sequences, no surrogates, no U+0000.

    Python's strict UTF-8 decoder already refuses encoded surrogates (U+D800..U+DFFF) and
    overlong forms [MQTT-1.5.4-1]; U+0000 is checked here [MQTT-1.5.4-2].
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacket(
            f"{what}: ill-formed UTF-8 ({exc.reason})", spec="MQTT-1.5.4-1"
        ) from None
    if "\x00" in text:
        raise MalformedPacket(f"{what}: contains U+0000", spec="MQTT-1.5.4-2")
    return text


def decode_string(data: bytes, pos: int, what: str) -> tuple[str, int]:
    """Read a UTF-8 Encoded String (two byte length, then the text)."""
    n = len(data)
    if pos + 2 > n:
        raise MalformedPacket(f"{what}: string length runs past the end of the packet")
    end = pos + 2 + ((data[pos] << 8) | data[pos + 1])
    if end > n:
        raise MalformedPacket(f"{what}: string runs past the end of the packet")
    return decode_utf8(data[pos + 2 : end], what), end


def decode_binary(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """Read Binary Data (two byte length, then the bytes)."""
    n = len(data)
    if pos + 2 > n:
        raise MalformedPacket(f"{what}: binary length runs past the end of the packet")
    end = pos + 2 + ((data[pos] << 8) | data[pos + 1])
    if end > n:
        raise MalformedPacket(f"{what}: binary data runs past the end of the packet")
    return bytes(data[pos + 2 : end]), end


def decode_string_pair(data: bytes, pos: int, what: str) -> tuple[tuple[str, str], int]:
    """Read a UTF-8 String Pair (name, value)."""
    name, pos = decode_string(data, pos, what + " name")
    value, pos = decode_string(data, pos, what + " value")
    return (name, value), pos


def encode_uint16(value: int, what: str) -> bytes:
    """Write a Two Byte Integer; refuses values outside 0..65535."""
    if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise MalformedPacket(f"{what}: {value!r} is not a two byte integer", remote=False)
    return value.to_bytes(2, "big")


def encode_uint32(value: int, what: str) -> bytes:
    """Write a Four Byte Integer; refuses values outside 0..2**32-1."""
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise MalformedPacket(f"{what}: {value!r} is not a four byte integer", remote=False)
    return value.to_bytes(4, "big")


def encode_vbi(value: int, what: str = "variable byte integer") -> bytes:
    """Write a Variable Byte Integer in its shortest form (0..268435455)."""
    if 0 <= value < 128:
        return _VBI_1[value]
    if not isinstance(value, int) or not 0 <= value <= VBI_MAX:
        raise MalformedPacket(
            f"{what}: {value!r} does not fit a variable byte integer", remote=False
        )
    out = bytearray()
    while True:
        digit = value & 0x7F
        value >>= 7
        if value:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def check_utf8_text(text: str, what: str) -> bytes:
    """Encode *text* for the wire, refusing what a receiver would call malformed.

    Raises:
        MalformedPacket: (remote=False) lone surrogates, U+0000, or longer than 65535 bytes.
    """
    if not isinstance(text, str):
        raise MalformedPacket(f"{what}: {type(text).__name__} is not a string", remote=False)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedPacket(
            f"{what}: contains a surrogate code point", spec="MQTT-1.5.4-1", remote=False
        ) from None
    if "\x00" in text:
        raise MalformedPacket(f"{what}: contains U+0000", spec="MQTT-1.5.4-2", remote=False)
    if len(raw) > 0xFFFF:
        raise MalformedPacket(f"{what}: longer than 65535 bytes", spec="MQTT-1.5.4", remote=False)
    return raw


def encode_string(text: str, what: str) -> bytes:
    """Write a UTF-8 Encoded String (two byte length prefix)."""
    raw = check_utf8_text(text, what)
    return len(raw).to_bytes(2, "big") + raw


def encode_binary(data: bytes, what: str) -> bytes:
    """Write Binary Data (two byte length prefix); at most 65535 bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedPacket(f"{what}: {type(data).__name__} is not bytes", remote=False)
    if len(data) > 0xFFFF:
        raise MalformedPacket(f"{what}: longer than 65535 bytes", remote=False)
    return len(data).to_bytes(2, "big") + bytes(data)


def encode_string_pair(pair: tuple[str, str], what: str) -> bytes:
    """Write a UTF-8 String Pair."""
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise MalformedPacket(f"{what}: {pair!r} is not a (name, value) pair", remote=False)
    return encode_string(pair[0], what + " name") + encode_string(pair[1], what + " value")
