"""Usage errors and unreachable targets: exit 2, one line naming the fix, never a hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from audit_support import RunAudit

from mqttsec.audit.findings import Finding, Severity, exit_code
from mqttsec.audit.probe import _as_v31
from mqttsec.audit.target import parse_url
from mqttsec.cli import main as cli_main
from mqttsec.errors import ConfigError
from mqttsec.reference_broker.protocol import Connect, ProtocolVersion, encode


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", (False, "127.0.0.1", 1883)),
        ("mqtts://broker.example", (True, "broker.example", 8883)),
        ("MQTTS://[::1]:8884", (True, "::1", 8884)),
    ],
)
def test_parse_url(url: str, expected: tuple[bool, str, int]) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://h:1", "mqtt://", "mqtt://h:99999", "mqtt://u:p@h:1", "mqtt://h:1/x", "h:1"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_url(url)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:1"], "use mqtt://HOST:PORT"),
        (["mqtt://127.0.0.1:1", "--password-env", "X"], "--password-env needs --username"),
        (
            ["mqtt://127.0.0.1:1", "--username", "u", "--password-env", "MQTTSEC_UNSET_XYZ"],
            "MQTTSEC_UNSET_XYZ: the variable is not set",
        ),
        (["mqtt://127.0.0.1:1", "--cafile", "/nonexistent.pem"], "no such file"),
        (["mqtt://127.0.0.1:1", "--timeout", "0"], "positive number"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["audit", *args]) == 2
    assert message in capsys.readouterr().err


def test_unreachable_host_exits_2_at_once(run_audit: RunAudit) -> None:
    started = time.monotonic()
    run = run_audit(f"mqtt://127.0.0.1:{_closed_port()}")
    assert run.code == 2
    assert "cannot reach 127.0.0.1" in run.err
    assert time.monotonic() - started < 2
    assert run.doc == {}  # nothing written for an audit that could not run


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says anything (not MQTT)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(5)
    server.close()
    for conn in held:
        conn.close()


def test_port_without_mqtt_exits_2_within_the_timeouts(
    run_audit: RunAudit, silent_port: int
) -> None:
    started = time.monotonic()
    run = run_audit(f"mqtt://127.0.0.1:{silent_port}", "--timeout", "0.3")
    elapsed = time.monotonic() - started
    assert run.code == 2
    assert "no MQTT answer" in run.err
    assert elapsed < 3, f"took {elapsed:.1f}s: three CONNECTs of at most 0.3s each"


def test_exit_code_gates_on_high_and_critical_only() -> None:
    def issue(severity: Severity) -> Finding:
        return Finding.issue("X", severity, "t", "e", "f")

    assert exit_code([issue(Severity.MEDIUM), issue(Severity.LOW), issue(Severity.INFO)]) == 0
    assert exit_code([issue(Severity.HIGH)]) == 1
    assert exit_code([issue(Severity.CRITICAL)]) == 1
    assert exit_code([Finding.not_tested("X", "t", "why")]) == 0


def test_mqtt_31_connect_is_the_311_one_with_the_old_name_and_level() -> None:
    v311 = encode(
        Connect(client_id="abc", protocol_version=ProtocolVersion.V311), ProtocolVersion.V311
    )
    v31 = _as_v31(v311)
    assert v31 == b"\x10\x11\x00\x06MQIsdp\x03" + v311[9:]
    assert len(v31) == len(v311) + 2


def test_a_broken_probe_is_an_error_row_and_the_audit_goes_on(
    run_audit: RunAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mqttsec.audit import takeover
    from mqttsec.reference_broker import BackgroundBroker, BrokerConfig

    def broken(*args: object) -> None:
        raise RuntimeError("probe bug")

    monkeypatch.setattr(takeover, "probe_takeover", broken)
    with BackgroundBroker(BrokerConfig(port=0, allow_anonymous=True)) as broker:
        run = run_audit(f"mqtt://127.0.0.1:{broker.port}", "--large-publish", "0")
    row = run.row("CLIENT-ID-TAKEOVER")
    assert (row["outcome"], row["evidence"]) == ("error", "RuntimeError: probe bug")
    assert run.row("LIMIT-MAX-PACKET-SIZE")["outcome"] == "pass"  # later probes still ran
    assert "probe errors: CLIENT-ID-TAKEOVER" in run.out
