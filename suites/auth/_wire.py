"""Wire-level plumbing of the auth scenarios: AUTH packets, and reading a broker's first
answer as bytes.

A broker that does not know a protocol level answers in a format of its choosing (a 3.1.1
CONNACK to a level-6 CONNECT is as likely as a 5.0 one), so those answers are read as raw
bytes here instead of through a version-bound decoder. CONNECTs of other protocol names and
levels are built by :func:`~mqttsec.suites.helpers.connect_bytes`.
"""

from __future__ import annotations

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Auth,
    Properties,
    ProtocolVersion,
    ReasonCode,
    encode,
)
from mqttsec.suites.helpers import answer_bytes

__all__ = ["auth_bytes", "first_answer"]


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
    data, closed = answer_bytes(raw, raw.timeout if timeout is None else timeout)
    raw.close()
    if len(data) >= 4 and data[0] == 0x20:
        return data[3], closed
    return None, closed
