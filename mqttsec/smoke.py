"""The smoke check: does a broker do the basics of MQTT 3.1.1 and 5.0 with a real client?

Each check runs once per protocol version with paho-mqtt (raw bytes for the malformed CONNECT)
and yields a :class:`~mqttsec.results.CheckResult`. Topics are unique per run, so a smoke run
against a shared, already-running broker neither sees nor leaves other runs' messages (retained
messages it sets are cleared again).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mqttsec.results import CheckResult, Outcome
from mqttsec.smoke_client import (
    VERSIONS,
    CheckFailed,
    PahoClient,
    raw_connect_bytes,
    send_raw_connect,
)

__all__ = ["CHECKS", "Check", "SmokeContext", "run_checks"]


@dataclass(slots=True)
class SmokeContext:
    """What every check needs: where the broker is, how long to wait, unique names."""

    host: str
    port: int
    timeout: float = 5.0
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def topic(self, name: str, version: str) -> str:
        """A topic no other run (nor the other version's check) uses."""
        return f"mqttsec/smoke/{self.run_id}/{version}/{name}"

    def client_id(self) -> str:
        """A fresh client identifier (valid for 3.1.1 servers too: short, alphanumeric)."""
        return f"mqttsec{self.run_id}{next(self._counter)}"

    def client(self, version: str) -> PahoClient:
        """A new, not yet connected paho client for ``version``."""
        return PahoClient(self.host, self.port, version, self.client_id(), self.timeout)


CheckFn = Callable[[SmokeContext, str], str]


@dataclass(frozen=True, slots=True)
class Check:
    """One smoke check: stable ID, what it shows, and the function that runs it.

    The function returns a short detail on success and raises :class:`CheckFailed` when the
    broker misbehaves; any other exception is a harness error.
    """

    id: str
    name: str
    run: CheckFn


def _connect(ctx: SmokeContext, version: str) -> str:
    client = ctx.client(version)
    try:
        client.connect()
    finally:
        client.close()
    return "CONNACK success"


def _pubsub(qos: int) -> CheckFn:
    def check(ctx: SmokeContext, version: str) -> str:
        topic = ctx.topic(f"qos{qos}", version)
        payload = f"smoke qos{qos} {ctx.run_id}".encode()
        client = ctx.client(version)
        try:
            client.connect()
            granted = client.subscribe(topic, qos)
            if granted != qos:
                raise CheckFailed(f"SUBACK granted QoS {granted}, asked for {qos}")
            client.publish(topic, payload, qos)
            msg = client.expect_message(f"the QoS {qos} message on {topic!r}")
        finally:
            client.close()
        if msg.topic != topic or msg.payload != payload:
            raise CheckFailed(f"received {msg.topic!r} {msg.payload!r}, sent {topic!r} {payload!r}")
        if msg.qos != qos:
            raise CheckFailed(f"delivered at QoS {msg.qos}, expected {qos}")
        return f"delivered at QoS {qos}"

    return check


def _retained(ctx: SmokeContext, version: str) -> str:
    topic = ctx.topic("retained", version)
    payload = f"smoke retained {ctx.run_id}".encode()
    publisher = ctx.client(version)
    try:
        publisher.connect()
        publisher.publish(topic, payload, qos=1, retain=True)
        subscriber = ctx.client(version)
        try:
            subscriber.connect()
            subscriber.subscribe(topic, 1)
            msg = subscriber.expect_message(f"the retained message on {topic!r}")
        finally:
            subscriber.close()
        publisher.publish(topic, b"", qos=1, retain=True)  # clear it again
    finally:
        publisher.close()
    if msg.payload != payload:
        raise CheckFailed(f"retained payload {msg.payload!r}, expected {payload!r}")
    if not msg.retain:
        raise CheckFailed("message to a new subscriber arrived without the retain flag")
    return "new subscriber got it with retain=1"


def _will(ctx: SmokeContext, version: str) -> str:
    topic = ctx.topic("will", version)
    payload = f"smoke will {ctx.run_id}".encode()
    watcher = ctx.client(version)
    try:
        watcher.connect()
        watcher.subscribe(topic, 1)
        doomed = ctx.client(version)
        doomed.will_set(topic, payload, qos=1)
        try:
            doomed.connect(background=False)
        finally:
            doomed.drop()
        msg = watcher.expect_message(f"the will message on {topic!r}")
    finally:
        watcher.close()
    if msg.payload != payload:
        raise CheckFailed(f"will payload {msg.payload!r}, expected {payload!r}")
    return "published after the connection dropped"


def _malformed_connect(ctx: SmokeContext, version: str) -> str:
    # Connect Flags 0x03: clean session/start plus the reserved bit 0, which must be zero
    # [MQTT-3.1.2-3]; the server must close the connection (a v5 server may first send
    # CONNACK 0x81 Malformed Packet).
    packet = raw_connect_bytes(version, ctx.client_id(), flags=0x03)
    reply = send_raw_connect(ctx.host, ctx.port, packet, ctx.timeout)
    code = reply.connack_code()
    if code == 0:
        raise CheckFailed("CONNECT with the reserved flag set was accepted (CONNACK 0)")
    if not reply.closed:
        raise CheckFailed(f"connection still open {ctx.timeout:g}s after a malformed CONNECT")
    _connect(ctx, version)  # one client's bad bytes must not break the broker
    return "closed" + (f" after CONNACK 0x{code:02x}" if code is not None else " without CONNACK")


#: Every smoke check, in the order they run.
CHECKS: tuple[Check, ...] = (
    Check("SMOKE-CONNECT", "connect and receive a successful CONNACK", _connect),
    Check("SMOKE-PUBSUB-QOS0", "subscribe, publish and receive at QoS 0", _pubsub(0)),
    Check("SMOKE-PUBSUB-QOS1", "subscribe, publish and receive at QoS 1", _pubsub(1)),
    Check("SMOKE-PUBSUB-QOS2", "subscribe, publish and receive at QoS 2", _pubsub(2)),
    Check("SMOKE-RETAINED", "a retained message reaches a later subscriber", _retained),
    Check("SMOKE-WILL", "the will is published when a connection drops", _will),
    Check(
        "SMOKE-MALFORMED-CONNECT",
        "a CONNECT with the reserved flag set is refused",
        _malformed_connect,
    ),
)


def run_checks(
    ctx: SmokeContext,
    checks: tuple[Check, ...] = CHECKS,
    versions: tuple[str, ...] = tuple(VERSIONS),
) -> Iterator[CheckResult]:
    """Run every check at every version, yielding each result as soon as it is known."""
    for version in versions:
        for check in checks:
            start = time.perf_counter()
            try:
                detail = check.run(ctx, version)
                outcome = Outcome.PASS
            except CheckFailed as exc:
                detail, outcome = str(exc), Outcome.FAIL
            except Exception as exc:  # noqa: BLE001 - a harness bug: report it, keep going
                detail, outcome = f"{type(exc).__name__}: {exc}", Outcome.ERROR
            yield CheckResult(
                id=check.id,
                name=check.name,
                version=version,
                outcome=outcome,
                detail=detail,
                duration=time.perf_counter() - start,
            )
