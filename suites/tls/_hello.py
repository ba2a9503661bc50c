"""Hand-built TLS ClientHellos, and what a server answers to them.

A scanner's technique (testssl.sh, sslyze): the client offers exactly what is under test (a
protocol version, one class of cipher suites, compression) in a ClientHello built byte by
byte (RFC 5246 7.4.1.2, RFC 6101 for SSLv3, the SSLv2 CLIENT-HELLO of the 1995 draft), and
reads only the server's first answer: a ServerHello (it *agreed*: the version, suite and
compression it chose are in it), an alert, or a close. No key exchange follows, so the
probe needs nothing from the local OpenSSL: it can offer suites and versions this Python
could never negotiate (EXPORT, RC4, SSLv2), and the verdict is the server's own choice.

A refusal is believed only when the same listener answers a *control* hello (modern
suites, built the same way) with a ServerHello: then the bytes are a hello the server
understands, and its refusal is about what was offered.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from mqttsec.fixtures.targets import Endpoint

__all__ = [
    "CONTROL_SUITES",
    "OLD_SUITES",
    "SSL3",
    "TLS10",
    "TLS11",
    "TLS12",
    "Answer",
    "AnswerKind",
    "ask",
    "client_hello",
    "read_answer",
    "sslv2_client_hello",
]

SSL3, TLS10, TLS11, TLS12 = 0x0300, 0x0301, 0x0302, 0x0303
_NAMES = {0x0002: "SSLv2", SSL3: "SSLv3", TLS10: "TLS 1.0", TLS11: "TLS 1.1", TLS12: "TLS 1.2",
          0x0304: "TLS 1.3"}  # fmt: skip

CONTROL_SUITES: tuple[int, ...] = (
    0xC02B, 0xC02C, 0xCCA9,  # ECDHE-ECDSA with AES-GCM, ChaCha20-Poly1305
    0xC02F, 0xC030, 0xCCA8,  # ECDHE-RSA with AES-GCM, ChaCha20-Poly1305
    0x009E, 0x009F, 0xCCAA,  # DHE-RSA with AES-GCM, ChaCha20-Poly1305
)  # fmt: skip
"""Forward-secret AEAD suites every current TLS 1.2 server offers: the control hello."""

OLD_SUITES: tuple[int, ...] = (
    0xC009, 0xC00A, 0xC013, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A,
)  # fmt: skip
"""CBC suites that exist in TLS 1.0/1.1 and SSLv3 (the only kind those versions have)."""

_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101)
"""x25519, P-256, P-384, P-521, ffdhe2048, ffdhe3072."""
_SIGNATURES = (0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
               0x0601, 0x0203, 0x0201)  # fmt: skip
"""ECDSA, Ed25519, RSA-PSS, RSA PKCS#1 with SHA-2, and the SHA-1 ones (old servers)."""


class AnswerKind(StrEnum):
    """What the server did with a hello."""

    HELLO = "ServerHello"
    SSL2_HELLO = "SSLv2 SERVER-HELLO"
    ALERT = "alert"
    CLOSED = "closed"
    SILENT = "silent"
    OTHER = "other bytes"


@dataclass(frozen=True, slots=True)
class Answer:
    """The server's first answer to a hello.

    Attributes:
        kind: see :class:`AnswerKind`.
        version: the version a ServerHello chose (TLS 1.3 from supported_versions).
        cipher: the cipher suite a ServerHello chose.
        compression: the compression method a ServerHello chose (0: none).
        alert: the alert description (RFC 5246 7.2), when the server sent one.
        raw: the first bytes received, for messages.
    """

    kind: AnswerKind
    version: int | None = None
    cipher: int | None = None
    compression: int | None = None
    alert: int | None = None
    raw: bytes = field(default=b"", repr=False)

    @property
    def agreed(self) -> bool:
        """The server accepted the hello (went on with the handshake)."""
        return self.kind in (AnswerKind.HELLO, AnswerKind.SSL2_HELLO)

    def __str__(self) -> str:
        if self.kind is AnswerKind.HELLO:
            version = _NAMES.get(self.version or 0, f"{self.version:#06x}")
            return (
                f"ServerHello {version}, cipher suite {self.cipher:#06x}, "
                f"compression {self.compression}"
            )
        if self.kind is AnswerKind.ALERT:
            return f"alert {self.alert}"
        return f"{self.kind.value} {self.raw[:16].hex()}".rstrip()


