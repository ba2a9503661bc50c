"""Robustness scenarios: one client (or one address) using more than its share.

A broker serves many clients from one process; a client that holds connections open,
never reads, sends enormous subscriptions or never finishes its QoS 2 flows must cost the
broker bounded resources and must not stall anyone else. Every load here is bounded in
count, bytes and time; the probe (an ordinary client connected before the load) must keep
round-tripping its own messages throughout.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from mqttsec.fixtures.clients import ClientTimeout, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory, deviation, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import (
    PropertyId,
    ProtocolError,
    ProtocolVersion,
    QoS,
    Suback,
    Subscribe,
    Subscription,
)
from mqttsec.suites.helpers import connect_bytes, unique

from ._support import (
    MqttClientFactory,
    attacker,
    open_probe,
    publish_bytes,
    read_until_closed,
)

_SLACK = 6.0
"""Seconds a broker may take beyond 1.5 x Keep Alive to notice a silent client: mosquitto 2
sweeps keep-alives every 5 s, so a silent client goes after 1.5-6.5 s there."""


@pytest.mark.scenario(
    id="ROB-KEEPALIVE-HALF-OPEN",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-24", "MQTT-3.1.2-22"],
)
def test_silent_client_is_disconnected(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A client that asked for a 1 s Keep Alive and then falls silent (a half-open
    connection: the peer vanished without a FIN) is disconnected within one and a half
    times the keep-alive (plus timer slack).

    Weakness class: half-open connections that are never reaped, so a client id, its
    session and a file descriptor stay held forever (connection-exhaustion DoS).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = mqtt_raw_client()
    answer = raw.connect(
        unique("mqttsec-rob"), username=probe.user, password=probe.password, keep_alive=1
    )
    assert int(answer.reason_code) == 0, f"{probe.user!r} could not log in: {answer}"
    keep_alive = answer.properties.get(PropertyId.SERVER_KEEP_ALIVE, 1)
    assert isinstance(keep_alive, int)
    if keep_alive == 0 or keep_alive > 2:
        mqttsec_unsupported(f"the broker overrides Keep Alive with {keep_alive} s")
    bound = 1.5 * keep_alive + _SLACK
    started = time.monotonic()
    _, closed = read_until_closed(raw, wait=bound)
    elapsed = time.monotonic() - started
    assert closed, (
        f"HALF-OPEN: a client silent for {bound:.1f}s (Keep Alive {keep_alive}s) is still connected"
    )
    probe.check(f"after reaping a silent client ({elapsed:.1f}s)")


@contextlib.contextmanager
def _sockets(host: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    """*count* TCP connections to host:port, all closed on exit whatever happened."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection((host, port), timeout=5))
        yield opened
    finally:
        for sock in opened:
            sock.close()


_FLOOD = 200
"""Idle connections opened at once: far above any legitimate client, far below a
file-descriptor limit (bounded load)."""


