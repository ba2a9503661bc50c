"""Auth scenarios: the client id is an identity too.

MQTT keys sessions by client id, and a new connection with a connected client's id takes
that client's place. So a client id must be compared as the exact string it is, an empty one
must never make two clients share a session, and only an *accepted* login may take over an
id. A broker may still let another authenticated user take over an id (the spec allows it);
what it must not do is hand that user the first user's subscriptions.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import MqttClient, PeerClosed
from mqttsec.fixtures.expect import SentinelLost, expect_delivered
from mqttsec.fixtures.plugin import RawClientFactory, deviation, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import PropertyId, ProtocolVersion
from mqttsec.suites.helpers import delivers_fresh

from ._plans import connect_victim, take_over, takeover_plan
from ._support import (
    MqttClientFactory,
    attempt,
    connect_bytes,
    find_route,
    password_users,
    persistent_login,
    read_until_sentinel,
    require_refused,
    still_serves,
    unique,
    unknown_username,
    user_connect,
    wait_closed,
)


def _other_user(profile: SecurityProfile, user: str) -> str:
    """A password user other than *user* when the profile has one, else *user*."""
    users = password_users(profile)
    return next((u for u in users if u != user), user)


def _owner_still_served(owner: MqttClient, writer: MqttClient, topic: str, what: str) -> None:
    """The owner of a client id was not thrown out: it is connected and still receives."""
    expect_delivered(owner, writer, topic, unique("still-owner").encode())
    assert owner.closed_reason is None, f"{what} disconnected the owner: {owner.closed_reason}"


@pytest.mark.scenario(
    id="AUTH-CLIENTID-MALFORMED",
    family="auth",
    severity="high",
    spec=["MQTT-1.5.3-1", "MQTT-1.5.3-2", "MQTT-1.5.4-1", "MQTT-1.5.4-2", "MQTT-3.1.3-4"],
)
def test_malformed_client_id_does_not_alias_another(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A connected client owns id X; another user logs in with ``X\\0``, ``X\\0junk``,
    ``X\\xff`` and X with its last character in overlong UTF-8. These are malformed client
    ids: the broker should close (accepting is a deviation), and the owner of X must keep
    its connection (a takeover through such an id fails the scenario).

    Weakness class: client ids cut at NUL (C strings) or decoded leniently, so that a
    "different" id names an existing session: an authenticated user takes over (and may
    resume) another device's session, or uses ``%c`` rules meant for it.
    """
    route = find_route(mqtt_profile)
    client_id = unique()
    owner = mqtt_client(route.reader, client_id=client_id)
    assert owner.subscribe(route.topics[0])[0] < 0x80
    other = _other_user(mqtt_profile, route.reader)
    raw_id = client_id.encode()
    overlong = raw_id[:-1] + bytes([0xC0 | (raw_id[-1] >> 6), 0x80 | (raw_id[-1] & 0x3F)])
    variants = (raw_id + b"\x00", raw_id + b"\x00" + unique().encode(), raw_id + b"\xff", overlong)
    for variant in variants:
        raw = mqtt_raw_client()
        answer = attempt(raw, user_connect(mqtt_profile, mqtt_version, other, client_id=variant))
        raw.close()
        if answer is not None and int(answer.reason_code) == 0:
            deviation(f"client id {variant!r} (ill-formed UTF-8 or NUL) was accepted")
    writer = mqtt_client(route.writer)
    _owner_still_served(owner, writer, route.topics[0], "a malformed alias of its client id")