def _vector(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack(">HH", kind, len(body)) + body


def client_hello(
    version: int,
    suites: Sequence[int],
    *,
    server_name: str | None = None,
    compression: Sequence[int] = (0,),
    extensions: bool = True,
) -> bytes:
    """A ClientHello record offering *version* with exactly *suites* and *compression*.

    Args:
        version: ``client_version`` (:data:`TLS12`, :data:`TLS10`, :data:`SSL3`, ...); TLS 1.3
            is never offered (no supported_versions), so the server stays at or below it.
        suites: IANA cipher suite numbers.
        server_name: an SNI host name (never an IP address, RFC 6066).
        compression: compression methods (0 null, 1 DEFLATE).
        extensions: send the extensions a real client sends (groups, point formats, SNI,
            signature algorithms from TLS 1.2, secure renegotiation); SSLv3 has none.
    """
    exts = b""
    if extensions:
        if server_name:
            name = server_name.encode("idna")
            exts += _extension(0, _vector(b"\x00" + _vector(name, 2), 2))
        exts += _extension(10, _vector(b"".join(struct.pack(">H", g) for g in _GROUPS), 2))
        exts += _extension(11, _vector(b"\x00", 1))
        if version >= TLS12:
            exts += _extension(13, _vector(b"".join(struct.pack(">H", s) for s in _SIGNATURES), 2))
        exts += _extension(0xFF01, b"\x00")  # renegotiation_info, initial handshake
    body = struct.pack(">H", version) + os.urandom(32) + b"\x00"  # no session id
    body += _vector(b"".join(struct.pack(">H", s) for s in suites), 2)
    body += _vector(bytes(compression), 1)
    if exts:
        body += _vector(exts, 2)
    handshake = b"\x01" + _vector(body, 3)
    record_version = SSL3 if version == SSL3 else TLS10  # what clients put on the first record
    return struct.pack(">BHH", 0x16, record_version, len(handshake)) + handshake


def sslv2_client_hello() -> bytes:
    """An SSLv2 CLIENT-HELLO offering only SSL 2.0 (version 0x0002) and its five suites."""
    specs = bytes.fromhex("010080 020080 030080 060040 0700c0".replace(" ", ""))
    challenge = os.urandom(16)
    body = b"\x01\x00\x02" + struct.pack(">HHH", len(specs), 0, len(challenge)) + specs
    body += challenge
    return struct.pack(">H", 0x8000 | len(body)) + body


def _parse_server_hello(body: bytes, raw: bytes) -> Answer:
    """The chosen version, suite and compression of a ServerHello body (after type/len)."""
    version = int.from_bytes(body[0:2], "big")
    at = 34
    at += 1 + body[at]  # session id
    cipher = int.from_bytes(body[at : at + 2], "big")
    compression = body[at + 2]
    at += 3
    if len(body) >= at + 2:
        end = at + 2 + int.from_bytes(body[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, size = struct.unpack(">HH", body[at : at + 4])
            if kind == 43 and size == 2:  # supported_versions: the real version (TLS 1.3)
                version = int.from_bytes(body[at + 4 : at + 6], "big")
            at += 4 + size
    return Answer(AnswerKind.HELLO, version, cipher, compression, raw=raw)


def read_answer(sock: socket.socket, *, timeout: float = 5.0) -> Answer:
    """Read the server's first answer: records until a ServerHello or an alert is whole,
    or the server closes (or stays silent for *timeout* seconds)."""
    data = b""
    deadline = time.monotonic() + timeout
    handshake = b""
    while True:
        at, handshake = 0, b""
        while len(data) >= at + 5 and data[0] & 0x80 == 0:
            kind, size = data[at], int.from_bytes(data[at + 3 : at + 5], "big")
            if len(data) < at + 5 + size:
                break
            fragment = data[at + 5 : at + 5 + size]
            if kind == 0x15 and size >= 2:
                return Answer(AnswerKind.ALERT, alert=fragment[1], raw=data)
            if kind != 0x16:
                return Answer(AnswerKind.OTHER, raw=data)
            handshake += fragment
            at += 5 + size
        if len(handshake) >= 4 and len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
            if handshake[0] != 2:
                return Answer(AnswerKind.OTHER, raw=data)
            return _parse_server_hello(handshake[4 : 4 + int.from_bytes(handshake[1:4], "big")],
                                       data)  # fmt: skip
        if len(data) >= 3 and data[0] & 0x80:
            if data[2] == 0x04:  # an SSLv2 SERVER-HELLO: the server speaks SSL 2.0
                return Answer(AnswerKind.SSL2_HELLO, version=0x0002, raw=data)
            return Answer(AnswerKind.OTHER, raw=data)
        if data and data[0] not in (0x15, 0x16) and not data[0] & 0x80:
            return Answer(AnswerKind.OTHER, raw=data)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Answer(AnswerKind.SILENT, raw=data)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(16384)
        except TimeoutError:
            return Answer(AnswerKind.SILENT, raw=data)
        except OSError:
            return Answer(AnswerKind.CLOSED, raw=data)  # reset: refused
        if not chunk:
            return Answer(AnswerKind.CLOSED, raw=data)
        data += chunk


def ask(where: Endpoint, hello: bytes, *, timeout: float = 5.0) -> Answer:
    """Send *hello* to *where* on a fresh connection; the server's first answer."""
    with socket.create_connection((where.host, where.port), timeout=timeout) as sock:
        try:
            sock.sendall(hello)
        except OSError:
            return Answer(AnswerKind.CLOSED)
        return read_answer(sock, timeout=timeout)
