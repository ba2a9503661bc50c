"""Auth scenarios: who may connect with which username and password.

Each scenario tries a login the profile forbids and requires the broker to refuse it
(acceptance is a *fail*; a refusal with an unexpected code is a *deviation*), except the
positive control, which requires the profile's users to get in.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import MqttClientFactory, RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    attempt,
    connect_bytes,
    password_listeners,
    password_users,
    require_refused,
    unique,
    unknown_username,
)

_V311_CODES = ["MQTT-3.2.2-5"]
_V5_CODES = ["MQTT-3.2.2-7"]


@pytest.mark.scenario(id="AUTH-VALID-LOGIN", family="auth", severity="info", spec=["MQTT-3.1.4-1"])
def test_profile_users_log_in(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile
) -> None:
    """Positive control: every password user of the profile logs in on every listener
    where the profile says it may, with its own password.

    Without it, every refusal below could be a broker that refuses everyone (a broken
    setup that would look perfectly secure).
    """
    for listener in password_listeners(mqtt_profile):
        for user in password_users(mqtt_profile, listener):
            client = mqtt_client(user, listener, connect=False)
            code = client.connect()
            assert code == 0, (
                f"{user!r} with the profile's password on {listener!r}: CONNACK {code!r} "
                f"{client.refusal}"
            )
            client.close()


@pytest.mark.scenario(
    id="AUTH-ANONYMOUS-REFUSED",
    family="auth",
    severity="critical",
    spec=["MQTT-3.1.4-1", *_V311_CODES, *_V5_CODES],
)
def test_anonymous_as_profile_says(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT without username and password is refused on every password listener when
    the profile disables anonymous access (and accepted where it allows it).

    Weakness class: a listener that opens anonymously because of how it was configured
    (mosquitto #2283: TLS files without a listener; CVE-2017-7652: reload falls back to
    open defaults).
    """
    for listener in password_listeners(mqtt_profile):
        raw = mqtt_raw_client(listener)
        answer = attempt(raw, connect_bytes(mqtt_version, client_id=unique().encode()))
        if mqtt_profile.may_connect(None, listener):
            assert answer is not None and int(answer.reason_code) == 0, (
                f"anonymous refused on {listener!r} although the profile allows it: {answer!r}"
            )
        else:
            require_refused(answer, mqtt_version, f"anonymous client on {listener!r}")
        raw.close()


@pytest.mark.scenario(
    id="AUTH-WRONG-PASSWORD",
    family="auth",
    severity="critical",
    spec=["MQTT-3.1.4-1", *_V311_CODES, *_V5_CODES],
)
def test_wrong_password(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A known user with a wrong password is refused, on every password listener.

    Weakness class: password check skipped or inverted (any password logs in).
    """
    for listener in password_listeners(mqtt_profile):
        user = password_users(mqtt_profile, listener)[0]
        client = mqtt_client(user, listener, password=unique("wrong"), connect=False)
        require_refused(client.connect(), mqtt_version, f"{user!r} with a wrong password")
        client.close()


@pytest.mark.scenario(
    id="AUTH-UNKNOWN-USER",
    family="auth",
    severity="critical",
    spec=["MQTT-3.1.4-1", *_V311_CODES, *_V5_CODES],
)
def test_unknown_user(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A username the profile does not know is refused, whatever the password, even the
    password of a real user.

    Weakness class: unknown users fall through to anonymous or to a default account.
    """
    user = password_users(mqtt_profile)[0]
    for password in (unique("pw"), mqtt_profile.users[user].password):
        nobody = unknown_username(mqtt_profile)
        client = mqtt_client(nobody, password=password, connect=False)
        require_refused(client.connect(), mqtt_version, f"unknown user {nobody!r}")
        client.close()


@pytest.mark.scenario(
    id="AUTH-EMPTY-PASSWORD",
    family="auth",
    severity="critical",
    spec=["MQTT-3.1.2-19", "MQTT-3.1.4-1", *_V311_CODES, *_V5_CODES],
)
def test_empty_or_missing_password(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Every known user, sent with a zero-length password and with no password at all, is
    refused.

    Weakness classes: RabbitMQ CVE-2016-9877 (a known username with an empty password
    logs in); mosquitto CVE-2018-12551 (a blank password-file line becomes a user without
    a password).
    """
    for user in password_users(mqtt_profile):
        for password, how in ((b"", "an empty password"), (None, "no password")):
            raw = mqtt_raw_client()
            data = connect_bytes(
                mqtt_version, client_id=unique().encode(), username=user.encode(), password=password
            )
            require_refused(attempt(raw, data), mqtt_version, f"{user!r} with {how}")
            raw.close()


@pytest.mark.scenario(
    id="AUTH-PASSWORD-NEAR-MISS",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.4-1", *_V311_CODES, *_V5_CODES],
)
def test_near_miss_passwords(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Passwords that are almost right are refused: a prefix of the right one, the right one
    with a suffix, the right one in another case, and another user's right password.

    Weakness class: comparisons over the shorter length or a fixed prefix (truncation),
    case-insensitive compares, and one password table shared by all users.
    """
    users = password_users(mqtt_profile)
    for index, user in enumerate(users):
        right = mqtt_profile.users[user].password
        tries = {"a prefix of the password": right[:-1], "the password plus a suffix": right + "x"}
        if right.swapcase() != right:
            tries["the password in another case"] = right.swapcase()
        other = users[(index + 1) % len(users)]
        if other != user and mqtt_profile.users[other].password != right:
            tries[f"{other!r}'s password"] = mqtt_profile.users[other].password
        for how, password in tries.items():
            client = mqtt_client(user, password=password, connect=False)
            require_refused(client.connect(), mqtt_version, f"{user!r} with {how}")
            client.close()
