"""Client-id takeover: can a second connection with the same client id kick the first?

MQTT says yes ([MQTT-3.1.4-3]: the server disconnects the existing client), so on its own
this is the protocol working. It matters because client ids are often guessable (device
serials, host names): whoever may connect at all can then disconnect any device, again and
again, and with a persistent session receive the messages queued for it. Hence the severity:
medium when an anonymous or guessed identity could do it, info for the user's own account.

The probe needs no sleep: after the second CONNACK, the first connection sends PINGREQ. A
PINGRESP means it is still served; a DISCONNECT or a closed socket means it was kicked.
"""

from __future__ import annotations

import ssl
import time

from mqttsec.fixtures.clients import ClientError, ClientTimeout, PeerClosed
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import Disconnect, Pingreq, Pingresp, ProtocolError

from .findings import Finding, Severity
from .probe import Prober
from .target import Identity

__all__ = ["probe_takeover"]

_FIX = (
    "tie client ids to identities so one account cannot use another's id (mosquitto: "
    "`use_username_as_clientid true`, or an auth plugin that checks the id; HiveMQ/EMQX: "
    "client-id ACL or authorization rule), use per-device credentials, and avoid guessable "
    "client ids"
)


def probe_takeover(prober: Prober, version: str, identity: Identity, privileged: bool) -> Finding:
    """Connect twice with one client id as *identity*; did the second kick the first?"""
    cid = prober.client_id()
    with prober.session(version, identity, client_id=cid) as (first, attempt):
        if first is None:
            return Finding.not_tested(
                "CLIENT-ID-TAKEOVER",
                "Client-id takeover",
                f"first connection: {attempt.describe()}",
            )
        with prober.session(version, identity, client_id=cid) as (second, again):
            if second is None:
                _, state = _state_of(first)
                return Finding.ok(
                    "CLIENT-ID-TAKEOVER",
                    "Second connection with a used client id refused",
                    f"as {identity.label}, client id {cid!r}: second CONNECT got "
                    f"{again.describe()}; first connection {state}",
                )
            kind, state = _state_of(first)
    if kind == "unknown":
        return Finding.not_tested(
            "CLIENT-ID-TAKEOVER",
            "Client-id takeover",
            f"as {identity.label}, client id {cid!r}: second CONNECT accepted, but the first "
            f"connection {state}",
        )
    if kind == "alive":
        return Finding.note(
            "CLIENT-ID-TAKEOVER",
            "Two connections with one client id both served",
            f"as {identity.label}, client id {cid!r}: second CONNECT accepted and the first "
            f"connection {state} (MQTT requires the broker to close the first)",
        )
    return Finding.issue(
        "CLIENT-ID-TAKEOVER",
        Severity.INFO if privileged else Severity.MEDIUM,
        f"A second connection takes over a client id ({identity.label})",
        f"as {identity.label}, client id {cid!r}: second CONNECT accepted and the first "
        f"connection {state}. This is MQTT's rule [MQTT-3.1.4-3]; it is a weakness when ids "
        "are guessable and any account may use any id: a client can disconnect another and "
        "take over its session",
        _FIX,
    )


def _state_of(client: RawClient) -> tuple[str, str]:
    """What happened to the first connection, as (``kicked`` | ``alive`` | ``unknown``,
    evidence text); bounded by the client's timeout."""
    deadline = time.monotonic() + client.timeout
    try:
        client.send(Pingreq())
        while (remaining := deadline - time.monotonic()) > 0:
            packet = client.recv(remaining)
            if isinstance(packet, Pingresp):
                return "alive", "is still served (PINGREQ answered)"
            if isinstance(packet, Disconnect):
                code = int(packet.reason_code)
                return "kicked", f"got DISCONNECT {code:#04x} and was closed"
    except PeerClosed:
        return "kicked", "was closed by the broker"
    except ClientTimeout as exc:  # neither answered nor closed
        return "unknown", f"neither answered nor closed ({exc})"
    except (ClientError, OSError, ssl.SSLError, ProtocolError) as exc:
        return "kicked", f"was closed by the broker ({type(exc).__name__})"
    return (
        "unknown",
        f"sent other packets but neither PINGRESP nor DISCONNECT within {client.timeout:g}s",
    )
