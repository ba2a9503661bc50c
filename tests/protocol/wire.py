"""Tiny helpers to spell raw packets in tests, with lengths computed for you."""

from __future__ import annotations


def s(text: str | bytes) -> bytes:
    """A UTF-8 string / binary field: two byte length, then the bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def vbi(value: int) -> bytes:
    out = bytearray()
    while True:
        digit, value = value & 0x7F, value >> 7
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def props(*items: bytes) -> bytes:
    """A property block: length, then the (already encoded) properties."""
    body = b"".join(items)
    return vbi(len(body)) + body


def frame(b0: int, *parts: bytes | int) -> bytes:
    """A whole packet: first byte, remaining length, then the parts (ints are single bytes)."""
    body = b"".join(bytes((p,)) if isinstance(p, int) else p for p in parts)
    return bytes((b0,)) + vbi(len(body)) + body


def connect(
    level: int = 4,
    flags: int = 0x02,
    *,
    name: str = "MQTT",
    props_block: bytes | None = None,
    payload: bytes | None = None,
) -> bytes:
    """A CONNECT with client id "c" by default; 5.0 gets an empty property block."""
    if props_block is None:
        props_block = b"\x00" if level == 5 else b""
    if payload is None:
        payload = s("c")
    return frame(0x10, s(name), level, flags, b"\x00\x3c", props_block, payload)
