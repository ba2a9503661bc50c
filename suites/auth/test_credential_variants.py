"""Auth scenarios: credentials that are *almost* a profile user's.

A password check must compare the exact bytes the client sent with the exact secret, and a
username lookup must find exactly one account by its exact name. Every shortcut a broker or
its auth backend takes (trimming, case folding, Unicode normalisation, C strings that end at
NUL, pattern matching in a database query) turns one of the variants below into a login.
"""

from __future__ import annotations

import unicodedata

import pytest

from mqttsec.fixtures.plugin import RawClientFactory, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    Credentials,
    attempt,
    connect_bytes,
    password_users,
    refuse_all,
    still_serves,
    unique,
    unknown_username,
)

_CODES = ["MQTT-3.1.4-1", "MQTT-3.2.2-5", "MQTT-3.2.2-7"]


def _first(profile: SecurityProfile) -> tuple[str, bytes]:
    """The first password user and its password as bytes."""
    user = password_users(profile)[0]
    return user, profile.users[user].password.encode()


def _refuse_passwords(
    raw_client: RawClientFactory, version: ProtocolVersion, user: str, variants: dict[str, bytes]
) -> None:
    """Each of *variants* (what it is -> password) is refused as *user*'s password."""
    refuse_all(
        raw_client,
        version,
        {f"{user!r} with {how}": (user.encode(), pw) for how, pw in variants.items()},
    )


def _overlong(char: str) -> bytes:
    """The ill-formed two-byte ("overlong") UTF-8 form of an ASCII character."""
    code = ord(char)
    return bytes([0xC0 | (code >> 6), 0x80 | (code & 0x3F)])


def _fullwidth(text: str) -> str:
    """*text* with ASCII letters and digits in their fullwidth forms (NFKC maps them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@pytest.mark.scenario(id="AUTH-PASSWORD-WHITESPACE", family="auth", severity="high", spec=_CODES)
def test_password_with_extra_whitespace(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """The right password with a trailing space, tab, newline or CRLF, or a leading space,
    is refused.

    Weakness class: secrets trimmed before the compare (a password file or backend that
    strips lines, form-style input handling), which makes every "password " a login and
    hides that the stored secret is not what the operator typed.
    """
    user, right = _first(mqtt_profile)
    variants = {
        "a trailing space": right + b" ",
        "a trailing tab": right + b"\t",
        "a trailing newline": right + b"\n",
        "a trailing CRLF": right + b"\r\n",
        "a leading space": b" " + right,
    }
    _refuse_passwords(mqtt_raw_client, mqtt_version, user, variants)


@pytest.mark.scenario(id="AUTH-PASSWORD-NUL", family="auth", severity="medium", spec=_CODES)
def test_password_with_nul(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A password is binary data, so U+0000 in it is legal, and ``right\\0``,
    ``right\\0anything`` and a lone ``\\0`` are different passwords: all are refused.

    Weakness class: the password handed to a C string API (``strlen``, ``strcmp``, a
    crypt/PBKDF2 binding taking ``char *``), which stops at the first NUL and so checks
    ``right`` (or the empty string) instead of what was sent (cf. mosquitto
    CVE-2018-12551, empty secrets that verify). A binary secret (a token, random bytes)
    then loses everything after its first zero byte, often most of its entropy.
    """
    user, right = _first(mqtt_profile)
    variants = {
        "the password followed by NUL": right + b"\x00",
        "the password, NUL and more": right + b"\x00" + unique().encode(),
        "a lone NUL as password": b"\x00",
    }
    _refuse_passwords(mqtt_raw_client, mqtt_version, user, variants)
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


