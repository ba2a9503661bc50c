"""Auth scenario: a client id does not carry one user's messages to another user.

MQTT ties a session to the client id, not to the user, and lets a new connection with the
same id take over [MQTT-3.1.4-2] (3.1.1) / [MQTT-3.1.4-3] (5.0). So a broker may let a
different user take over a client id, and may even resume its session; what it must not do
is deliver what was queued for the first user to someone the profile's ACL does not allow
to read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, Received
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import RawClientFactory, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import Properties, ProtocolVersion

from ._support import PROBE_CLIENT_ID, password_users, unique

MqttClientFactory = Callable[..., MqttClient]


@dataclass(frozen=True, slots=True)
class _Takeover:
    victim: str
    attacker: str
    publisher: str
    secret: str  # the victim may read it, the attacker may not
    shared: str  # both may read it (the sentinel)


def _candidates(profile: SecurityProfile, user: str) -> list[str]:
    out = []
    for rule in profile.acl:
        if "%c" in rule.topic or rule.topic.startswith("$"):
            continue
        base = rule.topic.replace("%u", user)
        out.append(base[:-1] + unique() if base.endswith("#") else base)
    return [t.replace("+", "x") for t in out]


def _plan(profile: SecurityProfile) -> _Takeover:
    """Two users and two topics for the scenario, chosen from the profile's ACL."""
    users = password_users(profile)
    cid = PROBE_CLIENT_ID

    def reads(user: str, topic: str) -> bool:
        return profile.may_receive(user, topic, "plain", client_id=cid)

    topics = [t for u in users for t in _candidates(profile, u)]
    for victim in users:
        for attacker in users:
            if attacker == victim:
                continue
            secret = [t for t in topics if reads(victim, t) and not reads(attacker, t)]
            shared = [t for t in topics if reads(victim, t) and reads(attacker, t)]
            for s in secret:
                for h in shared:
                    for publisher in users:
                        if profile.may_publish(
                            publisher, s, "plain", client_id=cid
                        ) and profile.may_publish(publisher, h, "plain", client_id=cid):
                            return _Takeover(victim, attacker, publisher, s, h)
    mqttsec_unsupported(
        f"profile {profile.name!r} has no two users with a topic only one of them may read "
        "and one both may read"
    )
    raise AssertionError("unreachable")


@pytest.mark.scenario(
    id="AUTH-CLIENTID-TAKEOVER-SESSION",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-2", "MQTT-3.1.4-3", "MQTT-3.1.2-4", "MQTT-3.1.2-5"],
)
def test_takeover_by_another_user_leaks_no_queued_message(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """User V leaves a persistent session subscribed to a topic only V may read; a message
    is queued for it; user A logs in with V's client id and asks to resume. A broker may
    refuse A, start A afresh, or resume the session, but A must never receive the queued
    message (proven by a sentinel queued after it on a topic both may read).

    Weakness class: authorization decided when a message is queued for a session and not
    re-checked for the user that actually receives it (a client id, often guessable or
    printed on a device, becomes a way to read another user's messages); related to
    mosquitto CVE-2021-34434 (stale permissions on durable sessions).
    """
    plan = _plan(mqtt_profile)
    client_id = unique()
    victim = mqtt_client(plan.victim, client_id=client_id, clean=False, connect=False)
    assert victim.connect(session_expiry=600) == 0, victim.refusal
    assert all(code < 0x80 for code in victim.subscribe(plan.secret, plan.shared, qos=1))
    victim.close()
    publisher = mqtt_client(plan.publisher)
    secret = unique("queued-secret").encode()
    token = unique("queued-sentinel").encode()
    publisher.publish(plan.secret, secret, qos=1)
    publisher.publish(plan.shared, token, qos=1)

    attacker = mqtt_raw_client()
    expiry = (
        Properties.of(session_expiry_interval=600)
        if mqtt_version is ProtocolVersion.V5
        else Properties()
    )
    answer = attacker.connect(
        client_id,
        username=plan.attacker,
        password=mqtt_profile.users[plan.attacker].password,
        clean=False,
        properties=expiry,
    )
    if int(answer.reason_code) != 0 or not answer.session_present:
        return  # refused, or the victim's session was discarded: nothing to leak
    seen: list[Received] = []
    while True:
        try:
            message = attacker.next_message()
        except ClientTimeout:
            raise SentinelLost(
                f"{plan.attacker!r} resumed {plan.victim!r}'s session but the queued "
                f"sentinel on {plan.shared!r} never came; seen {seen!r}"
            ) from None
        assert message.payload != secret, (
            f"LEAK: {plan.attacker!r} took over {plan.victim!r}'s client id and received "
            f"the message queued on {plan.secret!r}, which the profile forbids it to read"
        )
        if message.payload == token:
            return
        seen.append(message)
