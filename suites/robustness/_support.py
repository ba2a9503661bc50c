"""Helpers shared by the robustness scenarios: the *probe* (an ordinary client that must
keep working while another client attacks), hand-built packets, and the attacker's login.

Users and topics come from the profile; nothing is hard-coded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, PeerClosed
from mqttsec.fixtures.expect import expect_delivered
from mqttsec.fixtures.plugin import RawClientFactory, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import Connack, Packet
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
    "Probe",
    "attacker",
    "closed_or_refused",
    "connect_bytes",
    "open_probe",
    "publish_bytes",
    "remaining_length",
    "string",
]

MqttClientFactory = Callable[..., MqttClient]

PROBE_TIMEOUT = 5.0
"""How long the probe's own message may take to come back (seconds)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """An ordinary client, connected before the attack, that publishes to a topic it is
    subscribed to. Attributes: *user*, *client*, *stem* (a fresh topic prefix the user may
    write and read, ending in ``/``) and *topic* (one topic under it)."""

    user: str
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
    probe = Probe(user, client, stem, topic)
    probe.check("before the attack (harness check)")
    return probe


def attacker(raw: RawClientFactory, profile: SecurityProfile, user: str) -> RawClient:
    """A raw client logged in as *user* (the attack is from an authenticated client)."""
    client = raw()
    answer = client.connect(
        unique("mqttsec-rob"), username=user, password=profile.users[user].password
    )
    assert int(answer.reason_code) == 0, f"the attacker {user!r} could not log in: {answer}"
    return client


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
