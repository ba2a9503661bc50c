"""Helpers shared by the robustness scenarios: the *probe* (an ordinary client that must
keep working while another client attacks), hand-built packets, and the attacker's login.

Users and topics come from the profile; nothing is hard-coded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, PeerClosed
from mqttsec.fixtures.expect import expect_delivered
from mqttsec.fixtures.plugin import (
    MqttClientFactory,
    RawClientFactory,
    deviation,
    mqttsec_unsupported,
)
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Packet,
    Pingresp,
    ProtocolError,
    Puback,
    Pubrec,
    QoS,
    Suback,
    Subscription,
    Unsuback,
)
from mqttsec.suites.helpers import (
    PROBE_CLIENT_ID,
    connect_bytes,
    password_users,
    publish_bytes,
    remaining_length,
    string,
    unique,
)

__all__ = [
    "PROBE_TIMEOUT",
    "Attack",
    "MalformedAnswer",
    "MqttClientFactory",
    "Probe",
    "attacker",
    "closed_or_refused",
    "connect_bytes",
    "login",
    "open_probe",
    "prove_not_forwarded",
    "publish_bytes",
    "read_until_closed",
    "refuse_and_survive",
    "remaining_length",
    "string",
    "watched_attack",
    "watcher",
]

PROBE_TIMEOUT = 5.0
"""How long the probe's own message may take to come back (seconds)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """An ordinary client, connected before the attack, that publishes to a topic it is
    subscribed to. Attributes: *user* (and its *password*, for CONNECTs built by hand),
    *client*, *stem* (a fresh topic prefix the user may write and read, ending in ``/``) and
    *topic* (one topic under it)."""

    user: str
    password: str
    client: MqttClient
    stem: str
    topic: str

    def check(self, when: str) -> None:
        """The probe's own message comes back within :data:`PROBE_TIMEOUT`."""
        payload = unique("mqttsec-probe").encode()
        try:
            expect_delivered(self.client, self.client, self.topic, payload, timeout=PROBE_TIMEOUT)
        except (AssertionError, PeerClosed, ClientTimeout) as exc:
            raise AssertionError(
                f"STALLED: the probe client ({self.user!r}) no longer round-trips a message "
                f"{when}: {exc}"
            ) from None


def _self_route(profile: SecurityProfile) -> tuple[str, str]:
    """A password user and a fresh topic stem the user may both publish and receive."""
    for user in password_users(profile):
        for rule in profile.acl:
            if "%c" in rule.topic or not rule.topic.endswith("#"):
                continue
            stem = rule.topic[:-1].replace("%u", user).replace("+", "x")
            if stem.startswith("$") or (stem and not stem.endswith("/")):
                continue
            stem = f"{stem}{unique('mqttsec-rob')}/"
            probe = f"{stem}probe"
            if profile.may_publish(
                user, probe, "plain", client_id=PROBE_CLIENT_ID
            ) and profile.may_receive(user, probe, "plain", client_id=PROBE_CLIENT_ID):
                return user, stem
    mqttsec_unsupported(f"profile {profile.name!r} has no user who may read their own writes")
    raise AssertionError("unreachable")  # pragma: no cover


def open_probe(mqtt_client: MqttClientFactory, profile: SecurityProfile) -> Probe:
    """Connect and subscribe the probe, and check it works before any attack."""
    user, stem = _self_route(profile)
    client = mqtt_client(user)
    topic = f"{stem}probe"
    granted = client.subscribe(topic)
    assert granted[0] < 0x80, f"the probe {user!r} may not subscribe to {topic!r}: {granted}"
    probe = Probe(user, profile.users[user].password, client, stem, topic)
    probe.check("before the attack (harness check)")
    return probe


def attacker(raw: RawClientFactory, profile: SecurityProfile, user: str) -> RawClient:
    """A raw client logged in as *user* (the attack is from an authenticated client)."""
    return login(raw, profile, user)[0]


def login(raw: RawClientFactory, profile: SecurityProfile, user: str) -> tuple[RawClient, Connack]:
    """A raw client logged in as *user*, and the broker's CONNACK (its 5.0 limits)."""
    client = raw()
    answer = client.connect(
        unique("mqttsec-rob"), username=user, password=profile.users[user].password
    )
    assert int(answer.reason_code) == 0, f"{user!r} could not log in: {answer}"
    return client, answer


def closed_or_refused(raw: RawClient, what: str) -> list[Packet]:
    """Require the broker to close *raw* (bounded) without ever accepting a CONNECT on it;
    the packets it sent before closing."""
    try:
        got = raw.expect_closed()
    except AssertionError as exc:
        raise AssertionError(f"NOT CLOSED after {what}: {exc}") from None
    accepted = [p for p in got if isinstance(p, Connack) and int(p.reason_code) == 0]
    assert not accepted, f"ACCEPTED: {what} got CONNACK 0x00"
    return got