@pytest.mark.scenario(id="AUTH-PASSWORD-ENCODING", family="auth", severity="high", spec=_CODES)
def test_password_in_another_encoding(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """The right password in another encoding is not the right password: with a UTF-8 BOM
    in front, with its first character in overlong UTF-8, as UTF-16, and in fullwidth
    letters (which Unicode NFKC normalisation maps back to ASCII) are all refused.

    Weakness class: passwords decoded leniently (invalid sequences replaced or decoded
    anyway) or normalised before they are hashed, so that several byte strings open one
    account and checks on the raw bytes (length, rate limits, logging) see something other
    than what is verified.
    """
    user, right = _first(mqtt_profile)
    text = right.decode()
    variants: dict[str, bytes] = {
        "a BOM in front": b"\xef\xbb\xbf" + right,
        "UTF-16": text.encode("utf-16-le"),
    }
    if text[:1].isascii():
        variants["its first character overlong"] = _overlong(text[0]) + right[1:]
    if _fullwidth(text) != text:
        variants["fullwidth letters"] = _fullwidth(text).encode()
    _refuse_passwords(mqtt_raw_client, mqtt_version, user, variants)
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


@pytest.mark.scenario(id="AUTH-USERNAME-CASE", family="auth", severity="high", spec=_CODES)
def test_username_in_another_case(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A profile username in upper case, title case or swapped case (when that is not a
    profile identity itself), sent with that user's right password, is refused.

    Weakness class: case-insensitive account lookup. The login then happens under a name
    the ACL does not know, so ``%u`` pattern rules grant ``users/ALICE/#`` (a namespace
    nobody owns), per-user rules no longer match, and logs blame a user that does not exist.
    """
    tries: dict[str, Credentials] = {}
    for user in password_users(mqtt_profile):
        right = mqtt_profile.users[user].password.encode()
        for variant in {user.upper(), user.title(), user.swapcase()}:
            if variant != user and variant not in mqtt_profile.identities():
                tries[f"username {variant!r} with {user!r}'s password"] = (variant.encode(), right)
    if not tries:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: no username has a case")
    refuse_all(mqtt_raw_client, mqtt_version, tries)


@pytest.mark.scenario(id="AUTH-USERNAME-WHITESPACE", family="auth", severity="high", spec=_CODES)
def test_username_with_extra_whitespace(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A profile username with a leading or trailing space, a trailing tab or newline, sent
    with that user's right password, is refused (for the control characters, closing the
    connection without a CONNACK is allowed too).

    Weakness class: usernames trimmed for the password lookup but used untrimmed elsewhere
    (ACL ``%u``, client-id rules, audit logs), so one account gets several identities.
    """
    user, right = _first(mqtt_profile)
    spaces = (f" {user}", f"{user} ")
    refuse_all(
        mqtt_raw_client,
        mqtt_version,
        {f"username {name!r}": (name.encode(), right) for name in spaces},
    )
    # Control characters SHOULD NOT be in a UTF-8 string and a receiver MAY close the
    # connection on them: a close without CONNACK is a fine refusal here.
    controls = (f"{user}\t", f"{user}\n")
    refuse_all(
        mqtt_raw_client,
        mqtt_version,
        {f"username {name!r}": (name.encode(), right) for name in controls},
        malformed=True,
    )


@pytest.mark.scenario(
    id="AUTH-USERNAME-LOOKALIKE",
    family="auth",
    severity="high",
    spec=["MQTT-1.5.3-1", "MQTT-1.5.3-3", "MQTT-1.5.4-1", "MQTT-1.5.4-3", "MQTT-3.1.4-1"],
)
def test_username_lookalikes(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Names that look like a profile user but are other strings: fullwidth letters (NFKC
    maps them back), a zero-width space inside, a BOM (U+FEFF) in front, each with the
    user's right password, are refused; the first character in overlong UTF-8 (ill-formed,
    so the packet is malformed) is refused or closed.

    Weakness class: Unicode normalisation or lenient UTF-8 decoding in the account lookup,
    while the ACL and logs see the raw name. The spec forbids stripping a BOM
    ([MQTT-1.5.3-3] / [MQTT-1.5.4-3]) and requires closing on ill-formed UTF-8.
    """
    user, right = _first(mqtt_profile)
    lookalikes = {
        "fullwidth": _fullwidth(user),
        "zero-width space inside": user[:1] + "\u200b" + user[1:],
        "BOM in front": "\ufeff" + user,
    }
    tries = {
        f"{how} username {name!r}": (name.encode(), right)
        for how, name in lookalikes.items()
        if unicodedata.normalize("NFC", name) != user
    }
    refuse_all(mqtt_raw_client, mqtt_version, tries)
    if user[:1].isascii():
        overlong = _overlong(user[0]) + user[1:].encode()
        refuse_all(
            mqtt_raw_client,
            mqtt_version,
            {f"username {overlong!r} (overlong UTF-8)": (overlong, right)},
            malformed=True,
        )
    still_serves(mqtt_raw_client, mqtt_profile, mqtt_version)


@pytest.mark.scenario(id="AUTH-EMPTY-USERNAME", family="auth", severity="critical", spec=_CODES)
def test_empty_username(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT whose username is present but zero bytes long is refused: with a profile
    user's password, with an empty password and with none.

    Weakness class: the empty name treated as "no username" by one layer and as a user by
    another (an anonymous login through the password path), or matched by a password-file
    line with an empty name (the blank-line class of mosquitto CVE-2018-12551).
    """
    if mqtt_profile.may_connect(None, "plain"):
        mqttsec_unsupported(
            f"profile {mqtt_profile.name!r}: " + "the profile allows anonymous clients"
        )
    _, right = _first(mqtt_profile)
    tries: dict[str, Credentials] = {
        "an empty username with a user's password": (b"", right),
        "an empty username and password": (b"", b""),
        "an empty username without password": (b"", None),
    }
    refuse_all(mqtt_raw_client, mqtt_version, tries)


@pytest.mark.scenario(id="AUTH-USERNAME-WILDCARDS", family="auth", severity="high", spec=_CODES)
def test_username_as_a_pattern(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Usernames that are patterns matching a profile user in some query language (SQL
    ``LIKE`` ``_`` and ``%``, glob ``*``, regex ``.*``, MQTT ``#``/``+``, a quote that
    breaks out of SQL), sent with that user's right password, are refused.

    Weakness class: injection into the auth backend's lookup (SQL, LDAP, file glob),
    where the pattern selects the real user's record and its password then matches; and
    the MQTT wildcard names that widen ``%u`` rules (mosquitto CVE-2017-7650).
    """
    user, right = _first(mqtt_profile)
    names = {
        user[:-1] + "_",
        user[:-1] + "%",
        user[0] + "*",
        ".*",
        "#",
        "+",
        f"{user}' OR '1'='1",
        f"{user})(|(uid=*",
    }
    tries = {
        f"username {name!r} with {user!r}'s password": (name.encode(), right)
        for name in sorted(names)
        if name not in mqtt_profile.identities()
    }
    refuse_all(mqtt_raw_client, mqtt_version, tries)


@pytest.mark.scenario(id="AUTH-CROSS-USER-PASSWORD", family="auth", severity="high", spec=_CODES)
def test_every_user_with_every_other_password(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """Every profile user, tried with every other user's password (where the two differ),
    is refused.

    Weakness class: a password checked against any user's secret rather than the named
    user's (one hash table for everyone, a backend that finds "a user with this password"),
    which makes the weakest password in the deployment everyone's password.
    """
    users = password_users(mqtt_profile)
    tries: dict[str, Credentials] = {}
    for user in users:
        for other in users:
            secret = mqtt_profile.users[other].password
            if other != user and secret != mqtt_profile.users[user].password:
                tries[f"{user!r} with {other!r}'s password"] = (user.encode(), secret.encode())
    if not tries:
        mqttsec_unsupported(
            f"profile {mqtt_profile.name!r}: "
            + "the profile has no two users with different passwords"
        )
    refuse_all(mqtt_raw_client, mqtt_version, tries)


@pytest.mark.scenario(id="AUTH-NO-USER-ENUMERATION", family="auth", severity="low", spec=_CODES)
def test_refusal_does_not_tell_which_usernames_exist(
    mqtt_raw_client: RawClientFactory, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A known user with a wrong password and an unknown user get the same answer (the same
    CONNACK code, or both a close without one).

    Weakness class: username enumeration. A broker that answers "not authorized" for an
    unknown name and "bad password" for a known one lets an attacker find the accounts
    first and then guess only their passwords.
    """
    user, _ = _first(mqtt_profile)
    answers: dict[str, int | None] = {}
    for who in (user, unknown_username(mqtt_profile)):
        raw = mqtt_raw_client()
        data = connect_bytes(
            mqtt_version,
            client_id=unique().encode(),
            username=who.encode(),
            password=unique("wrong").encode(),
        )
        answer = attempt(raw, data)
        raw.close()
        code = None if answer is None else int(answer.reason_code)
        assert code != 0, f"ACCEPTED: {who!r} with a wrong password was let in"
        answers[who] = code
    known, unknown = answers.values()
    assert known == unknown, (
        f"ENUMERATION: a wrong password for known user {user!r} gets "
        f"{'a close' if known is None else f'CONNACK {known:#04x}'}, an unknown user gets "
        f"{'a close' if unknown is None else f'CONNACK {unknown:#04x}'}"
    )
