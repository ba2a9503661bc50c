"""Send fuzz examples to a broker, classify its answers, and check the broker still serves.

Each example gets its own TCP connection: the harness's valid CONNECT (unless the example
must come first), the example's bytes, then a PINGREQ sentinel, all in one write. Whatever
the broker does is read until it closes, answers the sentinel, or a bounded wait ends:

- **closed** before the sentinel was answered: it refused the input (right for malformed
  input; in 5.0 a DISCONNECT before closing must carry an error reason code);
- **answered** the sentinel: it accepted everything before it, a *deviation* when the
  spec-exact codec refuses those bytes (:func:`~mqttsec.fuzz.wire.codec_objection`);
- **no answer** within the bound: held open, counted, and a failure only when the broker
  also stops serving other clients;
- bytes our codec cannot parse: a deviation.

:meth:`BrokerHarness.exchange` runs one example (replays use it);
:class:`~mqttsec.fuzz.batch.Batcher` runs many at once with the same judgement. After every
example or batch a long-lived probe pair round-trips a message, and every ``fresh_every``
examples a brand-new client connects, subscribes and receives its own message
(:meth:`BrokerHarness.survives`): a broker that fails that has crashed or hung.
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass, field
from enum import StrEnum

from mqttsec.errors import MQTTSecError
from mqttsec.fixtures.clients import ClientError
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingresp,
    ProtocolError,
    ProtocolVersion,
    Publish,
    StreamParser,
    encode,
)

from .mutations import Malformed
from .wire import PINGREQ, codec_objection

__all__ = [
    "Answer",
    "BrokerDown",
    "BrokerHarness",
    "HarnessError",
    "Login",
    "Observation",
    "Verdict",
]


class HarnessError(MQTTSecError):
    """The harness cannot do its job (login refused, probe cannot subscribe): not a finding."""


class BrokerDown(MQTTSecError):
    """The broker stopped serving: no fresh client could connect and round-trip a message."""


class Answer(StrEnum):
    CLOSED = "closed"
    ANSWERED = "answered"
    NO_ANSWER = "no-answer"
    BAD_BYTES = "bad-bytes"


@dataclass(frozen=True, slots=True)
class Login:
    """Who the harness logs in as (a profile user that may connect on the plain listener)."""

    username: str | None
    password: str | None
    client_id: str = "mqttsec-fuzz"

    def connect(self, version: ProtocolVersion, client_id: str | None = None) -> Connect:
        return Connect(
            client_id=client_id or self.client_id,
            protocol_version=version,
            username=self.username,
            password=None if self.password is None else self.password.encode(),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """What the broker did with one example: how it ended and the packets it sent."""

    answer: Answer
    packets: tuple[Packet, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one example is judged: ``ok``, ``deviation`` or ``held-open``, with why."""

    kind: str
    detail: str = ""
    observation: Observation = field(default_factory=lambda: Observation(Answer.CLOSED))


def _disconnect_codes(packets: tuple[Packet, ...]) -> list[int]:
    return [int(p.reason_code) for p in packets if isinstance(p, Disconnect)]


