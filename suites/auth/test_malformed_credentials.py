"""Auth scenarios: credentials a parser can get wrong.

Built byte by byte with the raw client, because a correct client library would refuse to
send them. A broker must never turn such a CONNECT into a login; it may refuse it with a
CONNACK code or close the connection. Afterwards it must still serve the profile's users.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    Credentials,
    attempt,
    connect_bytes,
    password_users,
    refuse_all,
    require_refused,
    still_serves,
    unique,
)

_MAX_STRING = 0xFFFF  # a UTF-8 string or binary field carries at most 65535 bytes


@pytest.mark.scenario(
    id="AUTH-PASSWORD-WITHOUT-USERNAME",
    family="auth",
    severity="high",
    spec=["MQTT-3.1.2-22", "MQTT-3.1.4-1"],
)
def test_password_without_username(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT with a password but no username (even a real user's password) is not a
    login.

    Under 3.1.1 the packet is malformed ([MQTT-3.1.2-22]: no username means no password);
    under 5.0 it is legal but names no user, so it is an anonymous client and is refused
    unless the profile allows anonymous access. Weakness class: a password matched
    against every user, or a missing username treated as "any user".
    """
    user = password_users(mqtt_profile)[0]
    raw = mqtt_raw_client()
    data = connect_bytes(
        mqtt_version,
        client_id=unique().encode(),
        password=mqtt_profile.users[user].password.encode(),
    )
    answer = attempt(raw, data)
    raw.close()
    if mqtt_version is ProtocolVersion.V5 and mqtt_profile.may_connect(None, "plain"):
        return  # an anonymous client the profile allows; nothing to refuse
    require_refused(
        answer,
        mqtt_version,
        f"a password ({user!r}'s) without a username",
        malformed=mqtt_version is ProtocolVersion.V311,
    )
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


@pytest.mark.scenario(
    id="AUTH-LONG-CREDENTIALS",
    family="auth",
    severity="medium",
    spec=["MQTT-1.5.3-1", "MQTT-3.1.4-1"],
)
def test_very_long_credentials(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Usernames and passwords of the maximum length (65535 bytes) are refused and do not
    take the broker down; a known user's right password followed by 60 KB is refused too.

    Weakness classes: fixed-size buffers for credentials (overflow, or truncation that
    turns the long password into the right one); crashes on large CONNECTs.
    """
    user = password_users(mqtt_profile)[0]
    right = mqtt_profile.users[user].password.encode()
    tries = {
        "a 65535-byte username": (b"u" * _MAX_STRING, b"p"),
        "a 65535-byte password": (user.encode(), b"p" * _MAX_STRING),
        "the right password plus 60 KB": (user.encode(), right + b"x" * 60_000),
        "a 65535-byte username and password": (b"u" * _MAX_STRING, b"p" * _MAX_STRING),
    }
    refuse_all(mqtt_raw_client, mqtt_version, tries, malformed=True)
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


@pytest.mark.scenario(
    id="AUTH-USERNAME-MALFORMED",
    family="auth",
    severity="high",
    spec=["MQTT-1.5.3-1", "MQTT-1.5.3-2", "MQTT-1.5.4-1", "MQTT-1.5.4-2", "MQTT-3.1.3-11"],
)
def test_username_with_nul_or_bad_utf8(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A username that is a known user followed by U+0000 (``user\\0``, ``user\\0x``) or by
    ill-formed UTF-8 (a stray 0xFF, the overlong NUL ``C0 80``, a lone surrogate
    ``ED A0 80``), sent with that user's right password, is not a login: the packet is
    malformed and the broker must refuse it or close the connection.

    Weakness classes: C-string truncation, where ``"alice\\0anything"`` is checked as
    ``"alice"`` while another layer (ACL ``%u``, logs, plugins) sees the whole name; lenient
    decoders that drop or replace bad bytes and so map the name onto a real user (or onto
    ``#``/``+`` for pattern ACLs, mosquitto CVE-2017-7650).
    """
    suffixes = (b"\x00", b"\x00x", b"\xff", b"\xc0\x80", b"\xed\xa0\x80")
    tries: dict[str, Credentials] = {}
    for user in password_users(mqtt_profile):
        password = mqtt_profile.users[user].password.encode()
        for suffix in suffixes:
            name = user.encode() + suffix
            tries[f"username {name!r}"] = (name, password)
    refuse_all(mqtt_raw_client, mqtt_version, tries, malformed=True)
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)
