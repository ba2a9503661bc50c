"""A one-connection TLS server on 127.0.0.1 that answers CONNECT with CONNACK 0 (for real clients).

Only for checking what real TLS clients do against our server context before the broker is
wired; it records the handshake outcome and the first MQTT bytes. Every wait is bounded, and
a failure in the server thread is handed back to the test by :meth:`OneShotTlsServer.result`.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from mqttsec.reference_broker.security.identity import (
    ClientCertificate,
    certificate_from_ssl_object,
)

WAIT = 5.0


@dataclass
class Outcome:
    error: Exception | None = None
    certificate: ClientCertificate | None = None
    first_bytes: bytes = b""


class OneShotTlsServer:
    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(WAIT)
        self.port: int = self._listener.getsockname()[1]
        self._outcome = Outcome()
        self._crash: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._thread.join(WAIT)
        self._listener.close()

    def _serve(self) -> None:
        try:
            raw, _ = self._listener.accept()
            raw.settimeout(WAIT)
            try:
                with self._context.wrap_socket(raw, server_side=True) as conn:
                    self._outcome.certificate = certificate_from_ssl_object(conn)
                    data = conn.recv(4096)
                    self._outcome.first_bytes = data
                    if data[:1] == b"\x10":
                        conn.sendall(b"\x20\x02\x00\x00")
                        while conn.recv(4096):  # until the client disconnects
                            pass
            except (ssl.SSLError, OSError) as exc:
                self._outcome.error = exc
            finally:
                raw.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            self._crash = exc

    def result(self) -> Outcome:
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "TLS test server still running"
        if self._crash is not None:
            raise self._crash
        return self._outcome


def run_mosquitto_pub(
    binary: Path, port: int, cafile: str, certfile: str | None, keyfile: str | None
) -> subprocess.CompletedProcess[str]:
    args = [
        str(binary),
        "-h",
        "localhost",
        "-p",
        str(port),
        "--cafile",
        cafile,
        "-t",
        "t",
        "-m",
        "x",
    ]
    args += ["-i", "tls-probe", "-q", "0"]
    if certfile and keyfile:
        args += ["--cert", certfile, "--key", keyfile]
    return subprocess.run(args, capture_output=True, text=True, timeout=WAIT * 2, check=False)
