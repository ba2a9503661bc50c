"""Helpers of the audit tests: the result of one run, password files, a bare TLS server."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqttsec.reference_broker.security.passwords import PasswordFile

__all__ = ["AuditRun", "MakeTlsServer", "RunAudit", "TlsServer", "password_file"]


def password_file(directory: Path, users: dict[str, str]) -> str:
    """A mosquitto-format password file with *users* (cheap hashing: tests only)."""
    passwords = PasswordFile()
    for name, password in users.items():
        passwords.set_password(name, password, iterations=1000)
    path = directory / "passwd"
    passwords.save(path)
    return str(path)


class TlsServer:
    """A bare TLS server: accepts, shakes hands with its context, closes. No MQTT.

    For probing TLS behaviour the reference broker refuses to have (TLS 1.0, expired or
    self-signed certificates).
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2.0)
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    self.handshakes += 1
            except (ssl.SSLError, OSError):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.sock.close()


MakeTlsServer = Callable[..., TlsServer]


@dataclass
class AuditRun:
    """One ``mqttsec audit`` run: exit code, the table printed and the JSON document."""

    code: int
    out: str
    err: str
    doc: dict[str, Any]

    def row(self, check_id: str) -> dict[str, Any]:
        """The result row with *check_id* (fails the test when missing)."""
        rows = [r for r in self.doc["results"] if r["id"] == check_id]
        assert rows, f"no {check_id} row in {[r['id'] for r in self.doc['results']]}"
        assert len(rows) == 1, f"{check_id} appears {len(rows)} times"
        return rows[0]

    def issues(self) -> dict[str, str]:
        """id -> severity of every weakness (outcome fail)."""
        return {r["id"]: r["severity"] for r in self.doc["results"] if r["outcome"] == "fail"}


RunAudit = Callable[..., AuditRun]
