"""Auth scenarios: one connection, one CONNECT, one authentication.

A connection is authenticated exactly once, by its first packet, which must be a CONNECT
of a protocol version the broker speaks. A second CONNECT, a CONNECT after a refusal, an AUTH
before any CONNECT, an authentication method the broker does not know and an old or unknown
protocol level are all places where a broker can end up with an identity it never checked.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout
from mqttsec.fixtures.expect import expect_not_delivered
from mqttsec.fixtures.plugin import RawClientFactory, deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Pingreq,
    Pingresp,
    Properties,
    ProtocolVersion,
    Publish,
    QoS,
    ReasonCode,
    encode,
)

from ._plans import escalation_plan
from ._support import (
    MqttClientFactory,
    connect_bytes,
    password_users,
    require_refused,
    unique,
    unknown_username,
    user_connect,
)
from ._wire import auth_bytes, first_answer


class _SecondConnect:
    """A "publisher" logged in as a low user whose publish() first sends a second CONNECT
    as a more privileged user, then the PUBLISH, then a PINGREQ, in one write."""

    def __init__(self, raw: RawClient, version: ProtocolVersion, user: str, password: str):
        self._raw = raw
        self._version = version
        self._user = user
        self._password = password
        self.answers: list[object] = []
        self.closed = False

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> object:
        connect = Connect(
            client_id=unique(),
            protocol_version=self._version,
            username=self._user,
            password=self._password.encode(),
        )
        publish = Publish(topic, payload, QoS(qos), packet_id=1 if qos else None)
        data = b"".join(encode(p, self._version) for p in (connect, publish, Pingreq()))
        self._raw.send_bytes(data)
        # Until the broker closes, or answers the PINGREQ (then it has handled the PUBLISH).
        while True:
            try:
                packet = self._raw.recv_or_closed()
            except ClientTimeout:
                return None
            if packet is None:
                self.closed = True
                return None
            self.answers.append(packet)
            if isinstance(packet, Pingresp):
                return None


@pytest.mark.scenario(
    id="AUTH-SECOND-CONNECT-NO-REAUTH",
    family="auth",
    severity="critical",
    spec=["MQTT-3.1.0-2"],
)
def test_second_connect_does_not_change_the_user(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A client logged in as a low user sends a second CONNECT with a privileged user's
    credentials, then a PUBLISH only the privileged user may send. The broker must treat
    the second CONNECT as a protocol violation and close ([MQTT-3.1.0-2]); the PUBLISH must
    never be delivered (a broker that stays open is a deviation; one that lets the publish
    through under the new identity fails).

    Weakness class: connection state re-entered by a later CONNECT: the username (and so
    the ACL identity) replaced mid-connection, or a second login that bypasses per-
    connection checks such as TLS identity or throttling.
    """
    plan = escalation_plan(mqtt_profile)
    observer = mqtt_client(plan.reader)
    assert all(code < 0x80 for code in observer.subscribe(plan.forbidden, plan.sentinel))
    high = mqtt_client(plan.high)
    raw = mqtt_raw_client()
    answer = raw.connect(
        unique(), username=plan.low, password=mqtt_profile.users[plan.low].password
    )
    assert int(answer.reason_code) == 0, f"{plan.low!r} cannot log in: {answer!r}"
    second = _SecondConnect(raw, mqtt_version, plan.high, mqtt_profile.users[plan.high].password)
    expect_not_delivered(
        observer,
        second,
        plan.forbidden,
        unique("second-connect").encode(),
        sentinel_topic=plan.sentinel,
        sentinel_publisher=high,
    )
    if not second.closed:
        deviation(f"a second CONNECT did not close the connection; answers {second.answers!r}")


