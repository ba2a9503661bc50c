"""The data representations of MQTT 5.0 section 1.5."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import MalformedPacket
from mqttsec.reference_broker.protocol.primitives import (
    VBI_MAX,
    decode_binary,
    decode_string,
    decode_string_pair,
    decode_uint16,
    decode_uint32,
    decode_vbi,
    encode_binary,
    encode_string,
    encode_string_pair,
    encode_uint16,
    encode_uint32,
    encode_vbi,
)

from .strategies import SETTINGS, texts


@pytest.mark.parametrize(
    ("value", "hexdata"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8001"),
        (16383, "ff7f"),
        (16384, "808001"),
        (2097151, "ffff7f"),
        (2097152, "80808001"),
        (VBI_MAX, "ffffff7f"),
    ],
)
def test_vbi_spec_table(value: int, hexdata: str) -> None:
    """The boundaries of MQTT 5.0 table 1-1."""
    assert encode_vbi(value) == bytes.fromhex(hexdata)
    assert decode_vbi(bytes.fromhex(hexdata), 0, "x") == (value, len(hexdata) // 2)


@SETTINGS
@given(st.integers(0, VBI_MAX))
def test_vbi_round_trip(value: int) -> None:
    raw = encode_vbi(value)
    assert decode_vbi(raw, 0, "x") == (value, len(raw))


@pytest.mark.parametrize("hexdata", ["8000", "ff00", "808000", "80808000", "ffffffff01", "ff", ""])
def test_vbi_refuses_overlong_too_long_or_truncated(hexdata: str) -> None:
    with pytest.raises(MalformedPacket):
        decode_vbi(bytes.fromhex(hexdata), 0, "x")


@pytest.mark.parametrize("value", [-1, VBI_MAX + 1])
def test_vbi_encode_range(value: int) -> None:
    with pytest.raises(MalformedPacket) as info:
        encode_vbi(value)
    assert not info.value.remote


def test_integers() -> None:
    assert decode_uint16(b"\x01\x02", 0, "x") == (0x0102, 2)
    assert decode_uint32(b"\x01\x02\x03\x04", 0, "x") == (0x01020304, 4)
    assert encode_uint16(0xFFFF, "x") == b"\xff\xff"
    assert encode_uint32(1, "x") == b"\x00\x00\x00\x01"
    for bad in (-1, 0x10000):
        with pytest.raises(MalformedPacket):
            encode_uint16(bad, "x")
    with pytest.raises(MalformedPacket):
        encode_uint32(1 << 32, "x")
    with pytest.raises(MalformedPacket):
        decode_uint16(b"\x01", 0, "x")
    with pytest.raises(MalformedPacket):
        decode_uint32(b"\x01\x02\x03", 0, "x")


@SETTINGS
@given(texts, texts, st.binary(max_size=50))
def test_strings_round_trip(a: str, b: str, blob: bytes) -> None:
    assert decode_string(encode_string(a, "x"), 0, "x") == (a, len(a.encode()) + 2)
    pair = encode_string_pair((a, b), "x")
    assert decode_string_pair(pair, 0, "x") == ((a, b), len(pair))
    assert decode_binary(encode_binary(blob, "x"), 0, "x") == (blob, len(blob) + 2)


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        (b"\x00\x02\xc3\x28", "MQTT-1.5.4-1"),  # ill-formed
        (b"\x00\x03\xed\xa0\x80", "MQTT-1.5.4-1"),  # surrogate U+D800
        (b"\x00\x02\xc0\x80", "MQTT-1.5.4-1"),  # overlong U+0000
        (b"\x00\x01\x00", "MQTT-1.5.4-2"),  # U+0000
        (b"\x00\x05ab", ""),  # truncated
        (b"\x00", ""),  # length truncated
    ],
)
def test_string_refusals(raw: bytes, spec: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        decode_string(raw, 0, "x")
    assert info.value.spec == spec


def test_bom_is_not_stripped() -> None:
    assert decode_string(b"\x00\x03\xef\xbb\xbf", 0, "x") == ("\ufeff", 5)


@pytest.mark.parametrize("text", ["\ud800", "a\x00", "x" * 65536])
def test_string_encode_refusals(text: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        encode_string(text, "x")
    assert not info.value.remote


def test_binary_encode_refuses_long_data() -> None:
    with pytest.raises(MalformedPacket):
        encode_binary(b"x" * 65536, "x")
