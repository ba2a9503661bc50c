"""Auth scenario: a client id does not carry one user's messages to another user.

MQTT ties a session to the client id, not to the user, and lets a new connection with the
same id take over [MQTT-3.1.4-2] (3.1.1) / [MQTT-3.1.4-3] (5.0). So a broker may let a
different user take over a client id, and may even resume its session; what it must not do
is deliver what was queued for the first user to someone the profile's ACL does not allow
to read it.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._plans import connect_victim, take_over, takeover_plan
from ._support import MqttClientFactory, read_until_sentinel, unique


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
    victim = connect_victim(mqtt_client, plan, client_id)
    victim.close()
    publisher = mqtt_client(plan.publisher)
    secret = unique("queued-secret").encode()
    token = unique("queued-sentinel").encode()
    publisher.publish(plan.secret, secret, qos=1)
    publisher.publish(plan.shared, token, qos=1)

    attacker = take_over(mqtt_raw_client, mqtt_profile, mqtt_version, plan, client_id)
    if attacker is None:
        return  # refused, or the victim's session was discarded: nothing to leak
    read_until_sentinel(
        attacker,
        token,
        secret,
        leak=(
            f"{plan.attacker!r} took over {plan.victim!r}'s client id and received the "
            f"message queued on {plan.secret!r}, which the profile forbids it to read"
        ),
        lost=(
            f"{plan.attacker!r} resumed {plan.victim!r}'s session but the queued sentinel on "
            f"{plan.shared!r} never came"
        ),
    )
