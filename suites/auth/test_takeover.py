"""Auth scenario: a client id does not carry one user's messages to another user.

MQTT ties a session to the client id, not to the user, and lets a new connection with the
same id take over [MQTT-3.1.4-2] (3.1.1) / [MQTT-3.1.4-3] (5.0). So a broker may let a
different user take over a client id, and may even resume its session; what it must not do
is deliver what was queued for the first user to someone the profile's ACL does not allow
to read it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, Received
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import Properties, ProtocolVersion

from ._plans import takeover_plan
from ._support import unique

MqttClientFactory = Callable[..., MqttClient]


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
    plan = takeover_plan(mqtt_profile)
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
