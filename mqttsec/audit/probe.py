"""MQTT connections for the audit's probes, on the project's raw client (our codec, exact bytes).

:class:`Prober` knows the target, the TLS context the probes use and the run's unique names,
and turns "connect as X at version V" into an :class:`Attempt`: the CONNACK code, or what
happened instead (closed, timed out, undecodable answer). A refusal is an answer, so nothing
here raises for one; only an unreachable broker does. Every wait is bounded by the target's
timeout (the raw client's own bound).
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

from mqttsec.fixtures.clients import ClientError
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Disconnect,
    ProtocolError,
    ProtocolVersion,
    encode,
)
from mqttsec.reference_broker.protocol.primitives import decode_vbi, encode_vbi

from .target import AuditTarget, Identity

__all__ = ["MQTT_VERSIONS", "Attempt", "Prober"]

MQTT_VERSIONS = ("3.1", "3.1.1", "5.0")
"""The protocol versions the audit asks about, oldest first."""

_CODEC_VERSION = {"3.1": ProtocolVersion.V311, "3.1.1": ProtocolVersion.V311}
_V311_NAMES = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def codec_version(version: str) -> ProtocolVersion:
    """The codec version that reads a broker's answers at MQTT *version* (3.1 as 3.1.1)."""
    return _CODEC_VERSION.get(version, ProtocolVersion.V5)


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one CONNECT ended.

    Attributes:
        version: ``"3.1"``, ``"3.1.1"`` or ``"5.0"``.
        identity: who tried.
        code: the CONNACK code, None when no CONNACK came.
        connack: the CONNACK itself (its 5.0 properties), None without one.
        failure: what happened instead of a CONNACK (closed, timeout, undecodable answer).
        elapsed: seconds from connecting to the answer.
    """

    version: str
    identity: Identity
    code: int | None
    connack: Connack | None
    failure: str
    elapsed: float

    @property
    def accepted(self) -> bool:
        """A CONNACK with code 0."""
        return self.code == 0

    @property
    def answered(self) -> bool:
        """The broker spoke MQTT at this version: any CONNACK that is not "unsupported
        version" (3.1.1 code 1, 5.0 reason 0x84)."""
        return self.code is not None and self.code not in (0x01, 0x84)

    def describe(self) -> str:
        """``CONNACK 0x86 (bad user name or password)`` or the failure, for evidence."""
        if self.code is None:
            return self.failure
        if self.version == "5.0" and self.connack is not None:
            name = getattr(self.connack.reason_code, "name", "")
            text = name.lower().replace("_", " ")
        else:
            text = _V311_NAMES.get(self.code, "unknown code")
        return f"CONNACK {self.code:#04x} ({text})"


class Prober:
    """Opens MQTT connections to the target for the probes.

    Args:
        target: where the broker is.
        ssl_context: the context for ``mqtts`` targets (verifying or not, as the TLS probe
            decided); None for plain targets.
    """

    def __init__(self, target: AuditTarget, ssl_context: ssl.SSLContext | None = None) -> None:
        self.target = target
        self.ssl_context = ssl_context
        self.run_id = secrets.token_hex(4)
        self._ids = itertools.count(1)

    def client_id(self) -> str:
        """A client id no one else uses (short and alphanumeric: valid for 3.1 servers too)."""
        return f"mqttsecaudit{self.run_id}{next(self._ids)}"

    def topic(self, name: str) -> str:
        """A topic under ``mqttsec/audit/<run-id>/``: the only place the audit publishes."""
        return f"mqttsec/audit/{self.run_id}/{name}"

    def open(self, version: str) -> RawClient:
        """A connected socket (TLS when the target is ``mqtts``), not yet MQTT-connected.

        Raises:
            OSError, ssl.SSLError: TCP or TLS failed.
        """
        return RawClient(
            self.target.endpoint,
            codec_version(version),
            ssl_context=self.ssl_context,
            timeout=self.target.timeout,
        )

    def connect(
        self,
        version: str,
        identity: Identity,
        *,
        client_id: str | None = None,
        clean: bool = True,
    ) -> tuple[RawClient | None, Attempt]:
        """CONNECT as *identity*; returns the client (open only when accepted) and the attempt.

        The caller owns an accepted client and closes it (:meth:`close`).
        """
        cid = client_id if client_id is not None else self.client_id()
        start = time.monotonic()
        try:
            client = self.open(version)
        except (OSError, ssl.SSLError) as exc:
            failure = f"connection failed: {type(exc).__name__}: {exc}"
            return None, Attempt(version, identity, None, None, failure, 0.0)
        code: int | None = None
        connack: Connack | None = None
        failure = ""
        try:
            password = identity.password.encode() if identity.password is not None else None
            packet = Connect(
                client_id=cid,
                protocol_version=codec_version(version),
                clean_start=clean,
                keep_alive=60,
                username=identity.username,
                password=password,
            )
            data = encode(packet, packet.protocol_version)
            client.send_bytes(_as_v31(data) if version == "3.1" else data)
            answer = client.recv()
            if isinstance(answer, Connack):
                connack, code = answer, int(answer.reason_code)
            else:
                failure = f"answered {type(answer).__name__} instead of CONNACK"
        except ProtocolError as exc:
            failure = f"answer is not a valid {version} CONNACK ({exc})"
        except ClientError as exc:  # ClientTimeout, PeerClosed
            failure = f"no CONNACK: {exc}"
        except (OSError, ssl.SSLError) as exc:
            failure = f"connection failed: {type(exc).__name__}: {exc}"
        attempt = Attempt(version, identity, code, connack, failure, time.monotonic() - start)
        if attempt.accepted:
            return client, attempt
        client.close()
        return None, attempt

    def attempt(self, version: str, identity: Identity) -> Attempt:
        """CONNECT as *identity* and disconnect again; only the answer is kept."""
        client, attempt = self.connect(version, identity)
        if client is not None:
            self.close(client)
        return attempt

    @contextlib.contextmanager
    def session(
        self, version: str, identity: Identity, *, client_id: str | None = None
    ) -> Iterator[tuple[RawClient | None, Attempt]]:
        """:meth:`connect` as a context manager that disconnects cleanly at the end."""
        client, attempt = self.connect(version, identity, client_id=client_id)
        try:
            yield client, attempt
        finally:
            if client is not None:
                self.close(client)

    @staticmethod
    def close(client: RawClient) -> None:
        """Send DISCONNECT (best effort: the broker may have gone) and close the socket."""
        with contextlib.suppress(OSError, ssl.SSLError, ClientError):
            client.sock.settimeout(1.0)
            client.send(Disconnect())
        client.close()


def _as_v31(packet: bytes) -> bytes:
    """A 3.1.1 CONNECT rewritten as MQTT 3.1 (protocol name ``MQIsdp``, level 3).

    The codec speaks only 3.1.1 and 5.0; 3.1's CONNECT differs only in those header bytes,
    so the 3.1.1 encoding is patched rather than a second encoder written.
    """
    length, pos = decode_vbi(packet, 1, "CONNECT remaining length")
    body = packet[pos : pos + length]
    prefix_311 = b"\x00\x04MQTT\x04"
    if not body.startswith(prefix_311):
        raise RuntimeError("the codec's 3.1.1 CONNECT does not start with 'MQTT' level 4")
    body = b"\x00\x06MQIsdp\x03" + body[len(prefix_311) :]
    return packet[:1] + encode_vbi(len(body)) + body
