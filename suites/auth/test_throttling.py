"""Auth scenario: password guessing is throttled where the profile says so.

Only a profile with a ``[login_throttle]`` table declares throttling (the default profile
does not: the suite's own refused logins would trip it). The scenario guesses from a
loopback address of its own, with usernames nobody has, so the lock-out it provokes can
touch no other scenario: neither 127.0.0.1 nor any profile user is ever throttled by it.
"""

from __future__ import annotations

import random

import pytest

from mqttsec.fixtures.plugin import RawClientFactory, deviation, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    attempt,
    connect_bytes,
    password_users,
    require_refused,
    still_serves,
    unique,
    unknown_username,
)

_THROTTLED = {ProtocolVersion.V311: (0x04, 0x05), ProtocolVersion.V5: (0x9F, 0x87, 0x86, 0x8A)}
"""Codes a throttled login may get: 5.0 has Connection rate exceeded (0x9F) and Banned."""


def _guessing_address() -> str:
    """A loopback address no other scenario connects from (Linux routes all of 127/8)."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@pytest.mark.scenario(id="AUTH-BRUTE-FORCE-THROTTLED", family="auth", severity="medium", spec=[])
def test_password_guessing_is_throttled(
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_target: RunningTarget,
    mqtt_version: ProtocolVersion,
) -> None:
    """After as many failed logins from one address as the profile's ``login_throttle``
    allows within its window, the next login from that address is refused even with a
    real user's right password; other addresses are unaffected.

    Weakness class: unlimited password guessing (no rate limit or lock-out): an attacker
    tries a dictionary as fast as the broker answers, and the PBKDF2 hashing it triggers
    becomes a denial of service too.
    """
    throttle = mqtt_profile.login_throttle
    if throttle is None:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} declares no login_throttle")
        return
    reason = mqtt_target.unsupported.get("login-throttle")
    if reason is not None:
        mqttsec_unsupported(reason)
    if mqtt_target.endpoint("plain").host != "127.0.0.1":
        mqttsec_unsupported("needs a second client address (the target is not on 127.0.0.1)")
    source = _guessing_address()
    for _ in range(throttle.attempts):
        raw = mqtt_raw_client(source=source)
        data = connect_bytes(
            mqtt_version, username=unknown_username(mqtt_profile), password=unique("guess")
        )
        require_refused(attempt(raw, data), mqtt_version, "a password guess")
        raw.close()
    user = password_users(mqtt_profile)[0]
    raw = mqtt_raw_client(source=source)
    data = connect_bytes(mqtt_version, username=user, password=mqtt_profile.users[user].password)
    answer = attempt(raw, data)
    raw.close()
    code = None if answer is None else int(answer.reason_code)
    assert code != 0, (
        f"NOT THROTTLED: after {throttle.attempts} failed logins from {source} within "
        f"{throttle.window}s, {user!r} still logs in from there"
    )
    if code is not None and code not in _THROTTLED[mqtt_version]:
        deviation(f"throttled login refused with {code:#04x}, expected one of {_THROTTLED}")
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)
