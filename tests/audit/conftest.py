"""Fixtures for the audit's tests: a test PKI on disk, password/ACL files, an audit runner, and
a bare TLS server whose versions and certificate a test chooses.

Everything listens on 127.0.0.1 only, on free ports. Every server thread here is stopped and
joined at teardown; every wait is bounded.
"""

from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import AuditRun, MakeTlsServer, RunAudit, TlsServer

from mqttsec.audit.command import main
from mqttsec.fixtures.pki import PkiFiles, TestPKI

FAST = ["--timeout", "2", "--listen", "0.2", "--plain-port", "0"]
"""Options every loopback audit in these tests uses: short waits, no port-1883 look-up (other
brokers on this machine may use 1883)."""


@pytest.fixture
def run_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> RunAudit:
    """``run_audit(url, *options)``: run the command in-process with :data:`FAST` options and
    return an :class:`AuditRun` (the JSON read back from ``--json``)."""

    def run(url: str, *options: str, fast: bool = True) -> AuditRun:
        out_file = tmp_path / f"audit-{len(list(tmp_path.iterdir()))}.json"
        code = main([url, *(FAST if fast else []), *options, "--json", str(out_file)])
        captured = capsys.readouterr()
        doc = json.loads(out_file.read_text()) if out_file.exists() else {}
        return AuditRun(code, captured.out, captured.err, doc)

    return run


@pytest.fixture(scope="session")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestPKI, PkiFiles]:
    """The test PKI written to disk once per session (server cert for localhost/127.0.0.1)."""
    pki = TestPKI.create()
    return pki, pki.write(tmp_path_factory.mktemp("audit-pki"))


@pytest.fixture
def tls_server() -> Iterator[MakeTlsServer]:
    """``tls_server(certfile, keyfile, minimum="1.2")``: start a :class:`TlsServer`."""
    servers: list[TlsServer] = []
    versions = {
        "1.0": ssl.TLSVersion.TLSv1,
        "1.2": ssl.TLSVersion.TLSv1_2,
        "1.3": ssl.TLSVersion.TLSv1_3,
    }

    def start(certfile: Path | str, keyfile: Path | str, minimum: str = "1.2") -> TlsServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = versions[minimum]
        context.set_ciphers("ALL:@SECLEVEL=0")  # also serve weak keys and legacy versions
        context.load_cert_chain(str(certfile), str(keyfile))
        server = TlsServer(context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