def watcher(raw: RawClientFactory, profile: SecurityProfile, probe: Probe) -> RawClient:
    """A raw client of the probe's user subscribed to ``#`` and to the probe's whole stem:
    it sees anything an attack could get forwarded, and decodes it strictly (a malformed
    PUBLISH reaching it is itself a finding)."""
    client = raw()
    user = probe.user
    answer = client.connect(
        unique("mqttsec-rob"), username=user, password=profile.users[user].password
    )
    assert int(answer.reason_code) == 0, f"the watcher {user!r} could not log in: {answer}"
    suback = client.subscribe(Subscription("#", QoS(1)), Subscription(f"{probe.stem}#", QoS(1)))
    assert int(suback.reason_codes[1]) < 0x80, f"watcher may not read {probe.stem}#: {suback}"
    return client


def prove_not_forwarded(watch: RawClient, probe: Probe, marker: bytes, what: str) -> None:
    """Nothing carrying *marker* reaches *watch*: the probe publishes a sentinel to its own
    topic, and every message before the sentinel is inspected (no sleep, no timeout as
    evidence)."""
    sentinel = unique("mqttsec-sentinel").encode()
    probe.client.publish(probe.topic, sentinel, qos=1)
    try:
        while True:
            message = watch.next_message()
            assert marker not in message.payload and marker.decode() not in message.topic, (
                f"FORWARDED {what}: {message!r}"
            )
            if message.payload == sentinel:
                return
    except ProtocolError as exc:
        raise AssertionError(f"FORWARDED {what} as a malformed PUBLISH: {exc}") from None


@dataclass(frozen=True, slots=True)
class Attack:
    """A logged-in attacker under watch: the *probe*, a :func:`watcher` of the probe's user,
    and the attacking client *raw*, logged in as that user (*connack*: the broker's answer,
    with its 5.0 limits)."""

    probe: Probe
    watch: RawClient
    raw: RawClient
    connack: Connack

    def refused_unforwarded(self, data: bytes, marker: bytes, what: str) -> None:
        """The attacker sends *data*: the broker closes it and keeps serving the probe (see
        :func:`refuse_and_survive`), and nothing carrying *marker* reaches the watcher."""
        refuse_and_survive(self.raw, data, what, self.probe)
        prove_not_forwarded(self.watch, self.probe, marker, what)


def watched_attack(
    mqtt_client: MqttClientFactory, raw: RawClientFactory, profile: SecurityProfile
) -> Attack:
    """Open the probe, then its watcher, then log the attacker in (in that order)."""
    probe = open_probe(mqtt_client, profile)
    watch = watcher(raw, profile, probe)
    client, connack = login(raw, profile, probe.user)
    return Attack(probe, watch, client, connack)


_ACKS = (Puback, Pubrec, Suback, Unsuback, Pingresp)


def refuse_and_survive(raw: RawClient, data: bytes, what: str, probe: Probe) -> list[Packet]:
    """Send *data*; the broker must close *raw* (a 5.0 DISCONNECT first is fine) and the
    probe must still round-trip.

    A broker that keeps the connection open, or acknowledges the packet as if it were
    valid, answers something the spec forbids: that is a *deviation* (nothing leaked by
    itself; the caller proves non-delivery where a message is involved). Accepting a
    CONNECT on the way is a fail.
    """
    try:
        raw.send_bytes(data)
    except PeerClosed:
        pass
    try:
        got, closed = read_until_closed(raw)
    except MalformedAnswer as exc:
        probe.check(f"after {what}")
        deviation(f"{what}: {exc}")
        return []
    accepted = [p for p in got if isinstance(p, Connack) and int(p.reason_code) == 0]
    assert not accepted, f"ACCEPTED: {what} got CONNACK 0x00"
    probe.check(f"after {what}")
    if not closed:
        deviation(f"{what}: connection still open after {CLOSE_WAIT}s (got {got!r})")
    acks = [p for p in got if isinstance(p, _ACKS) and _positive(p)]
    if acks:
        deviation(f"{what}: acknowledged as valid: {acks!r}")
    return got


CLOSE_WAIT = 2.0
"""How long a broker gets to close a connection it must close (seconds): closing is
immediate in every broker that does it, so waiting longer only slows the deviations."""


def read_until_closed(raw: RawClient, wait: float = CLOSE_WAIT) -> tuple[list[Packet], bool]:
    """Everything the broker sends until it closes *raw* or *wait* passes; and whether it
    closed.

    Raises:
        MalformedAnswer: the broker answered with bytes that are no valid packet (a broker
            must never send one, whatever it received).
    """
    got: list[Packet] = []
    deadline = time.monotonic() + wait
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            got.append(raw.recv(remaining))
        except PeerClosed:
            return got, True
        except ClientTimeout:
            break
        except ProtocolError as exc:
            raise MalformedAnswer(
                f"answered with a malformed packet after {got!r}: {exc}"
            ) from None
    return got, False


class MalformedAnswer(AssertionError):
    """The broker sent bytes that are no valid packet."""


def _positive(ack: Packet) -> bool:
    """Whether an acknowledgement says "accepted" (a code below 0x80, or no code)."""
    codes = getattr(ack, "reason_codes", None)
    if codes is not None:
        return not codes or any(int(c) < 0x80 for c in codes)
    code = getattr(ack, "reason_code", 0)
    return int(code) < 0x80