class BrokerHarness:
    """Drives one broker listener (plain TCP) through fuzz examples.

    Args:
        host, port: the broker's plain listener.
        login: the identity of the fuzz connections and the probes.
        answer_timeout: how long to wait for the broker to close or answer the sentinel.
        survive_timeout: how long a probe round trip may take before the broker is down.
        fresh_every: a brand-new client is checked every this many examples.
        probe_version: the MQTT version the probes speak (one the broker supports).
    """

    def __init__(
        self,
        host: str,
        port: int,
        login: Login,
        *,
        answer_timeout: float = 0.5,
        survive_timeout: float = 5.0,
        fresh_every: int = 100,
        probe_version: ProtocolVersion = ProtocolVersion.V5,
    ) -> None:
        self.host = host
        self.port = port
        self.login = login
        self.answer_timeout = answer_timeout
        self.survive_timeout = survive_timeout
        self.fresh_every = fresh_every
        self.probe_version = probe_version
        self._login_bytes: dict[tuple[ProtocolVersion, int | None], bytes] = {}
        self._count = 0
        self._token = itertools.count()
        self._sub: RawClient | None = None
        self._pub: RawClient | None = None

    # ------------------------------------------------------------------ one example

    def stream(self, case: Malformed, slot: int | None = None) -> bytes:
        """Exactly the bytes the example's connection sends.

        Args:
            slot: for connections open at the same time: each needs its own client id
                (``<client_id>-<slot>``), or the broker would take over one with another.
        """
        if not case.login:
            return case.data + PINGREQ
        key = (case.version, slot)
        login = self._login_bytes.get(key)
        if login is None:
            client_id = None if slot is None else f"{self.login.client_id}-{slot}"
            login = encode(self.login.connect(case.version, client_id), case.version)
            self._login_bytes[key] = login
        return login + case.data + PINGREQ

    def exchange(self, stream: bytes, version: ProtocolVersion) -> Observation:
        """Send *stream* on a new connection and observe the broker's answer."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.survive_timeout)
        except OSError as exc:
            raise BrokerDown(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        parser = StreamParser(version, role="client")
        got: list[Packet] = []
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.sendall(stream)
            except OSError:
                pass  # closed while we were still sending: read what it said first
            deadline = time.monotonic() + self.answer_timeout
            while (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break
                except OSError:
                    data = b""
                if not data:
                    return Observation(Answer.CLOSED, tuple(got))
                try:
                    new = parser.feed(data)
                except ProtocolError as exc:
                    got.extend(exc.packets_before)  # type: ignore[arg-type]
                    return Observation(Answer.BAD_BYTES, tuple(got), f"{exc} in {data.hex()}")
                got.extend(new)
                if any(isinstance(p, Pingresp) for p in new):
                    return Observation(Answer.ANSWERED, tuple(got))
            return Observation(Answer.NO_ANSWER, tuple(got))
        finally:
            sock.close()

    def judge(self, case: Malformed, stream: bytes, seen: Observation) -> Verdict:
        """Classify *seen* against what the codec says about *stream*."""
        if case.login and seen.packets:
            first = seen.packets[0]
            if isinstance(first, Connack) and int(first.reason_code) != 0:
                raise HarnessError(
                    f"the broker refused the harness login as {self.login.username!r}: "
                    f"CONNACK {first.reason_code!r}; check the profile's credentials"
                )
        if seen.answer is Answer.BAD_BYTES:
            if case.login:
                return Verdict("deviation", f"broker sent bytes MQTT forbids: {seen.detail}", seen)
            return Verdict("ok", "", seen)  # a CONNACK in another version than we parse
        if seen.answer is Answer.CLOSED and not (
            case.version is ProtocolVersion.V5 and _disconnect_codes(seen.packets)
        ):
            return Verdict("ok", "", seen)  # closing is right for any input: no need to ask
        objection = codec_objection(stream)
        if objection is None:
            return Verdict("ok", "", seen)
        if seen.answer is Answer.ANSWERED:
            return Verdict(
                "deviation", f"{case.label}: answered as valid; the spec says {objection}", seen
            )
        if seen.answer is Answer.NO_ANSWER:
            return Verdict(
                "held-open",
                f"{case.label}: neither closed nor answered in {self.answer_timeout}s "
                f"({objection})",
                seen,
            )
        if case.version is ProtocolVersion.V5:
            good = [c for c in _disconnect_codes(seen.packets) if c < 0x80]
            if good:
                return Verdict(
                    "deviation",
                    f"{case.label}: DISCONNECT with non-error reason 0x{good[0]:02x} for "
                    f"{objection}",
                    seen,
                )
        return Verdict("ok", "", seen)

    def run(self, case: Malformed) -> Verdict:
        """Send one example, judge the answer, then check the broker survived.

        Raises:
            BrokerDown: the broker stopped serving other clients.
        """
        stream = self.stream(case)
        seen = self.exchange(stream, case.version)
        verdict = self.judge(case, stream, seen)
        self.survives()
        return verdict

    # ------------------------------------------------------------------ survival

    def _client(self, name: str) -> RawClient:
        client = RawClient.plain(
            self.host, self.port, self.probe_version, timeout=self.survive_timeout
        )
        ack = client.connect(name, username=self.login.username, password=self.login.password)
        if int(ack.reason_code) != 0:
            client.close()
            raise HarnessError(f"probe login refused: CONNACK {ack.reason_code!r}")
        return client

    def _round_trip(self, sub: RawClient, pub: RawClient, topic: str) -> None:
        token = f"probe-{next(self._token)}".encode()
        pub.publish(topic, token)
        deadline = time.monotonic() + self.survive_timeout
        while True:
            packet = sub.recv(max(deadline - time.monotonic(), 0.001))
            if isinstance(packet, Publish) and packet.payload == token:
                return

    def _open_probes(self) -> None:
        self.close()
        sub = self._client("mqttsec-fuzz-probe-sub")
        sub.subscribe("mqttsec/fuzz/probe", qos=0)
        self._sub, self._pub = sub, self._client("mqttsec-fuzz-probe-pub")

    def survives(self, examples: int = 1) -> None:
        """Round-trip one message through the probe pair, after *examples* more examples (a
        fresh client each time the count passes a multiple of ``fresh_every``).

        Raises:
            BrokerDown: neither the probe pair nor a fresh client got a message through.
        """
        before = self._count
        self._count += examples
        try:
            if self._sub is None or self._pub is None:
                self._open_probes()
            assert self._sub is not None and self._pub is not None
            self._round_trip(self._sub, self._pub, "mqttsec/fuzz/probe")
            if self._count // self.fresh_every > before // self.fresh_every:
                self.fresh_client()
            return
        except (ClientError, OSError, AssertionError):
            pass  # the probe pair itself may have been kicked: try once more with new ones
        try:
            self._open_probes()
            assert self._sub is not None and self._pub is not None
            self._round_trip(self._sub, self._pub, "mqttsec/fuzz/probe")
        except (ClientError, OSError, AssertionError) as exc:
            self.close()
            raise BrokerDown(
                f"broker at {self.host}:{self.port} no longer serves: a fresh client could not "
                f"connect and round-trip a message within {self.survive_timeout}s ({exc})"
            ) from None

    def fresh_client(self) -> None:
        """A brand-new client connects, subscribes, and receives its own message."""
        client = self._client(f"mqttsec-fuzz-fresh-{self._count}")
        try:
            client.subscribe("mqttsec/fuzz/fresh", qos=0)
            self._round_trip(client, client, "mqttsec/fuzz/fresh")
        finally:
            client.close()

    def close(self) -> None:
        """Close the probe connections (safe to call twice)."""
        for client in (self._sub, self._pub):
            if client is not None:
                client.close()
        self._sub = self._pub = None
