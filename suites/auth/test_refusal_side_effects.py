"""Auth scenarios: a refused CONNECT leaves nothing behind.

A refusal is only a refusal if the broker threw the whole connection away: no will
registered, nothing sent after the CONNECT processed, no session created, no existing client
with the same client id disconnected. Every "nothing happened" is proven with a sentinel.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.expect import expect_delivered, expect_not_delivered
from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import (
    Connack,
    ProtocolVersion,
    Publish,
    QoS,
    Will,
    encode,
)

from ._support import (
    MqttClientFactory,
    attempt,
    close_after,
    expect_no_publish_from,
    expect_not_retained,
    find_route,
    require_refused,
    unique,
    wait_closed,
    wrong_login,
)


class _RefusedPublisher:
    """Stands in as the "publisher" of a forbidden message: its publish() is a CONNECT with
    a wrong password that carries the message (as a will, or as a PUBLISH pipelined right
    behind the CONNECT), then it waits for the broker to close the connection."""

    def __init__(
        self, raw: RawClientFactory, version: ProtocolVersion, user: str, *, as_will: bool
    ) -> None:
        self._raw = raw
        self._version = version
        self._user = user
        self._as_will = as_will
        self.answer: Connack | None = None

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> object:
        raw = self._raw()
        will = Will(topic, payload, QoS(qos)) if self._as_will else None
        data = wrong_login(self._version, self._user, will=will)
        if not self._as_will:
            publish = Publish(topic, payload, QoS(qos), retain=True, packet_id=1 if qos else None)
            data += encode(publish, self._version)
        self.answer = attempt(raw, data)
        # Once the broker has closed the connection it is done with it: a will it
        # (wrongly) kept has been published by then, before the sentinel is sent.
        close_after(raw, self.answer)
        return self.answer


@pytest.mark.scenario(
    id="AUTH-REFUSAL-CLOSES",
    family="auth",
    severity="low",
    spec=["MQTT-3.2.2-4", "MQTT-3.2.2-5", "MQTT-3.2.2-6", "MQTT-3.2.2-7"],
)
def test_refusal_is_final(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A refused CONNECT gets the version's code (3.1.1: 0x04 or 0x05; 5.0: 0x86 or 0x87),
    Session Present 0, and then the broker closes the connection.

    Weakness class: a half-refused connection that stays open (and may process what the
    client sends next). A close without CONNACK or another refusal code is a deviation.
    """
    route = find_route(mqtt_profile)
    raw = mqtt_raw_client()
    answer = attempt(raw, wrong_login(mqtt_version, route.writer, persistent=True))
    require_refused(answer, mqtt_version, f"{route.writer!r} with a wrong password")
    if answer is not None:
        assert not answer.session_present, "a refused CONNACK has Session Present 1"
        raw.expect_closed()
    raw.close()


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-WILL",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.2-8", "MQTT-3.1.4-5", "MQTT-3.2.2-5"],
)
def test_refused_connect_publishes_no_will(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT with a will and a wrong password must not publish the will when the
    connection ends: the will belongs to a session that was never accepted.

    Weakness class: wills registered before authentication completes, so anyone can
    publish (as a known user, on that user's topics) without a password; related to
    mochi-mqtt #503 (wills skipping the write ACL).
    """
    route = find_route(mqtt_profile)
    refused = _RefusedPublisher(mqtt_raw_client, mqtt_version, route.writer, as_will=True)
    expect_no_publish_from(mqtt_client, route, refused, "will")
    require_refused(refused.answer, mqtt_version, f"{route.writer!r} with a will")


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-PUBLISH",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-5", "MQTT-3.1.4-6"],
)
def test_refused_connect_processes_nothing_after_it(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A retained PUBLISH sent right behind a refused CONNECT (in the same TCP write) is
    neither delivered to subscribers nor stored as retained.

    Weakness class: packets already buffered behind the CONNECT processed before (or
    regardless of) the authentication result; [MQTT-3.1.4-5] forbids it.
    """
    route = find_route(mqtt_profile, count=2)
    forbidden, sentinel = route.topics
    observer = mqtt_client(route.reader)
    assert all(code < 0x80 for code in observer.subscribe(forbidden, sentinel))
    writer = mqtt_client(route.writer)
    payload = unique("pipelined").encode()
    refused = _RefusedPublisher(mqtt_raw_client, mqtt_version, route.writer, as_will=False)
    expect_not_delivered(
        observer, refused, forbidden, payload, sentinel_topic=sentinel, sentinel_publisher=writer
    )
    require_refused(refused.answer, mqtt_version, f"{route.writer!r} with a pipelined PUBLISH")
    leak = f"the refused client's PUBLISH was stored as retained on {forbidden!r}"
    expect_not_retained(mqtt_client, writer, route.reader, forbidden, sentinel, payload, leak)


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-SESSION",
    family="auth",
    severity="medium",
    spec=["MQTT-3.2.2-4", "MQTT-3.2.2-6", "MQTT-3.1.2-4"],
)
def test_refused_connect_creates_no_session(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A refused CONNECT asking for a persistent session creates none: the right user
    connecting afterwards with the same client id finds no session (Session Present 0).

    Weakness class: session state created before authentication, which an attacker can
    fill (subscriptions, queued messages) for a client id a real device will use.
    """
    route = find_route(mqtt_profile)
    client_id = unique()
    raw = mqtt_raw_client()
    data = wrong_login(mqtt_version, route.reader, client_id, persistent=True)
    require_refused(attempt(raw, data), mqtt_version, "persistent CONNECT")
    raw.close()
    good = mqtt_raw_client()
    answer = good.connect(
        client_id,
        username=route.reader,
        password=mqtt_profile.users[route.reader].password,
        clean=False,
    )
    assert int(answer.reason_code) == 0, f"{route.reader!r} cannot log in: {answer!r}"
    assert not answer.session_present, (
        f"the refused CONNECT left a session for client id {client_id!r}"
    )
    good.close()


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-TAKEOVER",
    family="auth",
    severity="medium",
    spec=["MQTT-3.1.4-2", "MQTT-3.1.4-3"],
)
def test_refused_connect_does_not_kick_the_owner(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT with a connected client's id and a wrong password does not disconnect that
    client: the takeover rule applies to accepted connections only.

    Weakness class: duplicate client id handled before authentication, a denial of service
    that needs no password (any client id seen on the network suffices).
    """
    route = find_route(mqtt_profile)
    topic = route.topics[0]
    client_id = unique()
    owner = mqtt_client(route.reader, client_id=client_id)
    assert owner.subscribe(topic)[0] < 0x80
    raw = mqtt_raw_client()
    data = wrong_login(mqtt_version, route.reader, client_id)
    require_refused(attempt(raw, data), mqtt_version, "takeover CONNECT")
    wait_closed(raw)
    writer = mqtt_client(route.writer)
    expect_delivered(owner, writer, topic, unique("still-there").encode())
    assert owner.closed_reason is None, f"the owner was disconnected: {owner.closed_reason}"
