"""Codec properties over the public fuzz strategies: valid packets round-trip; arbitrary bytes
and every labelled mutation make the decoder and the stream parser raise only our typed
ProtocolError subclasses; and each mutation label breaks the rule it names.

Each property runs twice: a quick default-profile version in the normal test run, and a long
one marked ``fuzz`` (``pytest -m fuzz tests/fuzz``; MQTTSEC_FUZZ_EXAMPLES sets its size).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttsec.fuzz import LABELS, PINGREQ, VERSIONS, codec_objection, malformed, mutation_strategies
from mqttsec.fuzz.packets import PACKET_STRATEGIES, packets
from mqttsec.reference_broker.protocol import (
    Connect,
    ProtocolError,
    ProtocolVersion,
    StreamParser,
    decode,
    encode,
)

_LONG = int(os.environ.get("MQTTSEC_FUZZ_EXAMPLES", "2000"))
SIZES = [
    pytest.param(25, id="quick"),
    pytest.param(_LONG, id="long", marks=pytest.mark.fuzz),
]

MAY_STAY_VALID = frozenset(
    {
        "remaining-length:long",  # on PUBLISH the extra bytes just lengthen the payload
        "connect:bad-header",  # some header edits (password without user name) are valid in 5.0
        "state:server-packet",  # an empty type-15 packet is a valid AUTH in 5.0
        "bytes:flip",
        "bytes:truncate",
        "bytes:noise",
        "oversize:field",
        "oversize:payload",
        "valid:packets",
    }
)
"""Labels whose bytes may still be valid; every other label must always break a rule."""


def run(examples: int, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    """Run *check* on *examples* draws from *strategy*, no deadline, no database."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def test(value: Any) -> None:
        check(value)

    test()


def only_protocol_errors(data: bytes, version: ProtocolVersion | None) -> None:
    """decode() and StreamParser (both roles, whole and byte by byte) raise only ProtocolError."""
    try:
        decode(data, version)
    except ProtocolError:
        pass
    for role in ("server", "client"):
        parser = StreamParser(version, role=role)  # type: ignore[arg-type]
        try:
            parser.feed(data)
        except ProtocolError:
            pass
    parser = StreamParser(version, role="server")
    try:
        for i in range(len(data)):
            parser.feed(data[i : i + 1])
    except ProtocolError:
        pass


PACKET_CASES = [
    pytest.param(version, name, id=f"{version.name}-{name}")
    for version in VERSIONS
    for name in sorted(PACKET_STRATEGIES)
    if not (name == "AUTH" and version is ProtocolVersion.V311)  # AUTH exists in 5.0 only
]


@pytest.mark.parametrize("examples", SIZES)
@pytest.mark.parametrize(("version", "name"), PACKET_CASES)
def test_valid_packets_round_trip(examples: int, version: ProtocolVersion, name: str) -> None:

    def check(packet: Any) -> None:
        raw = encode(packet, version)
        assert decode(raw, version) == (packet, len(raw))

    run(max(examples // 10, 5), PACKET_STRATEGIES[name](version), check)


@pytest.mark.parametrize("examples", SIZES)
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_broker_safe_packets_round_trip(examples: int, version: ProtocolVersion) -> None:
    def check(packet: Any) -> None:
        raw = encode(packet, version)
        assert decode(raw, version) == (packet, len(raw))

    run(examples, packets(version, "client", broker_safe=True), check)


@pytest.mark.parametrize("examples", SIZES)
@pytest.mark.parametrize("version", [None, *VERSIONS], ids=str)
def test_arbitrary_bytes_raise_only_protocol_errors(
    examples: int, version: ProtocolVersion | None
) -> None:
    run(examples, st.binary(max_size=96), lambda data: only_protocol_errors(data, version))


def _login(version: ProtocolVersion) -> bytes:
    return encode(Connect(client_id="fuzz", protocol_version=version), version)


@pytest.mark.parametrize("examples", SIZES)
def test_mutations_raise_only_protocol_errors(examples: int) -> None:
    def check(case: Any) -> None:
        stream = (_login(case.version) if case.login else b"") + case.data + PINGREQ
        only_protocol_errors(stream, None)
        only_protocol_errors(case.data, case.version)

    run(examples * 2, malformed(), check)


@pytest.mark.parametrize("examples", SIZES)
@pytest.mark.parametrize("label", [x for x in LABELS if x not in MAY_STAY_VALID])
def test_each_mutation_breaks_its_rule(examples: int, label: str) -> None:
    def check(case: Any) -> None:
        assert case.label == label
        stream = (_login(case.version) if case.login else b"") + case.data + PINGREQ
        objection = codec_objection(stream)
        if objection is None and label == "remaining-length:short":
            # The cut-off tail may read as the start of a longer packet that swallows the
            # PINGREQ: the framing is broken all the same, but no parser can say so yet.
            objection = _swallows_the_ping(stream)
        assert objection is not None, f"{label}: codec accepts {case.data.hex()}"

    run(max(examples // 5, 5), mutation_strategies()[label], check)


def _swallows_the_ping(stream: bytes) -> str | None:
    """Why *stream* no longer ends where its last packet (the PINGREQ) ends, if it does not."""
    parser = StreamParser(None, role="server")
    parser.feed(stream)
    return f"the stream ends inside a packet ({parser.buffered} bytes)" if parser.buffered else None


def test_labels_are_unique_and_named() -> None:
    assert len(set(LABELS)) == len(LABELS)
    assert all(label.count(":") == 1 for label in LABELS)
    with pytest.raises(ValueError, match="unknown mutation labels"):
        malformed(("no-such:label",))
