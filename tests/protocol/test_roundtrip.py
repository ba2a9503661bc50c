"""Property tests: every valid packet survives encode/decode; prefixes need more data; noise
only ever raises our own errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import (
    Packet,
    ProtocolError,
    ProtocolVersion,
    StreamParser,
    decode,
    encode,
)

from .strategies import PACKET_STRATEGIES, SETTINGS, V311, VERSIONS, packets

CASES = [
    (name, version)
    for name in PACKET_STRATEGIES
    for version in VERSIONS
    if not (name == "AUTH" and version is V311)
]


@pytest.mark.parametrize(("name", "version"), CASES, ids=[f"{n}-{v.name}" for n, v in CASES])
@SETTINGS
@given(data=st.data())
def test_round_trip(name: str, version: ProtocolVersion, data: st.DataObject) -> None:
    packet = data.draw(PACKET_STRATEGIES[name](version))
    raw = encode(packet, version)
    assert decode(raw, version) == (packet, len(raw))
    assert encode(decode(raw, version)[0], version) == raw  # type: ignore[index]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@SETTINGS
@given(data=st.data())
def test_every_prefix_needs_more_data(version: ProtocolVersion, data: st.DataObject) -> None:
    raw = encode(data.draw(packets(version)), version)
    for cut in range(len(raw)):
        assert decode(raw[:cut], version) is None


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@SETTINGS
@given(data=st.data())
def test_decode_ignores_trailing_bytes(version: ProtocolVersion, data: st.DataObject) -> None:
    raw = encode(data.draw(packets(version)), version)
    tail = data.draw(st.binary(max_size=8))
    result = decode(raw + tail, version)
    assert result is not None and result[1] == len(raw)


@pytest.mark.parametrize("version", [None, *VERSIONS], ids=str)
@SETTINGS
@given(noise=st.binary(max_size=64))
def test_noise_raises_only_protocol_errors(version: ProtocolVersion | None, noise: bytes) -> None:
    try:
        decode(noise, version)
    except ProtocolError:
        pass
    for role in ("server", "client"):
        parser = StreamParser(version, role=role)  # type: ignore[arg-type]
        try:
            parser.feed(noise)
        except ProtocolError:
            pass


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@SETTINGS
@given(data=st.data())
def test_mutated_packets_raise_only_protocol_errors(
    version: ProtocolVersion, data: st.DataObject
) -> None:
    raw = bytearray(encode(data.draw(packets(version)), version))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    try:
        result = decode(bytes(raw), version)
    except ProtocolError:
        return
    if result is not None:  # whatever decodes must encode back to the same bytes or refuse
        packet: Packet = result[0]
        try:
            encode(packet, version)
        except ProtocolError as exc:
            assert not exc.remote


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
@SETTINGS
@given(data=st.data())
def test_stream_any_split(version: ProtocolVersion, data: st.DataObject) -> None:
    stream = data.draw(st.lists(packets(version, "server"), min_size=1, max_size=4))
    blob = b"".join(encode(p, version) for p in stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=6)))
    parser = StreamParser(version, role="client")
    got: list[Packet] = []
    prev = 0
    for cut in [*cuts, len(blob)]:
        got += parser.feed(blob[prev:cut])
        prev = cut
    assert got == stream
    assert parser.buffered == 0
