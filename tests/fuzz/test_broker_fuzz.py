"""The broker harness and ``mqttsec fuzz``/``mqttsec replay``: fixed-seed smoke runs against
the reference broker and mosquitto, and the harness's judgement on brokers that misbehave."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.fuzz import Malformed
from mqttsec.fuzz.cli import main as fuzz_main
from mqttsec.fuzz.harness import Answer, BrokerDown, BrokerHarness, Login
from mqttsec.fuzz.replay import main as replay_main
from mqttsec.fuzz.reproducer import ClientBytes, Reproducer, load_reproducer
from mqttsec.fuzz.wire import PINGREQ
from mqttsec.reference_broker.protocol import ProtocolVersion

V5 = ProtocolVersion.V5
OVERLONG_PUBACK = bytes.fromhex("4083000002")  # remaining length 2 written in two bytes


class AnswerEverything:
    """A fake broker: accepts one connection at a time and answers any bytes with CONNACK and
    PINGRESP, as a broker that parses nothing would."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"\x20\x03\x00\x00\x00" + b"\xd0\x00")
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def fake() -> Iterator[AnswerEverything]:
    server = AnswerEverything()
    yield server
    server.close()


def test_answer_to_malformed_input_is_a_deviation(fake: AnswerEverything) -> None:
    harness = BrokerHarness("127.0.0.1", fake.port, Login("u", "p"), answer_timeout=2)
    case = Malformed("vbi:overlong", V5, OVERLONG_PUBACK)
    stream = harness.stream(case)
    seen = harness.exchange(stream, V5)
    assert seen.answer is Answer.ANSWERED
    verdict = harness.judge(case, stream, seen)
    assert verdict.kind == "deviation"
    assert "shortest form" in verdict.detail


def test_answer_to_valid_input_is_fine(fake: AnswerEverything) -> None:
    harness = BrokerHarness("127.0.0.1", fake.port, Login("u", "p"), answer_timeout=2)
    case = Malformed("valid:packets", V5, b"\xc0\x00")
    stream = harness.stream(case)
    assert harness.judge(case, stream, harness.exchange(stream, V5)).kind == "ok"


def test_a_dead_broker_is_broker_down() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    harness = BrokerHarness("127.0.0.1", port, Login("u", "p"), survive_timeout=1)
    with pytest.raises(BrokerDown, match="no longer serves|cannot connect"):
        harness.survives()


def _smoke(target: str, tmp_path: Path, examples: int) -> dict[str, object]:
    code = fuzz_main(
        ["--target", target, "--examples", str(examples), "--seed", "7", "--max-time", "15",
         "--report-dir", str(tmp_path), "--quiet", "--answer-timeout", "1.0", "--acl-examples", "2"]
    )  # fmt: skip
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["schema"] == "mqttsec.results/1" and document["kind"] == "scenarios"
    rows = {(r["scenario"], r["mqtt_version"]): r for r in document["results"]}
    assert set(rows) == {
        (s, v)
        for s in ("FUZZ-MALFORMED-SURVIVES", "FUZZ-MALFORMED-ANSWER", "FUZZ-ACL-STATEFUL")
        for v in ("3.1.1", "5.0")
    }
    assert all(r["outcome"] != "fail" for r in rows.values()), rows
    return {"code": code, "rows": rows}


def test_fuzz_smoke_reference(tmp_path: Path) -> None:
    """Fixed seed against the reference broker: no failure and no deviation."""
    result = _smoke("reference", tmp_path, 500)
    assert result["code"] == 0, result["rows"]


@pytest.mark.mosquitto
def test_fuzz_smoke_mosquitto(tmp_path: Path) -> None:
    """Fixed seed against mosquitto: it survives (its deviations are reported, not failed)."""
    _smoke("local:mosquitto", tmp_path, 500)


def test_replay_reproduces_a_deviation_only_where_it_exists(
    tmp_path: Path, fake: AnswerEverything
) -> None:
    rep = Reproducer(
        "FUZZ-MALFORMED-ANSWER", "deviation", "vbi:overlong", "5.0", "reference", "x",
        (ClientBytes("fuzz", b"", True),),
    )  # fmt: skip
    harness = BrokerHarness("127.0.0.1", 1, Login("admin", "admin-Pw-4711"))
    case = Malformed("vbi:overlong", V5, OVERLONG_PUBACK)
    rep = Reproducer(
        rep.scenario, rep.outcome, rep.label, rep.mqtt_version, rep.target, rep.detail,
        (ClientBytes("fuzz", harness.stream(case), True),),
    )  # fmt: skip
    path = rep.save(tmp_path)
    assert load_reproducer(path) == rep
    assert json.loads(path.read_text())["replay"] == f"mqttsec replay {path} --target reference"
    assert harness.stream(case).endswith(OVERLONG_PUBACK + PINGREQ)
    assert replay_main([str(path), "--target", "reference"]) == 0  # the reference refuses it