@pytest.mark.scenario(
    id="AUTH-REFUSED-NO-RETRY",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-5", "MQTT-3.1.4-6", "MQTT-3.2.2-5", "MQTT-3.2.2-7"],
)
def test_refused_connection_gets_no_second_try(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT with a wrong password followed, in the same write, by a CONNECT with the
    right one: the broker answers the first with a refusal and closes; the second is never
    answered, let alone accepted.

    Weakness class: a connection that stays usable after a refused login, so a password
    guesser tries many passwords per TCP connection (bypassing per-connection limits and
    connection-rate throttling).
    """
    user = password_users(mqtt_profile)[0]
    raw = mqtt_raw_client()
    wrong = connect_bytes(mqtt_version, username=user, password=unique("wrong"))
    right = user_connect(mqtt_profile, mqtt_version, user)
    raw.send_bytes(wrong + right)
    answers: list[object] = []
    while True:
        try:
            packet = raw.recv_or_closed()
        except ClientTimeout:
            deviation(f"the refused connection stayed open; answers {answers!r}")
            break
        if packet is None:
            break
        answers.append(packet)
    connacks = [p for p in answers if isinstance(p, Connack)]
    assert all(int(p.reason_code) != 0 for p in connacks), (
        f"ACCEPTED: a second CONNECT on a refused connection logged {user!r} in: {answers!r}"
    )
    if connacks:
        require_refused(connacks[0], mqtt_version, f"{user!r} with a wrong password")
    else:
        require_refused(None, mqtt_version, f"{user!r} with a wrong password")
    assert len(connacks) <= 1, f"the broker answered a CONNECT after a refusal: {answers!r}"


@pytest.mark.scenario(
    id="AUTH-AUTH-BEFORE-CONNECT",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.0-1", "MQTT-4.12.0-1"],
)
def test_auth_packet_before_connect_authenticates_nobody(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """An AUTH packet claiming success (reason 0x00, a method named) sent before the CONNECT,
    followed by an anonymous CONNECT or by a user with a wrong password: nothing may be
    accepted. The first packet must be a CONNECT ([MQTT-3.1.0-1]); under 3.1.1 AUTH does not
    even exist (packet type 15 is reserved).

    Weakness class: enhanced-authentication state machines that accept an AUTH outside the
    exchange they started, so a client "completes" an authentication it never began.
    """
    user = password_users(mqtt_profile)[0]
    connects = {
        "an anonymous CONNECT": connect_bytes(mqtt_version),
        f"{user!r} with a wrong password": connect_bytes(
            mqtt_version, username=user, password=unique("wrong")
        ),
    }
    for how, connect in connects.items():
        raw = mqtt_raw_client()
        raw.send_bytes(auth_bytes(ReasonCode.SUCCESS, "SCRAM-SHA-256") + connect)
        code, _ = first_answer(raw)
        require_refused(code, mqtt_version, f"AUTH(success) then {how}", malformed=True)


@pytest.mark.scenario(
    id="AUTH-BAD-AUTH-METHOD",
    family="auth",
    severity="medium",
    versions=["5.0"],
    spec=["MQTT-4.12.0-1", "MQTT-3.2.2-7"],
)
def test_unknown_authentication_method_is_refused(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT naming an authentication method the broker cannot know, with a real
    user's right password or without credentials, is refused: CONNACK 0x8C Bad
    authentication method or 0x87 Not authorized, or a close ([MQTT-4.12.0-1]). Logging the
    client in by its password while ignoring the method fails.

    Weakness class: enhanced authentication ignored. The client asked for an exchange
    (mutual authentication, channel binding, a token check) and believes it happened; the
    broker silently fell back to something weaker.
    """
    user = password_users(mqtt_profile)[0]
    method = unique("mqttsec-unknown-method")
    tries = {
        f"{user!r} with the right password": (user, mqtt_profile.users[user].password),
        "no credentials": (None, None),
    }
    for how, (username, password) in tries.items():
        raw = mqtt_raw_client()
        connect = Connect(
            client_id=unique(),
            protocol_version=ProtocolVersion.V5,
            username=username,
            password=None if password is None else password.encode(),
            properties=Properties.of(authentication_method=method, authentication_data=b"x"),
        )
        raw.send(connect)
        code, closed = first_answer(raw)
        assert code != 0, f"ACCEPTED: {how} with unknown authentication method {method!r}"
        if code is not None and code not in (0x8C, 0x87):
            deviation(f"{how} with an unknown method refused with {code:#04x}, not 0x8C/0x87")
        if not closed:
            deviation(f"{how} with an unknown method: refused but not closed")


@pytest.mark.scenario(
    id="AUTH-MQTT31-CREDENTIALS",
    family="auth",
    severity="critical",
    versions=["3.1.1"],
    spec=["MQTT-3.1.2-2", "MQTT-3.1.4-1"],
)
def test_mqtt31_clients_face_the_same_checks(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """MQTT 3.1 (protocol name ``MQIsdp``, level 3), which many brokers still accept: an
    anonymous client, a wrong password, an unknown user and an empty password are refused
    there too (a broker may also refuse 3.1 as a whole, with return code 0x01).

    Weakness class: authentication wired into the code path of the current protocol
    versions only, so an old version is a way around it (a legacy listener or parser that
    predates the password check).
    """
    user = password_users(mqtt_profile)[0]
    tries = {
        "an anonymous MQTT 3.1 client": (None, None),
        f"MQTT 3.1 {user!r} with a wrong password": (user, unique("wrong")),
        "an unknown MQTT 3.1 user": (unknown_username(mqtt_profile), unique("pw")),
        f"MQTT 3.1 {user!r} with an empty password": (user, ""),
    }
    if mqtt_profile.may_connect(None, "plain"):
        del tries["an anonymous MQTT 3.1 client"]
    for how, (username, password) in tries.items():
        raw = mqtt_raw_client()
        data = connect_bytes(
            ProtocolVersion.V311,
            client_id=unique()[:20].encode(),  # 3.1 allows at most 23 characters
            username=username,
            password=password,
            name=b"MQIsdp",
            level=3,
        )
        raw.send_bytes(data)
        code, _ = first_answer(raw)
        require_refused(code, mqtt_version, how, malformed=True)


@pytest.mark.scenario(
    id="AUTH-UNSUPPORTED-PROTOCOL-LEVEL",
    family="auth",
    severity="medium",
    spec=["MQTT-3.1.2-2"],
)
def test_unknown_protocol_levels_are_refused(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """CONNECTs with a protocol level no MQTT version has (0 and 2 in the 3.1.1 layout, 6
    and 255 in the 5.0 layout), carrying a real user's right password, are never accepted.
    3.1.1 requires return code 0x01 and a close; 5.0 allows 0x84 or a close (other answers
    are deviations).

    Weakness class: version dispatch that falls through to a default parser (parsing the
    packet as some version anyway, with that version's checks or without them).
    """
    user = password_users(mqtt_profile)[0]
    password = mqtt_profile.users[user].password
    v5 = mqtt_version is ProtocolVersion.V5
    for level in (6, 255) if v5 else (0, 2):
        raw = mqtt_raw_client()
        raw.send_bytes(connect_bytes(mqtt_version, username=user, password=password, level=level))
        code, closed = first_answer(raw)
        assert code != 0, f"ACCEPTED: a CONNECT with protocol level {level} logged {user!r} in"
        allowed = (0x84, 0x01, None) if v5 else (0x01,)
        if code not in allowed:
            shown = "a close without CONNACK" if code is None else f"CONNACK {code:#04x}"
            deviation(f"protocol level {level}: {shown}, expected {allowed}")
        if not closed:
            deviation(f"protocol level {level}: refused but not closed")
