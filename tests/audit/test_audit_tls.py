"""The TLS probes against bare TLS servers whose versions and certificates the test chooses.

The reference broker never offers TLS 1.0 nor serves a broken certificate, so these servers
do: each check is shown to fire on the bad setup and to stay quiet on the good one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from audit_support import MakeTlsServer, TlsServer

from mqttsec.audit.findings import Finding
from mqttsec.audit.target import AuditTarget
from mqttsec.audit.tls import probe_tls, tls_findings
from mqttsec.fixtures.pki import PkiFiles, TestPKI


def _audit(server: TlsServer, cafile: Path | None, host: str = "127.0.0.1") -> dict[str, Finding]:
    target = AuditTarget.from_url(f"mqtts://{host}:{server.port}", cafile=cafile, timeout=2.0)
    rows = tls_findings(target, probe_tls(target))
    by_id = {row.id: row for row in rows}
    assert len(by_id) == len(rows), "one row per TLS question"
    return by_id


def test_good_server_passes_every_tls_check(
    tls_server: MakeTlsServer, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    server = tls_server(*files.pair("server"))
    rows = _audit(server, files.cafile)
    assert {r.id: r.outcome.value for r in rows.values()} == {
        "TLS-CERT-VERIFY": "pass",
        "TLS-CERT-EXPIRY": "pass",
        "TLS-CERT-KEY": "pass",
        "TLS-LEGACY-VERSIONS": "pass",
        "TLS-VERSIONS": "pass",
    }
    assert server.handshakes >= 3  # verify, fetch, TLS 1.2 and 1.3 (1.0/1.1 refused)


def test_legacy_tls_versions_are_a_medium_finding(
    tls_server: MakeTlsServer, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    server = tls_server(*files.pair("server"), minimum="1.0")
    row = _audit(server, files.cafile)["TLS-LEGACY-VERSIONS"]
    assert (row.outcome.value, row.severity.value) == ("fail", "medium"), row
    assert row.title == "Deprecated TLS 1.0 and 1.1 accepted"
    assert "TLS 1.0: accepted" in row.evidence


@pytest.mark.parametrize(
    ("item", "reason", "evidence"),
    [
        ("bad-server-expired", "expired on", "certificate has expired"),
        ("bad-server-not-yet-valid", "not valid before", "not yet valid"),
        ("bad-server-wrong-host", "not issued for 127.0.0.1", "IP address mismatch"),
    ],
)
def test_certificate_that_does_not_verify_is_high(
    tls_server: MakeTlsServer,
    pki_files: tuple[TestPKI, PkiFiles],
    item: str,
    reason: str,
    evidence: str,
) -> None:
    _, files = pki_files
    row = _audit(tls_server(*files.pair(item)), files.cafile)["TLS-CERT-VERIFY"]
    assert (row.outcome.value, row.severity.value) == ("fail", "high"), row
    assert reason in row.title
    assert evidence in row.evidence


def test_self_signed_certificate_is_named(tls_server: MakeTlsServer, tmp_path: Path) -> None:
    ca = trustme.CA()  # a CA certificate is self-signed: serve it as the server's own
    cert, key = tmp_path / "self.crt", tmp_path / "self.key"
    ca.cert_pem.write_to_path(str(cert))
    ca.private_key_pem.write_to_path(str(key))
    row = _audit(tls_server(cert, key), None)["TLS-CERT-VERIFY"]
    assert (row.outcome.value, row.severity.value) == ("fail", "high")
    assert "self-signed" in row.title
    assert "system trust store" in row.evidence


def test_unknown_issuer_without_cafile(
    tls_server: MakeTlsServer, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    row = _audit(tls_server(*files.pair("server")), None)["TLS-CERT-VERIFY"]
    assert row.outcome.value == "fail"
    assert row.title == "Server certificate does not verify (issuer not trusted)"
    assert "unable to get local issuer certificate" in row.evidence


def test_weak_server_key_is_medium(
    tls_server: MakeTlsServer, pki_files: tuple[TestPKI, PkiFiles]
) -> None:
    _, files = pki_files
    rows = _audit(tls_server(*files.pair("bad-server-weak-rsa1024")), files.cafile)
    assert (rows["TLS-CERT-KEY"].severity.value, rows["TLS-CERT-KEY"].title) == (
        "medium",
        "Weak server key (RSA-1024)",
    )
    assert rows["TLS-CERT-VERIFY"].outcome.value == "fail"  # OpenSSL's level 2 refuses it
