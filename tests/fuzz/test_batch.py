"""The concurrent batch path of ``mqttsec fuzz``: the same verdicts as one example at a time,
held-open connections judged at their own bound without holding the batch, the pools valid,
and progress output fit for a log file."""

from __future__ import annotations

import io
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from mqttsec.fuzz import Malformed, malformed
from mqttsec.fuzz.batch import Batcher
from mqttsec.fuzz.harness import Answer, BrokerHarness, Login
from mqttsec.fuzz.pool import pools
from mqttsec.fuzz.runner import FuzzStats, Progress
from mqttsec.fuzz.session import FuzzTarget
from mqttsec.reference_broker.protocol import (
    CLIENT_PACKET_TYPES,
    PacketType,
    ProtocolVersion,
    decode,
    encode,
)

V5 = ProtocolVersion.V5
OVERLONG_PUBACK = bytes.fromhex("4083000002")


class HoldEverything:
    """A fake broker that accepts connections, reads, and never answers nor closes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.conns:
            conn.close()


class NoProbe(BrokerHarness):
    """A harness whose survival check always passes (the fake broker speaks no MQTT)."""

    def survives(self, examples: int = 1) -> None:
        self.checked = getattr(self, "checked", 0) + examples


@pytest.fixture
def holder() -> Iterator[HoldEverything]:
    server = HoldEverything()
    yield server
    server.close()


def test_held_open_connections_do_not_hold_the_batch(holder: HoldEverything) -> None:
    harness = NoProbe("127.0.0.1", holder.port, Login("u", "p"), answer_timeout=1.0)
    batcher = Batcher(harness, quiet=0.02)
    case = Malformed("vbi:overlong", V5, OVERLONG_PUBACK)
    started = time.monotonic()
    assert batcher.run([case] * 5) == []  # nothing ended yet, and the batch did not wait 1 s
    assert time.monotonic() - started < 0.8
    assert batcher.in_flight == 5 and harness.checked == 5
    judged = batcher.drain()
    assert time.monotonic() - started >= 1.0
    assert [j.verdict.kind for j in judged] == ["held-open"] * 5
    assert all(j.verdict.observation.answer is Answer.NO_ANSWER for j in judged)
    # each connection logged in with its own client id, so none took over another
    assert len({j.stream for j in judged}) == 5
    batcher.close()


def _cases(count: int) -> list[Malformed]:
    out: list[Malformed] = []

    @seed(5)
    @settings(
        max_examples=count // 20, database=None, deadline=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(st.lists(malformed(), min_size=20, max_size=20))
    def collect(cases: list[Malformed]) -> None:
        out.extend(cases)

    collect()
    return out


def test_batches_judge_every_example_as_one_at_a_time() -> None:
    """Concurrency changes nothing about the answers: the reference broker, 100 examples."""
    cases = _cases(100)
    with tempfile.TemporaryDirectory() as work:
        target = FuzzTarget("reference", Path(work))
        endpoint = target.start()
        try:
            single = BrokerHarness(endpoint.host, endpoint.port, target.login)
            alone = {
                id(c): single.exchange(single.stream(c), c.version).answer.value for c in cases
            }
            batcher = Batcher(BrokerHarness(endpoint.host, endpoint.port, target.login))
            judged = [j for i in range(0, len(cases), 40) for j in batcher.run(cases[i : i + 40])]
            judged += batcher.drain()
            batcher.close()
            single.close()
            batcher.harness.close()
        finally:
            target.stop()
    together = {id(j.case): j.verdict.observation.answer.value for j in judged}
    assert together == alone
    assert len(set(together.values())) > 1  # both refused and answered examples were there


@pytest.mark.parametrize("version", [ProtocolVersion.V311, V5], ids=lambda v: v.name)
def test_pools_are_valid_sorted_and_cover_every_client_packet(version: ProtocolVersion) -> None:
    pool = pools(version)
    sizes = [len(pool.raw(p)) for p in pool.client]
    assert sizes == sorted(sizes)
    for packet in (*pool.client, *pool.connects):
        raw = encode(packet, version)
        assert pool.raw(packet) == raw and decode(raw, version) == (packet, len(raw))
    types = {p.type for p in pool.client}
    assert types == set(CLIENT_PACKET_TYPES[version]) - {PacketType.CONNECT}
    assert pool.qos0 and pool.with_id and pool.long and pool.not_publish


def test_progress_writes_whole_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(100, out, interval=0.0)
    stats = FuzzStats()
    stats.examples["5.0"] = 40
    progress.update(stats)
    progress.update(stats, force=True)
    text = out.getvalue()
    assert "\r" not in text and text.count("\n") == 2
    assert text.startswith("fuzz: 40/100 examples")


def test_rows_pass_whatever_the_count_ends_with() -> None:
    """A count like 4990 once read as "0 examples" (no example ran) and became an error."""
    from mqttsec.fuzz.cli import result_rows

    stats = FuzzStats()
    stats.examples["3.1.1"], stats.examples["5.0"] = 4990, 0
    stats.seconds = 1.0
    outcomes = {(r.scenario, r.mqtt_version): r.outcome.value for r in result_rows(stats, "x", 1)}
    assert outcomes[("FUZZ-MALFORMED-SURVIVES", "3.1.1")] == "pass"
    assert outcomes[("FUZZ-MALFORMED-SURVIVES", "5.0")] == "error"  # nothing ran there
