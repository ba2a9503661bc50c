"""The throughput benchmark's own checks: its counting is exact, and it runs end to end.

The fast tests pin the part a wrong figure would come from: the subscribers' fixed-offset
counting and bulk PUBACKs, against packets decoded by our codec. The slow ones run the
script itself for a fraction of a second (self-test, then the reference broker and mosquitto).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import loadgen
import wire

from mqttsec.reference_broker.protocol import ProtocolVersion, Publish, decode


@pytest.mark.parametrize("qos", [0, 1])
def test_shape_matches_the_codec(qos: int) -> None:
    shape = wire.shape_of(qos, 64)
    buf = wire.publish_buffer(3, qos, 64)
    assert len(buf) == 3 * shape.size
    for i in range(3):
        decoded = decode(buf[i * shape.size :], ProtocolVersion.V311)
        assert decoded is not None
        packet, used = decoded
        assert isinstance(packet, Publish) and used == shape.size
        assert packet.topic == wire.TOPIC and len(packet.payload) == 64
        assert buf[i * shape.size] == shape.first_byte
        if qos:
            assert packet.packet_id == i + 1
            pid = buf[i * shape.size + shape.id_offset : i * shape.size + shape.id_offset + 2]
            assert int.from_bytes(pid, "big") == i + 1


def _consume(data: bytes, qos: int) -> tuple[int, int, bytes]:
    """Feed ``data`` to one subscriber inbox; return (counted, bytes kept, PUBACKs sent)."""
    ours, theirs = socket.socketpair()
    try:
        inbox = loadgen._Inbox(ours, 0)
        inbox.buf[: len(data)] = data
        inbox.have = len(data)
        shape = wire.shape_of(qos, 64)
        loadgen._consume(inbox, shape, qos, bytes([0x40, 2, 0, 0]) * 100)
        theirs.setblocking(False)
        try:
            acks = theirs.recv(65536)
        except BlockingIOError:
            acks = b""
        return inbox.count, inbox.have, acks
    finally:
        ours.close()
        theirs.close()


def test_qos0_counts_whole_packets_and_keeps_the_partial_one() -> None:
    data = wire.publish_buffer(5, 0, 64)
    assert _consume(data[:-10], 0) == (4, wire.shape_of(0, 64).size - 10, b"")


def test_qos1_acknowledges_every_packet_id_in_bulk() -> None:
    data = wire.publish_buffer(4, 1, 64)
    count, kept, acks = _consume(data + data[:5], 1)
    assert (count, kept) == (4, 5)
    assert acks == b"".join(bytes([0x40, 2, 0, i]) for i in (1, 2, 3, 4))


def test_a_redelivery_with_dup_set_takes_the_slow_path_and_is_still_acknowledged() -> None:
    data = bytearray(wire.publish_buffer(3, 1, 64))
    data[wire.shape_of(1, 64).size] |= 0x08  # DUP on the second packet
    count, kept, acks = _consume(bytes(data), 1)
    assert (count, kept) == (3, 0)
    assert acks == b"".join(bytes([0x40, 2, 0, i]) for i in (1, 2, 3))


def _run(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "result.json"
    command = [sys.executable, str(BENCH / "throughput.py"), "--warmup", "0.2"]
    command += ["--duration", "0.5", "--json", str(out), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_self_test_reports_a_rate_for_every_case(tmp_path: Path) -> None:
    result = _run(tmp_path, "--self-test-only")
    rows = result["self_test"]
    assert isinstance(rows, list) and len(rows) == 6
    assert all(row["rate"] > 0 for row in rows)


@pytest.mark.slow
@pytest.mark.mosquitto
def test_reference_and_mosquitto_are_measured_side_by_side(tmp_path: Path) -> None:
    result = _run(tmp_path, "--brokers", "reference,mosquitto")
    rows = result["results"]
    assert isinstance(rows, list) and len(rows) == 8
    assert all("error" not in row and row["rate"] > 0 for row in rows), rows
    ratios = result["ratios"]
    assert isinstance(ratios, dict) and ratios["qos0 1->1"]["reference/mosquitto"] > 0
