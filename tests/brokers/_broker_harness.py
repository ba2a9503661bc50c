"""Start, probe and stop a private broker process: the parts every local broker shares.

Guarantees: the broker runs in its own process group (so its children, e.g. an Erlang
``beam.smp`` behind a shell wrapper, are stopped with it), only loopback ports are used, every
wait is bounded in time, and a start-up failure raises with the tail of the broker's own log.
This is groundwork for ``fixtures/targets/``; see docs/brokers.md for the per-broker recipes.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrokerProcess", "connack_code", "free_port", "start_process", "wait_ready"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it; tiny race accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _connect_packet(
    client_id: str, username: str | None, password: str | None, version: int = 4
) -> bytes:
    """A minimal MQTT CONNECT (3.1.1 when version=4, 5.0 when 5), clean session, keepalive 30."""

    def utf8(text: str) -> bytes:
        raw = text.encode()
        return len(raw).to_bytes(2, "big") + raw

    flags = 0x02
    payload = utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
    if password is not None:
        flags |= 0x40
        payload += utf8(password)
    variable = utf8("MQTT") + bytes([version, flags]) + (30).to_bytes(2, "big")
    if version == 5:
        variable += b"\x00"  # no CONNECT properties
    body = variable + payload
    length = len(body)
    encoded = bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x10]) + bytes(encoded) + body


def connack_code(
    port: int,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    version: int = 4,
    timeout: float = 5.0,
) -> int | None:
    """Send one CONNECT and return the CONNACK return/reason code.

    Returns None when the broker closed the connection without a CONNACK (some brokers answer
    a refused login that way). Raises OSError when nothing listens or TLS fails.
    """
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as raw:
        sock: socket.socket = (
            tls.wrap_socket(raw, server_hostname="localhost") if tls is not None else raw
        )
        try:
            sock.sendall(_connect_packet(f"probe-{os.getpid()}", username, password, version))
            data = b""
            deadline = time.monotonic() + timeout
            while len(data) < 4 and time.monotonic() < deadline:
                chunk = sock.recv(16)
                if not chunk:
                    break
                data += chunk
            if len(data) < 4 or data[0] != 0x20:
                return None
            return data[3]
        finally:
            if sock is not raw:
                sock.close()


@dataclass
class BrokerProcess:
    """A started broker: its process (group leader), ports, work dir and log files."""

    name: str
    process: subprocess.Popen[bytes]
    workdir: Path
    ports: dict[str, int]
    logs: list[Path] = field(default_factory=list)
    companions: list[BrokerProcess] = field(default_factory=list)
    started_s: float = 0.0

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of every log file the broker writes (for start-up failure messages)."""
        parts = []
        for log in self.logs:
            if log.is_file():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {log}\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process group, wait, SIGKILL what is left; then the companions (epmd)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:  # children of the group (e.g. beam.smp behind a shell wrapper) that outlived it
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=5)
        for companion in self.companions:
            companion.stop(timeout)


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    workdir: Path,
    ports: dict[str, int],
    env: Mapping[str, str] | None = None,
    logs: Sequence[Path] = (),
) -> BrokerProcess:
    """Start ``argv`` in a new session (own process group), stdout+stderr to workdir/console.log."""
    console = workdir / "console.log"
    with console.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return BrokerProcess(name, process, workdir, ports, [console, *logs])


def wait_ready(
    broker: BrokerProcess,
    port: int,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> float:
    """Poll ``port`` with CONNECT until any CONNACK (or a clean close) comes back.

    With ``login`` (user, password) only CONNACK 0 for that user counts: RabbitMQ opens its
    MQTT listener *before* it has loaded the users from its definitions file, so an early
    CONNACK (or a dropped connection) does not mean the profile is in force yet.

    Returns the seconds it took. Raises RuntimeError with the broker's log when the process dies
    or ``timeout`` passes; the broker is stopped first in both cases.
    """
    start = time.monotonic()
    delay = 0.05
    while True:
        if broker.process.poll() is not None:
            broker.stop()
            raise RuntimeError(
                f"{broker.name} exited with {broker.process.returncode} during start-up\n"
                + broker.log_tail()
            )
        try:
            if login is None:
                connack_code(port, tls=tls, timeout=2.0)
                ready = True
            else:
                code = connack_code(
                    port, username=login[0], password=login[1], tls=tls, timeout=2.0
                )
                ready = code == 0
            if ready:
                broker.started_s = time.monotonic() - start
                return broker.started_s
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() - start > timeout:
            broker.stop()
            raise RuntimeError(
                f"{broker.name} not ready on 127.0.0.1:{port} after {timeout}s\n"
                + broker.log_tail()
            )
        time.sleep(delay)  # polling interval of a bounded readiness loop, not a fixed wait
        delay = min(delay * 1.5, 0.5)
