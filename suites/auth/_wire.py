"""Wire-level plumbing of the auth scenarios: CONNECTs of other protocol levels, AUTH
packets, and reading a broker's first answer as bytes.

A broker that does not know a protocol level answers in a format of its choosing (a 3.1.1
CONNACK to a level-6 CONNECT is as likely as a 5.0 one), so those answers are read as raw
bytes here instead of through a version-bound decoder.
"""

from __future__ import annotations

import time

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Auth,
    Properties,
    ProtocolVersion,
    ReasonCode,
    encode,
)

__all__ = ["auth_bytes", "first_answer", "with_protocol_level"]


def with_protocol_level(data: bytes, level: int) -> bytes:
    """*data* (a CONNECT from :func:`~mqttsec.suites.helpers.connect_bytes`) with another
    protocol level byte, everything else unchanged."""
    pos = 1
    while data[pos] & 0x80:  # the remaining length's continuation bytes
        pos += 1
    pos += 1
    name_length = int.from_bytes(data[pos : pos + 2], "big")
    pos += 2 + name_length
    return data[:pos] + bytes([level]) + data[pos + 1 :]


def auth_bytes(reason: ReasonCode, method: str | None = None) -> bytes:
    """An MQTT 5.0 AUTH packet with *reason* and, if given, an Authentication Method."""
    properties = Properties.of(authentication_method=method) if method else Properties()
    return encode(Auth(reason, properties), ProtocolVersion.V5)


def first_answer(raw: RawClient, timeout: float | None = None) -> tuple[int | None, bool]:
    """The broker's first answer on *raw* read as bytes, whatever version it is encoded in.

    Returns:
        (code, closed): the CONNACK's return/reason code when the first packet is a CONNACK
        (None when there is none, or another packet came), and whether the broker has closed
        the connection by the time the answer ends (read until close, bounded by *timeout*;
        an accepting CONNACK ends the wait at once).
    """
    wait = raw.timeout if timeout is None else timeout
    deadline = time.monotonic() + wait
    data = b""
    closed = False
    while (remaining := deadline - time.monotonic()) > 0:
        raw.sock.settimeout(remaining)
        try:
            chunk = raw.sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            chunk = b""
        if not chunk:
            closed = True
            break
        data += chunk
        if len(data) >= 4 and data[0] == 0x20 and data[3] == 0:
            break  # accepted: no close to wait for
    raw.close()
    if len(data) >= 4 and data[0] == 0x20:
        return data[3], closed
    return None, closed