@pytest.mark.scenario(
    id="AUTH-LONG-CLIENTID",
    family="auth",
    severity="medium",
    spec=["MQTT-3.1.3-5", "MQTT-3.1.3-9", "MQTT-3.1.3-8"],
)
def test_long_client_ids_are_not_truncated(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """Client ids of up to 65535 bytes are either refused (identifier rejected) or kept
    whole: a second user whose 60000-byte id differs from a connected client's only in the
    last characters does not take that client's place, and the broker keeps serving.

    Weakness class: client ids truncated to a fixed buffer (23 bytes in MQTT 3.1, 256 or
    1024 elsewhere), which makes two long ids one session; crashes on large ids.
    """
    route = find_route(mqtt_profile)
    stem = "mqttsec-" + "x" * 60_000 + unique()
    owner = mqtt_client(route.reader, client_id=stem + "-owner", connect=False)
    if owner.connect() == 0 and _subscribes(owner, route.topics[0]):
        other = _other_user(mqtt_profile, route.reader)
        raw = mqtt_raw_client()
        data = user_connect(mqtt_profile, mqtt_version, other, client_id=(stem + "-other").encode())
        attempt(raw, data)
        raw.close()
        writer = mqtt_client(route.writer)
        _owner_still_served(owner, writer, route.topics[0], "a client id with the same prefix")
    owner.close()
    raw = mqtt_raw_client()
    user = password_users(mqtt_profile)[0]
    attempt(raw, user_connect(mqtt_profile, mqtt_version, user, client_id=b"c" * 0xFFFF))
    raw.close()
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


def _subscribes(owner: MqttClient, topic: str) -> bool:
    """Whether *owner*, logged in with a very long client id, can subscribe to *topic*; a
    broker that accepted the id but drops the connection at SUBSCRIBE is a deviation (it
    cannot serve the id it accepted), not a harness error."""
    try:
        granted = owner.subscribe(topic)
    except PeerClosed:
        deviation(
            "a 60000-byte client id was accepted at CONNECT, but the broker closed the "
            "connection at its first SUBSCRIBE (it should refuse the id with 0x02 instead)"
        )
        return False
    assert granted[0] < 0x80, f"{topic!r} refused to the long-id client: {granted}"
    return True


@pytest.mark.scenario(
    id="AUTH-EMPTY-CLIENTID-PERSISTENT",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.3-8", "MQTT-3.1.3-6", "MQTT-3.1.3-7"],
)
def test_empty_client_id_never_shares_a_session(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Two users each ask for a persistent session with an empty client id. Under 3.1.1 the
    broker must refuse with 0x02 Identifier rejected ([MQTT-3.1.3-8]); under 5.0 it must
    assign each a unique id ([MQTT-3.1.3-6], returned as Assigned Client Identifier) or
    refuse. Either way the second user must never find a session (Session Present 1).

    Weakness class: the empty string used as a session key, so every client without an id
    shares one session (subscriptions and queued messages of one user delivered to another).
    """
    users = password_users(mqtt_profile)
    first, second = users[0], _other_user(mqtt_profile, users[0])
    for index, user in enumerate((first, second)):
        raw, answer = persistent_login(mqtt_raw_client, mqtt_profile, mqtt_version, user, "")
        code = int(answer.reason_code)
        if code == 0:
            assert not (index and answer.session_present), (
                f"SHARED SESSION: {second!r} connected with an empty client id and got the "
                f"session {first!r} left with an empty client id (Session Present 1)"
            )
            if mqtt_version is ProtocolVersion.V311:
                deviation("empty client id with clean session 0 accepted (MUST be 0x02)")
            elif PropertyId.ASSIGNED_CLIENT_IDENTIFIER not in answer.properties:
                deviation("empty client id accepted without an Assigned Client Identifier")
            if index == 0:
                raw.subscribe(unique("empty-id"))  # something for a shared session to carry
        elif mqtt_version is ProtocolVersion.V311 and code != 0x02:
            deviation(f"empty client id with clean session 0 refused with {code:#04x}, not 0x02")
        elif mqtt_version is ProtocolVersion.V5 and code != 0x85:
            deviation(f"empty client id refused with {code:#04x}, not 0x85")
        raw.close()


@pytest.mark.scenario(
    id="AUTH-UNAUTHENTICATED-NO-TAKEOVER",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-2", "MQTT-3.1.4-3", "MQTT-3.1.2-22"],
)
def test_unauthenticated_clients_cannot_take_an_id(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """CONNECTs with a connected client's id and no valid login (anonymous, an unknown
    user, an empty password, a password without username) are all refused, and the owner
    of the id keeps its connection.

    Weakness class: the duplicate-id rule applied before authentication: anyone who has
    seen a client id on the network (or guessed a device serial) disconnects the device
    at will, without any credential.
    """
    if mqtt_profile.may_connect(None, "plain"):
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} allows anonymous clients")
    route = find_route(mqtt_profile)
    client_id = unique()
    owner = mqtt_client(route.reader, client_id=client_id)
    assert owner.subscribe(route.topics[0])[0] < 0x80
    cid = client_id.encode()
    user = route.reader.encode()
    password = mqtt_profile.users[route.reader].password.encode()
    tries: dict[str, tuple[bytes | None, bytes | None, bool]] = {
        "an anonymous CONNECT": (None, None, False),
        "an unknown user": (unknown_username(mqtt_profile).encode(), password, False),
        "an empty password": (user, b"", False),
        "a password without username": (None, password, mqtt_version is ProtocolVersion.V311),
    }
    for how, (username, secret, malformed) in tries.items():
        raw = mqtt_raw_client()
        data = connect_bytes(mqtt_version, client_id=cid, username=username, password=secret)
        require_refused(attempt(raw, data), mqtt_version, how, malformed=malformed)
        wait_closed(raw)
    writer = mqtt_client(route.writer)
    _owner_still_served(owner, writer, route.topics[0], "an unauthenticated CONNECT")


@pytest.mark.scenario(
    id="AUTH-CLIENTID-TAKEOVER-LIVE",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-2", "MQTT-3.1.4-3", "MQTT-3.1.2-4", "MQTT-3.1.2-5"],
)
def test_takeover_of_a_live_session_inherits_no_subscription(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """User V is connected with a persistent session subscribed to a topic only V may read;
    user A logs in with V's client id and asks to resume. A broker may refuse A, start A
    afresh or resume the session, but messages published *after* the takeover on V's
    topic must not reach A (proven by a sentinel on a topic both may read).

    Weakness class: subscriptions treated as authorized forever once granted, so whoever
    holds the client id next reads through them (read access decided at SUBSCRIBE time
    for another user; cf. mosquitto CVE-2021-34434).
    """
    plan = takeover_plan(mqtt_profile)
    client_id = unique()
    connect_victim(mqtt_client, plan, client_id)
    attacker = take_over(mqtt_raw_client, mqtt_profile, mqtt_version, plan, client_id)
    if attacker is None:
        return  # refused, or started afresh: nothing inherited
    publisher = mqtt_client(plan.publisher)
    secret = unique("after-takeover").encode()
    token = unique("after-takeover-sentinel").encode()
    publisher.publish(plan.secret, secret, qos=1)
    publisher.publish(plan.shared, token, qos=1)
    leak = (
        f"{plan.attacker!r} took over {plan.victim!r}'s live client id and received a "
        f"new message on {plan.secret!r} through the inherited subscription"
    )
    try:
        read_until_sentinel(attacker, token, secret, leak=leak, lost="sentinel lost")
    except SentinelLost:
        # Session Present 1, yet nothing came through the victim's subscriptions: either
        # the session kept none (nothing inherited), or this connection delivers nothing.
        if not delivers_fresh(attacker, publisher, plan.shared, secret):
            deviation(
                f"{plan.attacker!r} got Session Present 1 for {plan.victim!r}'s live client "
                "id, but that connection delivers nothing, not even its own new "
                "subscription; no leak seen"
            )