@pytest.mark.scenario(
    id="ROB-CONNECTION-FLOOD",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.8.0-1"],
)
def test_idle_connections_do_not_lock_out_users(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """While 200 unauthenticated connections sit idle (half of them with a CONNECT cut off
    mid-packet), a profile user can still connect and the probe keeps round-tripping.

    Weakness class: connection slots or worker threads held by clients that never finish
    their CONNECT (slowloris), so the broker refuses its real users.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    first = mqtt_raw_client()
    host, port = first.endpoint.host, first.endpoint.port
    first.close()
    partial = connect_bytes(mqtt_version, username=probe.user, password="x")[:9]
    with _sockets(host, port, _FLOOD) as flood:
        for sock in flood[::2]:
            sock.sendall(partial)
        client = mqtt_client(probe.user)
        client.close()
        probe.check(f"while {_FLOOD} idle connections are open")


@pytest.mark.scenario(
    id="ROB-SLOW-CONSUMER",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.8.0-1"],
)
def test_a_subscriber_that_never_reads(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A subscriber stops reading its socket while 16 MB are published to its topic: the
    broker buffers a bounded amount for it (or drops it) and the probe keeps round-tripping.

    Weakness class: unbounded per-client output queues (memory exhaustion) or a broker loop
    that blocks writing to one full socket (everyone stalls behind the slowest reader).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    sink = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    sink.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sink.send(Subscribe(1, (Subscription(f"{probe.stem}flood", QoS(0)),)))
    publisher = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    message = publish_bytes(mqtt_version, f"{probe.stem}flood".encode(), b"x" * 8192)
    with contextlib.suppress(PeerClosed, TimeoutError):
        publisher.send_bytes(message * 2048)  # bounded by the client's 5 s timeout
    probe.check("while a subscriber does not read 16 MB sent to it")


_MANY_FILTERS_WAIT = 30.0
"""How long a broker may take to answer 2,000 filters (RabbitMQ binds each one)."""


@pytest.mark.scenario(
    id="ROB-SUBSCRIBE-MANY-FILTERS",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.8.4-5", "MQTT-3.9.3"],
)
def test_one_subscribe_with_thousands_of_filters(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """One SUBSCRIBE carrying 2,000 filters: the broker answers each (granted or refused)
    or closes the client, and the probe keeps round-tripping meanwhile.

    Weakness class: per-filter work (ACL evaluation, retained lookups) done synchronously
    without a bound, so one packet stalls the broker for everyone.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    filters = tuple(Subscription(f"{probe.stem}f{i}/+", QoS(1)) for i in range(2000))
    with contextlib.suppress(PeerClosed):
        raw.send(Subscribe(1, filters))
    # The property: everyone else is served while the broker works through the filters.
    probe.check("while a SUBSCRIBE with 2,000 filters is handled")
    try:
        answer = raw.recv_or_closed(timeout=_MANY_FILTERS_WAIT)
    except ClientTimeout:
        deviation(
            f"a SUBSCRIBE with 2,000 filters: neither a SUBACK nor a close within "
            f"{_MANY_FILTERS_WAIT:.0f}s (the probe was served meanwhile)"
        )
        return
    probe.check("after a SUBSCRIBE with 2,000 filters")
    if isinstance(answer, Suback):
        assert len(answer.reason_codes) == len(filters), (
            f"SUBACK for {len(answer.reason_codes)} of {len(filters)} filters"
        )


@pytest.mark.scenario(
    id="ROB-DEEP-TOPIC",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.7.3-3", "MQTT-4.7.1-2"],
)
def test_ten_thousand_topic_levels(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A subscription to a filter of 10,000 ``+`` levels and a publish to a topic of
    10,000 levels: accepted or refused, but the broker neither crashes nor stalls.

    Weakness class: recursive topic-tree matching (stack exhaustion) and filters whose
    matching cost grows with the level count (algorithmic-complexity DoS).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    deep_filter = probe.stem + "+/" * 10_000 + "#"
    deep_topic = probe.stem + "a/" * 10_000 + "end"
    with contextlib.suppress(PeerClosed):
        raw.send(Subscribe(1, (Subscription(deep_filter, QoS(0)),)))
        try:
            raw.recv_or_closed()
        except ProtocolError as exc:
            # Accepted or refused is up to the broker, but in a packet of this version.
            deviation(f"answered a 10,000-level SUBSCRIBE with a malformed packet: {exc}")
        except ClientTimeout:
            # The property is that others are still served (checked below), not the SUBACK.
            deviation("no SUBACK for a 10,000-level SUBSCRIBE within the client timeout")
        raw.send_bytes(publish_bytes(mqtt_version, deep_topic.encode(), b"deep"))
    probe.check("after a 10,000-level subscription and publish")


@pytest.mark.scenario(
    id="ROB-QOS2-UNRELEASED-FLOOD",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.3.3-2", "MQTT-3.3.4-7"],
)
def test_qos2_flows_never_released(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """2,000 QoS 2 PUBLISHes with distinct packet ids, none ever released (no PUBREL): the
    broker holds bounded state for them (5.0: it may disconnect with 0x93 once the Receive
    Maximum it announced is exceeded) and the probe keeps round-tripping.

    Weakness class: unbounded in-flight QoS 2 state per client (memory exhaustion by a
    client that never completes a flow).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    topic = f"{probe.stem}qos2".encode()
    data = b"".join(
        publish_bytes(mqtt_version, topic, b"unreleased", qos=2, packet_id=pid)
        for pid in range(1, 2001)
    )
    with contextlib.suppress(PeerClosed, TimeoutError):
        raw.send_bytes(data)
    probe.check("after 2,000 unreleased QoS 2 flows")


_GUESSES = 50
"""Failed logins sent at once: a burst a password-guessing script produces in a blink."""


@pytest.mark.scenario(
    id="ROB-FAILED-LOGIN-BURST",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.4-1", "MQTT-5.4.2"],
)
def test_burst_of_failed_logins(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """Fifty CONNECTs with wrong passwords arrive at once: each is refused (never accepted),
    and the already-connected probe keeps round-tripping while the broker hashes them.

    Weakness class: password hashing done on the event loop (every guess stalls every
    client: a DoS by login attempts), or a refusal path that leaks an accepted session
    under load.
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    guessers = [mqtt_raw_client() for _ in range(_GUESSES)]
    for number, raw in enumerate(guessers):
        wrong = f"{unique('wrong')}-{number}"
        with contextlib.suppress(PeerClosed):
            raw.send_bytes(connect_bytes(mqtt_version, username=probe.user, password=wrong))
    probe.check(f"while {_GUESSES} failed logins are being checked")
    for raw in guessers:
        answer = raw.recv_or_closed()
        code = getattr(answer, "reason_code", None)
        assert code is None or int(code) != 0, f"ACCEPTED a wrong password: {answer!r}"
