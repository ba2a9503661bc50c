"""Packet-size limits: what the broker advertises, and whether it takes a multi-megabyte PUBLISH.

A broker without a packet-size limit buffers whatever a client sends (MQTT frames up to
256 MB) and fans it out to every subscriber: an easy memory and bandwidth exhaustion. MQTT
5.0 lets the broker say its limit in CONNACK (Maximum Packet Size); the probe reads it, then
sends one QoS 1 PUBLISH of a bounded size (default 4 MiB) to the audit's own topic and
watches the answer: an acknowledgement means the whole packet was read and accepted; a
DISCONNECT (0x95 Packet Too Large) or a closed connection means the limit held.
"""

from __future__ import annotations

import ssl
import time

from mqttsec.fixtures.clients import ClientError, ClientTimeout, PeerClosed
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Disconnect,
    PropertyId,
    ProtocolError,
    Puback,
    Publish,
    QoS,
    encode,
)

from .findings import Finding, Severity
from .probe import Prober
from .target import Identity

__all__ = ["DEFAULT_LARGE_PUBLISH", "advertised_limit", "limit_findings"]

DEFAULT_LARGE_PUBLISH = 4 * 1024 * 1024
"""Bytes of payload in the large PUBLISH (4 MiB: far above what a device sends, small enough
to send quickly, also over a slow link)."""

_LIMIT_FIX = (
    "cap the packet size at what clients need (mosquitto: `max_packet_size 1048576` or "
    "`message_size_limit`; reference broker: max_packet_size; EMQX: mqtt.max_packet_size), "
    "so one client cannot make the broker buffer and fan out huge messages"
)


def advertised_limit(connack: Connack | None) -> int | None:
    """The Maximum Packet Size of a 5.0 CONNACK, None when absent."""
    if connack is None:
        return None
    value = connack.properties.get(PropertyId.MAXIMUM_PACKET_SIZE)
    return value if isinstance(value, int) else None


def limit_findings(prober: Prober, version: str, identity: Identity, size: int) -> list[Finding]:
    """LIMIT-MAX-PACKET-SIZE (5.0 CONNACK) and LIMIT-LARGE-PUBLISH rows, as *identity*."""
    out: list[Finding] = []
    with prober.session(version, identity) as (client, attempt):
        if client is None:
            reason = f"could not connect as {identity.label}: {attempt.describe()}"
            return [
                Finding.not_tested("LIMIT-MAX-PACKET-SIZE", "Maximum Packet Size", reason),
                Finding.not_tested("LIMIT-LARGE-PUBLISH", "Large PUBLISH", reason),
            ]
        limit = advertised_limit(attempt.connack) if version == "5.0" else None
        if version != "5.0":
            out.append(
                Finding.not_tested(
                    "LIMIT-MAX-PACKET-SIZE",
                    "Maximum Packet Size",
                    f"the broker does not speak MQTT 5.0 (audited at {version}), whose "
                    "CONNACK would advertise it",
                )
            )
        elif limit is None:
            out.append(
                Finding.issue(
                    "LIMIT-MAX-PACKET-SIZE",
                    Severity.LOW,
                    "No Maximum Packet Size advertised",
                    "the MQTT 5.0 CONNACK has no Maximum Packet Size property: the broker "
                    "announces no limit below MQTT's 256 MB",
                    _LIMIT_FIX,
                )
            )
        else:
            out.append(
                Finding.note(
                    "LIMIT-MAX-PACKET-SIZE",
                    f"Maximum Packet Size {_size(limit)} advertised",
                    f"MQTT 5.0 CONNACK Maximum Packet Size = {limit} bytes",
                )
            )
        if size <= 0:
            out.append(
                Finding.not_tested(
                    "LIMIT-LARGE-PUBLISH", "Large PUBLISH", "skipped (--large-publish 0)"
                )
            )
            return out
        out.append(_large_publish(prober, client, size, limit, version))
    return out


def _large_publish(
    prober: Prober, client: RawClient, size: int, limit: int | None, version: str
) -> Finding:
    packet = Publish(prober.topic("large"), bytes(size), QoS.AT_LEAST_ONCE, packet_id=7)
    data = encode(packet, client.version)
    what = f"a {_size(len(data))} QoS 1 PUBLISH ({len(data)} bytes)"
    start = time.monotonic()
    answer = ""
    try:
        client.sock.settimeout(max(prober.target.timeout, 1.0))
        client.send_bytes(data)
        deadline = time.monotonic() + prober.target.timeout
        while not answer:
            reply = client.recv(max(0.0, deadline - time.monotonic()))
            if isinstance(reply, Puback):
                code = int(reply.reason_code)
                answer = f"PUBACK {code:#04x}"
                if code in (0x95, 0x97):  # packet too large, quota exceeded: refused
                    return _held(what, answer, limit)
            elif isinstance(reply, Disconnect):
                return _held(what, f"DISCONNECT {int(reply.reason_code):#04x}", limit)
    except PeerClosed:
        return _held(what, "the connection closed", limit)
    except ClientTimeout:
        return Finding.not_tested(
            "LIMIT-LARGE-PUBLISH",
            "Large PUBLISH",
            f"{what}: neither acknowledged nor refused within {prober.target.timeout:g}s",
        )
    except (TimeoutError, ConnectionError, ssl.SSLError, ProtocolError, ClientError) as exc:
        return _held(what, f"the connection failed ({type(exc).__name__}: {exc})", limit)
    elapsed = time.monotonic() - start
    advertised = (
        f"; the CONNACK advertised Maximum Packet Size {limit}" if limit is not None else ""
    )
    evidence = f"{what} was read and acknowledged ({answer}) in {elapsed:.2f}s{advertised}"
    if limit is not None and len(data) > limit:
        return Finding.issue(
            "LIMIT-LARGE-PUBLISH",
            Severity.MEDIUM,
            "Broker ignores its own Maximum Packet Size",
            evidence,
            _LIMIT_FIX,
        )
    if limit is not None:
        return Finding.issue(
            "LIMIT-LARGE-PUBLISH",
            Severity.LOW,
            f"{_size(len(data))} PUBLISH accepted (limit {_size(limit)})",
            evidence + "; the limit is deliberate but large",
            _LIMIT_FIX,
        )
    return Finding.issue(
        "LIMIT-LARGE-PUBLISH",
        Severity.MEDIUM,
        f"{_size(len(data))} PUBLISH accepted, no limit advertised",
        evidence + ("" if version == "5.0" else f" (MQTT {version}: no limit can be advertised)"),
        _LIMIT_FIX,
    )


def _held(what: str, answer: str, limit: int | None) -> Finding:
    advertised = f" (advertised limit {limit} bytes)" if limit is not None else ""
    return Finding.ok(
        "LIMIT-LARGE-PUBLISH", "Large PUBLISH refused", f"{what}: {answer}{advertised}"
    )


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n} B"
