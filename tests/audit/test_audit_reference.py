"""``mqttsec audit`` against the reference broker, in-process, in differently secured setups.

Each setup is a real posture a deployment can have: wide open, locked down (TLS 1.2+, no
anonymous, password file and ACL), a default account left in, a broker that throttles
guessing, a packet-size limit. The audit must tell them apart, with the exit code as the gate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from audit_support import RunAudit, password_file

from mqttsec.fixtures.pki import PkiFiles, TestPKI
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker, BrokerConfig
from mqttsec.reference_broker.config import ListenerConfig
from mqttsec.reference_broker.security.tls import TlsSettings
from mqttsec.reports.results import SCHEMA

STRONG = "v3ry-l0ng-and-rand0m-Passw0rd"


def test_open_anonymous_broker_has_high_findings_and_exits_1(run_audit: RunAudit) -> None:
    with BackgroundBroker(BrokerConfig(port=0, allow_anonymous=True)) as broker:
        port = broker.port
        with RawClient.plain("127.0.0.1", port) as other:  # what a reader of '#' can see
            other.connect("door-sensor")
            other.publish("site/door/code", b"4711", qos=1, retain=True)
        started = time.monotonic()
        run = run_audit(f"mqtt://127.0.0.1:{port}")
        elapsed = time.monotonic() - started
    assert run.code == 1, run.out
    issues = run.issues()
    assert issues["AUTH-ANONYMOUS"] == "high"
    assert issues["TOPIC-WILDCARD"] == "high"  # anonymous reads everything, sentinel proved it
    wildcard = run.row("TOPIC-WILDCARD")["evidence"]
    assert "came back through '#'" in wildcard
    assert "1 other message(s) on 1 topic(s)" in wildcard and "site/door/code" in wildcard
    assert issues["CLIENT-ID-TAKEOVER"] == "medium"
    assert "DISCONNECT 0x8e" in run.row("CLIENT-ID-TAKEOVER")["evidence"]
    assert issues["AUTH-ANY-PASSWORD"] == "medium"
    assert issues["TRANSPORT-PLAINTEXT"] == "low"  # loopback: traffic stays on the machine
    assert run.row("MQTT-VERSIONS")["title"] == "Speaks MQTT 3.1.1, 5.0"
    assert run.row("LIMIT-MAX-PACKET-SIZE")["evidence"].endswith("16777216 bytes")
    assert issues["LIMIT-LARGE-PUBLISH"] == "low"  # 4 MiB under its 16 MiB limit
    # the envelope every mqttsec results file shares
    doc = run.doc
    assert doc["schema"] == SCHEMA and doc["kind"] == "audit"
    assert doc["target"]["port"] == port and doc["target"]["tls"] is False
    assert doc["identity"] == "anonymous"
    assert doc["exit_code"] == 1
    assert doc["severities"]["high"] == 2
    assert doc["summary"]["total"] == len(doc["results"])
    assert "exit 1: a high or critical finding" in run.out
    assert elapsed < 5, f"the audit of an open loopback broker took {elapsed:.1f}s"


def _locked_down(tmp_path: Path, files: PkiFiles) -> BrokerConfig:
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic readwrite alice/#\n")
    server = files.pair("server")
    tls = TlsSettings(str(server.certfile), str(server.keyfile), tls_version="tlsv1.2")
    return BrokerConfig(
        allow_anonymous=False,
        password_file=password_file(tmp_path, {"alice": STRONG}),
        acl_file=str(acl),
        listeners=(ListenerConfig("tls", port=0, tls=tls),),
    )


def test_locked_down_broker_has_no_high_finding_and_exits_0(
    run_audit: RunAudit,
    tmp_path: Path,
    pki_files: tuple[TestPKI, PkiFiles],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, files = pki_files
    monkeypatch.setenv("AUDIT_TEST_PASSWORD", STRONG)
    with BackgroundBroker(_locked_down(tmp_path, files)) as broker:
        started = time.monotonic()
        run = run_audit(
            f"mqtts://127.0.0.1:{broker.ports['tls']}",
            "--cafile",
            str(files.cafile),
            "--username",
            "alice",
            "--password-env",
            "AUDIT_TEST_PASSWORD",
        )
        elapsed = time.monotonic() - started
    assert run.code == 0, run.out
    assert not {i: s for i, s in run.issues().items() if s in ("high", "critical")}
    for passed in (
        "TLS-CERT-VERIFY",
        "TLS-LEGACY-VERSIONS",
        "AUTH-ANONYMOUS",
        "AUTH-GIVEN-CREDENTIALS",
        "AUTH-WEAK-CREDENTIALS",
    ):
        assert run.row(passed)["outcome"] == "pass", run.row(passed)
    assert "TLS 1.0: refused" in run.row("TLS-VERSIONS")["evidence"]
    assert run.row("TLS-VERSIONS")["title"] == "TLS 1.2 and 1.3 accepted"
    # the inside checks ran as the given user, whose ACL keeps '#' empty
    assert run.doc["identity"] == "user 'alice' (--username)"
    assert run.doc["tls_verified"] is True
    assert run.row("TOPIC-WILDCARD")["outcome"] != "fail"
    assert run.row("CLIENT-ID-TAKEOVER")["severity"] == "info"
    assert STRONG not in run.out and STRONG not in str(run.doc)  # the password never shows
    assert elapsed < 8, f"the audit of a locked-down loopback broker took {elapsed:.1f}s"


def test_default_credentials_are_found_and_gate(run_audit: RunAudit, tmp_path: Path) -> None:
    users = {"alice": STRONG, "admin": "admin"}
    config = BrokerConfig(port=0, password_file=password_file(tmp_path, users))
    with BackgroundBroker(config) as broker:
        run = run_audit(f"mqtt://127.0.0.1:{broker.port}")
    assert run.code == 1, run.out
    row = run.row("AUTH-WEAK-CREDENTIALS")
    assert (row["severity"], row["outcome"]) == ("critical", "fail")
    assert row["title"] == "Default credentials accepted: admin/admin"
    assert run.row("AUTH-ANONYMOUS")["outcome"] == "pass"
    assert "AUTH-ANY-PASSWORD" not in run.issues()  # a random login was refused
    assert run.row("AUTH-THROTTLING")["title"] == "No login throttling seen in 8 failed logins"
    assert run.doc["identity"] == "default credential admin/admin"
    assert run.issues()["TOPIC-WILDCARD"] == "high"  # no ACL: the guessed account reads all


def test_guessing_stops_when_the_broker_throttles(run_audit: RunAudit, tmp_path: Path) -> None:
    config = BrokerConfig(
        port=0,
        password_file=password_file(tmp_path, {"alice": STRONG}),
        login_throttle_attempts=3,
    )
    with BackgroundBroker(config) as broker:
        run = run_audit(f"mqtt://127.0.0.1:{broker.port}")
    throttle = run.row("AUTH-THROTTLING")
    assert throttle["outcome"] == "pass" and "0x9f" in throttle["evidence"], throttle
    weak = run.row("AUTH-WEAK-CREDENTIALS")
    assert weak["outcome"] == "unsupported", weak  # not all tried: not reported as a pass
    assert "stopped after 3 of 8 tries" in weak["evidence"]


def test_nobody_logs_in_so_inside_checks_are_not_tested(
    run_audit: RunAudit, tmp_path: Path
) -> None:
    config = BrokerConfig(port=0, password_file=password_file(tmp_path, {"alice": STRONG}))
    with BackgroundBroker(config) as broker:
        run = run_audit(f"mqtt://127.0.0.1:{broker.port}")
    assert run.code == 0, run.out
    for row_id in ("TOPIC-WILDCARD", "TOPIC-SYS", "CLIENT-ID-TAKEOVER", "LIMIT-LARGE-PUBLISH"):
        assert run.row(row_id)["outcome"] == "unsupported"
    assert "not tested: TOPIC-WILDCARD" in run.out
    assert run.doc["identity"] == ""


def test_packet_size_limit_holds(run_audit: RunAudit) -> None:
    config = BrokerConfig(port=0, allow_anonymous=True, max_packet_size=1024 * 1024)
    with BackgroundBroker(config) as broker:
        run = run_audit(f"mqtt://127.0.0.1:{broker.port}", "--skip", "credentials")
    assert run.row("LIMIT-MAX-PACKET-SIZE")["title"] == "Maximum Packet Size 1 MiB advertised"
    large = run.row("LIMIT-LARGE-PUBLISH")
    assert large["outcome"] == "pass", large
    assert "0x95" in large["evidence"] or "closed" in large["evidence"]
    assert not any(r["id"].startswith("AUTH-W") for r in run.doc["results"])  # skipped group


def test_plain_listener_next_to_tls_is_found(
    run_audit: RunAudit, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    server = files.pair("server")
    tls = TlsSettings(str(server.certfile), str(server.keyfile))
    config = BrokerConfig(
        allow_anonymous=True,
        listeners=(ListenerConfig("tls", port=0, tls=tls), ListenerConfig("plain", port=0)),
    )
    with BackgroundBroker(config) as broker:
        ports = broker.ports
        url = f"mqtts://localhost:{ports['tls']}"
        run = run_audit(
            url,
            "--cafile",
            str(files.cafile),
            "--plain-port",
            str(ports["plain"]),
            "--skip",
            "credentials",
            "--large-publish",
            "0",
        )
    row = run.row("TRANSPORT-PLAINTEXT")
    assert (row["outcome"], row["severity"]) == ("fail", "low"), row
    assert f"port {ports['plain']}" in row["title"]
    assert run.row("TLS-CERT-VERIFY")["outcome"] == "pass"
    assert run.row("LIMIT-LARGE-PUBLISH")["outcome"] == "unsupported"


def test_report_dir_and_json_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mqttsec.cli import main

    config = BrokerConfig(port=0, allow_anonymous=True)
    with BackgroundBroker(config) as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        options = ["--timeout", "2", "--listen", "0", "--large-publish", "0"]
        code = main(["audit", url, *options, "--report-dir", str(tmp_path), "--json", "-"])
    captured = capsys.readouterr()
    assert code == 1
    on_stdout = json.loads(captured.out)  # only the JSON goes to stdout
    assert "AUTH-ANONYMOUS" in captured.err  # the table goes to stderr then
    in_dir = json.loads((tmp_path / "results.json").read_text())
    assert on_stdout["results"] == in_dir["results"]
    assert on_stdout["kind"] == "audit"


def test_unverifiable_certificate_is_high_and_the_audit_goes_on(
    run_audit: RunAudit, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    wrong = files.pair("bad-server-wrong-host")
    tls = TlsSettings(str(wrong.certfile), str(wrong.keyfile))
    config = BrokerConfig(allow_anonymous=True, listeners=(ListenerConfig("tls", port=0, tls=tls),))
    with BackgroundBroker(config) as broker:
        url = f"mqtts://localhost:{broker.ports['tls']}"
        run = run_audit(url, "--cafile", str(files.cafile), "--skip", "credentials")
    assert run.code == 1
    verify = run.row("TLS-CERT-VERIFY")
    assert (verify["severity"], verify["outcome"]) == ("high", "fail")
    assert verify["title"] == "Server certificate does not verify (not issued for localhost)"
    assert run.doc["tls_verified"] is False
    assert run.issues()["AUTH-ANONYMOUS"] == "high"  # probed over the unverified connection
