"""Auth scenarios: a refused CONNECT leaves nothing behind, continued.

Beyond the will and the pipelined PUBLISH of ``test_refusal_side_effects``: a retained
will, wills from every kind of refused client, a SUBSCRIBE behind a refused CONNECT, and the
opposite direction, a refused CONNECT that *destroys* state (the owner's stored session).
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout, MqttClient
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import RawClientFactory, deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Properties,
    ProtocolVersion,
    Publish,
    QoS,
    Suback,
    Subscribe,
    Subscription,
    Will,
    encode,
)
from mqttsec.suites.helpers import delivers_fresh

from ._support import (
    MqttClientFactory,
    Route,
    attempt,
    close_after,
    expect_no_publish_from,
    expect_not_retained,
    find_route,
    persistent_login,
    read_until_sentinel,
    require_refused,
    unique,
    unknown_username,
    wait_closed,
    wrong_login,
)


class _RefusedWills:
    """A "publisher" whose publish() is a series of refused CONNECTs, each carrying the
    message as its will: one per way of not being logged in."""

    def __init__(
        self,
        raw: RawClientFactory,
        profile: SecurityProfile,
        version: ProtocolVersion,
        user: str,
    ) -> None:
        self._raw = raw
        self._version = version
        self.logins: dict[str, tuple[str | None, bytes | None, int]] = {
            f"{user!r}, wrong password, will QoS 2": (user, unique("wrong").encode(), 2),
            f"{user!r}, empty password, will QoS 1": (user, b"", 1),
            "unknown user, will QoS 1": (unknown_username(profile), b"pw", 1),
        }
        if not profile.may_connect(None, "plain"):
            self.logins["anonymous, will QoS 0"] = (None, None, 0)
        self.answers: dict[str, Connack | None] = {}

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> object:
        for how, (username, password, will_qos) in self.logins.items():
            properties = (
                Properties.of(will_delay_interval=0)
                if self._version is ProtocolVersion.V5
                else Properties()
            )
            connect = Connect(
                client_id=unique(),
                protocol_version=self._version,
                username=username,
                password=password,
                will=Will(topic, payload, QoS(will_qos), properties=properties),
            )
            raw = self._raw()
            self.answers[how] = attempt(raw, encode(connect, self._version))
            close_after(raw, self.answers[how])
        return None


@pytest.mark.scenario(
    id="AUTH-REFUSED-WILL-VARIANTS",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.2-8", "MQTT-3.1.4-5", "MQTT-3.2.2-5"],
)
def test_no_refused_client_leaves_a_will(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """Wills carried by refused CONNECTs of every kind (wrong password with will QoS 2,
    empty password, unknown user, anonymous) are never published.

    Weakness class: wills registered before authentication on some refusal paths only
    (e.g. the unknown-user branch returns early, the anonymous branch does not), an
    unauthenticated publish channel (cf. mochi-mqtt #503).
    """
    route = find_route(mqtt_profile)
    refused = _RefusedWills(mqtt_raw_client, mqtt_profile, mqtt_version, route.writer)
    expect_no_publish_from(mqtt_client, route, refused, "refused-will")
    for how, answer in refused.answers.items():
        require_refused(answer, mqtt_version, how)


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-RETAINED-WILL",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.2-8", "MQTT-3.1.2-17", "MQTT-3.1.4-5"],
)
def test_refused_connect_retains_no_will(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A refused CONNECT whose will has the retain flag leaves no retained message: a
    subscriber arriving later finds none (proven with a retained sentinel).

    Weakness class: a will kept by a refused connection and published as retained, which
    plants a message under a real user's name that every future subscriber receives (the
    damage outlives the connection).
    """
    route = find_route(mqtt_profile, count=2)
    forbidden, sentinel = route.topics
    payload = unique("retained-will").encode()
    raw = mqtt_raw_client()
    will = Will(forbidden, payload, QoS(1), retain=True)
    answer = attempt(raw, wrong_login(mqtt_version, route.writer, will=will))
    require_refused(answer, mqtt_version, f"{route.writer!r} with a retained will")
    wait_closed(raw)
    writer = mqtt_client(route.writer)
    leak = f"a refused client's will was retained on {forbidden!r}"
    expect_not_retained(mqtt_client, writer, route.reader, forbidden, sentinel, payload, leak)


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-SUBSCRIPTION",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-5", "MQTT-3.1.4-6", "MQTT-3.2.2-4", "MQTT-3.2.2-6"],
)
def test_refused_connect_subscribes_nothing(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A SUBSCRIBE pipelined behind a refused persistent CONNECT gets no SUBACK, and creates
    no subscription: a message published afterwards is not queued for that client id (the
    real user resuming the id finds neither a session nor the message).

    Weakness class: packets behind a refused CONNECT processed anyway; here they would let
    an attacker plant a subscription in a session a real device resumes later, or read
    through it directly if the connection is not closed at once.
    """
    route = find_route(mqtt_profile)
    topic = route.topics[0]
    client_id = unique()
    raw = mqtt_raw_client()
    connect = wrong_login(mqtt_version, route.reader, client_id, persistent=True)
    subscribe = Subscribe(1, (Subscription(topic, QoS(1)),))
    raw.send_bytes(connect + encode(subscribe, mqtt_version))
    answers = []
    try:
        while (packet := raw.recv_or_closed()) is not None:
            answers.append(packet)
            if isinstance(packet, Connack) and int(packet.reason_code) == 0:
                break  # accepted: no close to wait for
    except ClientTimeout:
        pass
    raw.close()
    connacks = [p for p in answers if isinstance(p, Connack)]
    require_refused(connacks[0] if connacks else None, mqtt_version, "CONNECT + SUBSCRIBE")
    assert not any(isinstance(p, Suback | Publish) for p in answers), (
        f"the refused connection had its SUBSCRIBE handled: {answers!r}"
    )
    writer = mqtt_client(route.writer)
    secret = unique("for-the-refused").encode()
    writer.publish(topic, secret, qos=1)
    _resume_without(mqtt_raw_client, mqtt_profile, mqtt_version, route, client_id, secret, writer)


def _resume_without(
    raw_client: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    route: Route,
    client_id: str,
    secret: bytes,
    writer: MqttClient,
) -> None:
    """The real reader resumes *client_id*: no session, or at least not *secret* in it."""
    good, answer = persistent_login(raw_client, profile, version, route.reader, client_id)
    assert int(answer.reason_code) == 0, f"{route.reader!r} cannot log in: {answer!r}"
    if not answer.session_present:
        good.close()
        return
    token = unique("resume-sentinel").encode()
    writer.publish(route.topics[0], token, qos=1)
    try:
        read_until_sentinel(
            good,
            token,
            secret,
            leak=f"a SUBSCRIBE behind a refused CONNECT created a subscription for {client_id!r}",
            lost="session resumed but no sentinel",
        )
    except SentinelLost:
        # A session without that subscription (what we want), or a dead connection.
        if not delivers_fresh(good, writer, route.topics[0], secret):
            deviation(
                f"{route.reader!r} resumed {client_id!r} (Session Present 1) but the "
                "connection delivers nothing, not even its own new subscription"
            )
    good.close()


@pytest.mark.scenario(
    id="AUTH-REFUSED-KEEPS-SESSION",
    family="auth",
    severity="medium",
    spec=["MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-3.1.4-5", "MQTT-3.1.4-6"],
)
def test_refused_clean_start_keeps_the_owners_session(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A user leaves a persistent session with a queued message; a CONNECT with that client
    id, clean start and a wrong password is refused and must not discard the session: the
    owner resumes it (Session Present 1) and receives the queued message.

    Weakness class: clean start applied before authentication, so anyone who knows a
    client id can wipe a device's session and the messages queued for it (data loss and
    denial of service without credentials).
    """
    route = find_route(mqtt_profile)
    topic = route.topics[0]
    client_id = unique()
    owner, answer = persistent_login(
        mqtt_raw_client, mqtt_profile, mqtt_version, route.reader, client_id
    )
    assert int(answer.reason_code) == 0, f"{route.reader!r} cannot log in: {answer!r}"
    assert owner.subscribe(topic).reason_codes[0] < 0x80
    owner.close()
    writer = mqtt_client(route.writer)
    queued = unique("queued").encode()
    writer.publish(topic, queued, qos=1)
    raw = mqtt_raw_client()
    wipe = wrong_login(mqtt_version, route.reader, client_id)  # clean start
    require_refused(attempt(raw, wipe), mqtt_version, "clean-start CONNECT")
    wait_closed(raw)
    back, answer = persistent_login(
        mqtt_raw_client, mqtt_profile, mqtt_version, route.reader, client_id
    )
    assert int(answer.reason_code) == 0, f"{route.reader!r} cannot log in again: {answer!r}"
    try:
        message = back.next_message()
    except ClientTimeout:
        assert answer.session_present, (
            f"SESSION LOST: a refused clean-start CONNECT discarded {route.reader!r}'s session "
            f"{client_id!r} (Session Present 0, the queued message never came)"
        )
        # Session Present 1 without the queued message: the session was emptied, unless
        # this connection delivers nothing at all.
        works = delivers_fresh(back, writer, topic)
        assert not works, (
            f"SESSION LOST: after a refused clean-start CONNECT, {route.reader!r} got Session "
            f"Present 1 for {client_id!r} but neither the queued message nor the subscription "
            "survived"
        )
        deviation(
            f"{route.reader!r} resumed {client_id!r} (Session Present 1) but the connection "
            "delivers nothing, not even its own new subscription"
        )
        return
    assert message.payload == queued, f"the queued message was lost; got {message!r}"
    if not answer.session_present:
        # The session survived (its queued message came) but the broker did not say so.
        deviation(
            f"{client_id!r} was resumed with its queued message, but the CONNACK said "
            "Session Present 0 [MQTT-3.2.2-2]"
        )
