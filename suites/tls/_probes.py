"""Probes of a TLS listener that Python's ``ssl`` module cannot make: hand-built hellos
(with a control that proves the server understands them), a client-initiated
renegotiation (through the ``openssl s_client`` tool), and how long a silent client is
kept.

Each returns what the server did; the scenarios judge it.
"""

from __future__ import annotations

import ipaddress
import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Endpoint

from ._hello import CONTROL_SUITES, TLS12, Answer, AnswerKind, ask, client_hello

__all__ = ["hello_answer", "idle_close_times", "renegotiation", "sni"]

_CONTROL_RETRIES = 2
"""Extra tries, with a longer wait, for a control hello that met silence."""

_CONTROLLED: set[tuple[str, int]] = set()
"""Listeners whose control hello got a ServerHello in this process."""


def sni(where: Endpoint) -> str | None:
    """The SNI name a client dialling *where* sends: none for an IP address (RFC 6066)."""
    try:
        ipaddress.ip_address(where.host)
    except ValueError:
        return where.host
    return None


def hello_answer(where: Endpoint, profile: SecurityProfile, listener: str, hello: bytes) -> Answer:
    """The server's answer to *hello* on *listener*, after a control hello (TLS 1.2, modern
    suites, built the same way) got a ServerHello there.

    A listener the profile keeps to TLS 1.3 is not controlled: it refuses every hello this
    module builds, which is the right answer to each of them.

    Raises:
        RuntimeError: the control hello was refused on a TLS 1.2 listener, so a refusal of
            *hello* would prove nothing (a harness error, not a pass).
    """
    key = (where.host, where.port)
    if key not in _CONTROLLED and "tlsv1.2" in profile.listener(listener).tls_versions:
        control = ask(where, client_hello(TLS12, CONTROL_SUITES, server_name=sni(where)))
        for _ in range(_CONTROL_RETRIES):
            if control.agreed or control.kind is not AnswerKind.SILENT:
                break
            # Silent, not refused: a busy single-threaded broker (amqtt under load) can
            # miss the 5 s; ask again with more time before calling it a harness error.
            control = ask(
                where, client_hello(TLS12, CONTROL_SUITES, server_name=sni(where)), timeout=15.0
            )
        if not control.agreed:
            raise RuntimeError(
                f"{listener!r} ({where.url}) refused the control hello ({control}); its "
                "refusal of a weak hello would prove nothing"
            )
        _CONTROLLED.add(key)
    return ask(where, hello)


def renegotiation(
    where: Endpoint, certificate: tuple[Path, Path] | None, *, timeout: float = 10.0
) -> str | None:
    """Ask for a client-initiated TLS 1.2 renegotiation with ``openssl s_client``.

    The tool's ``R`` command starts it once the first handshake is done; its ``-msg`` trace
    shows a second ServerHello when the server goes along.

    Returns:
        None when the server refused (alert, close, or no answer) or has no TLS 1.2;
        otherwise the trace lines proving that it renegotiated.
    """
    tool = shutil.which("openssl")
    if tool is None:
        mqttsec_unsupported("the openssl command-line tool is not installed (renegotiation probe)")
        raise AssertionError("unreachable")  # mqttsec_unsupported raises
    command: list[str] = [
        tool,
        "s_client",
        "-connect",
        f"{where.host}:{where.port}",
        "-tls1_2",
        "-msg",
    ]
    if (name := sni(where)) is not None:
        command += ["-servername", name]
    if certificate is not None:
        command += ["-cert", str(certificate[0]), "-key", str(certificate[1])]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdin is not None and process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    asked = False
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            pending = b""
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(remaining):
                    break
                chunk = process.stdout.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                pending += chunk
                *done, pending = pending.split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace")
                    lines.append(line)
                    if not asked and "Verify return code" in line:
                        process.stdin.write(b"R\n")  # renegotiate now
                        process.stdin.flush()
                        asked = True
                    if asked and "RENEGOTIATING" in lines:
                        after = lines[lines.index("RENEGOTIATING") :]
                        if any("ServerHello" in item for item in after):
                            return "\n".join(item for item in after if "<<<" in item)
                        if any("Alert" in item for item in after):
                            return None
    except BrokenPipeError:
        return None
    finally:
        process.kill()
        process.wait(timeout=5)
    return None


def idle_close_times(endpoints: Sequence[Endpoint], bound: float) -> dict[str, float | None]:
    """Open a TCP connection to every endpoint at once and send nothing: when (seconds)
    the server closed each, None for those still open after *bound* seconds."""
    socks = {e.listener: socket.create_connection((e.host, e.port), timeout=5) for e in endpoints}
    start = time.monotonic()
    closed: dict[str, float | None] = {name: None for name in socks}
    try:
        with selectors.DefaultSelector() as selector:
            for name, sock in socks.items():
                selector.register(sock, selectors.EVENT_READ, name)
            while len(selector.get_map()) and (left := start + bound - time.monotonic()) > 0:
                for key, _ in selector.select(left):
                    sock = socks[key.data]
                    try:
                        data = sock.recv(4096)
                    except OSError:
                        data = b""
                    if not data:  # a close (or reset); an alert first is also fine
                        closed[key.data] = time.monotonic() - start
                        selector.unregister(sock)
    finally:
        for sock in socks.values():
            sock.close()
    return closed
