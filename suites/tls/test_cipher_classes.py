"""TLS scenarios: one class of weak TLS 1.2 cipher suites per scenario.

The client offers only the suites of one class (IANA numbers, RFC 5246 / 4492 / 8422 and
the TLS cipher suite registry) in a hand-built TLS 1.2 hello; a ServerHello choosing one of
them is a *fail*. The probe does not need the local OpenSSL to know the suites (EXPORT and
RC4 are long gone from it), and a refusal counts only after a modern control hello was
accepted on the same listener. Each class says what breaks when a broker agrees to it.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._hello import TLS12, client_hello
from ._probes import hello_answer, sni
from ._support import endpoint, tls_listeners

_VERSIONS = ("3.1.1", "5.0")

NULL = (0xC006, 0xC010, 0xC001, 0xC00B, 0x0001, 0x0002, 0x003B)
"""No encryption: ECDHE/ECDH/RSA ``WITH_NULL``; the MQTT packets travel readable."""

ANONYMOUS = (0xC015, 0xC016, 0xC017, 0xC018, 0xC019, 0x0034, 0x003A, 0x006C, 0x006D, 0x00A6,
             0x00A7, 0x0018, 0x001B)  # fmt: skip
"""``DH_anon`` / ``ECDH_anon``: no server certificate, so anyone in the path can be the
broker (and collect every password)."""

EXPORT = (0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019, 0x0062,
          0x0063, 0x0064, 0x0065)  # fmt: skip
"""40/56-bit export-grade suites (FREAK CVE-2015-0204, Logjam CVE-2015-4000)."""

RC4 = (0xC007, 0xC011, 0xC002, 0xC00C, 0x0004, 0x0005, 0x0066)
"""The RC4 stream cipher: biased keystream, plaintext recovery (RFC 7465 prohibits it)."""

DES = (0xC008, 0xC012, 0xC003, 0xC00D, 0x000A, 0x0013, 0x0016, 0x0009, 0x0012, 0x0015)
"""DES and 3DES: 56-bit keys, 64-bit blocks (Sweet32, CVE-2016-2183)."""

CBC_SHA1 = (0xC009, 0xC00A, 0xC013, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035, 0x0045, 0x0088,
            0x0041, 0x0084)  # fmt: skip
"""AES/Camellia in CBC mode with an HMAC-SHA1 record MAC (MAC-then-encrypt: Lucky13 and
padding-oracle class). Still unbroken in practice, hence *low*: TLS 1.2 has AEAD suites."""

STATIC_KEY_EXCHANGE = (0x009C, 0x009D, 0x003C, 0x003D, 0x002F, 0x0035, 0xC09C, 0xC09D, 0x0041,
                       0x0084, 0x00BA, 0x00C0, 0xC004, 0xC005, 0xC025, 0xC026, 0xC02D, 0xC02E,
                       0xC00E, 0xC00F, 0xC029, 0xC02A, 0xC031, 0xC032, 0x0030, 0x0031, 0x0036,
                       0x0037, 0x00A0, 0x00A1, 0x003E, 0x003F)  # fmt: skip
"""Static RSA, ECDH and DH key exchange: whoever gets the server key later decrypts every
recorded session (no forward secrecy; ROBOT for RSA)."""


def _refuses(
    target: RunningTarget, profile: SecurityProfile, suites: tuple[int, ...], what: str
) -> None:
    for listener in tls_listeners(profile, target):
        where = endpoint(target, listener)
        answer = hello_answer(
            where, profile, listener, client_hello(TLS12, suites, server_name=sni(where))
        )
        assert not (answer.agreed and answer.cipher in suites), (
            f"{listener!r} agreed to {what}: {answer}"
        )


@pytest.mark.scenario(
    id="TLS-CIPHER-NULL-REFUSED", family="tls", severity="critical", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_null_ciphers_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A TLS 1.2 client offering only NULL-encryption suites gets no ServerHello for one.

    Weakness class: ``ciphers`` set to ``ALL:eNULL`` or ``COMPLEMENTOFALL`` while
    debugging: the connection is authenticated but sent in clear.
    """
    _refuses(mqtt_target, mqtt_profile, NULL, "a NULL (unencrypted) cipher suite")


@pytest.mark.scenario(
    id="TLS-CIPHER-ANON-REFUSED", family="tls", severity="critical", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_anonymous_ciphers_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile
) -> None:
    """A TLS 1.2 client offering only anonymous (DH_anon, ECDH_anon) suites is refused.

    Weakness class: ``aNULL`` left in the cipher list: no certificate is sent, so a man in
    the middle needs no key at all.
    """
    _refuses(mqtt_target, mqtt_profile, ANONYMOUS, "an anonymous (unauthenticated) suite")


@pytest.mark.scenario(
    id="TLS-CIPHER-EXPORT-REFUSED", family="tls", severity="high", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_export_ciphers_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A TLS 1.2 client offering only export-grade suites is refused.

    Weakness class: old TLS stacks in embedded brokers that still carry EXPORT suites
    (FREAK, Logjam: a downgrade to keys broken in hours).
    """
    _refuses(mqtt_target, mqtt_profile, EXPORT, "an export-grade suite")


@pytest.mark.scenario(
    id="TLS-CIPHER-RC4-REFUSED", family="tls", severity="high", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_rc4_ciphers_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A TLS 1.2 client offering only RC4 suites is refused (RFC 7465).

    Weakness class: RC4 kept "for compatibility" (it was once the BEAST workaround).
    """
    _refuses(mqtt_target, mqtt_profile, RC4, "an RC4 suite")


@pytest.mark.scenario(
    id="TLS-CIPHER-3DES-REFUSED", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_des_ciphers_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A TLS 1.2 client offering only DES or 3DES suites is refused.

    Weakness class: 64-bit block ciphers left enabled; long-lived MQTT connections carry
    enough data for a birthday attack on the blocks (Sweet32).
    """
    _refuses(mqtt_target, mqtt_profile, DES, "a DES/3DES suite")


@pytest.mark.scenario(
    id="TLS-CIPHER-CBC-SHA1-REFUSED", family="tls", severity="low", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_cbc_sha1_ciphers_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile
) -> None:
    """A TLS 1.2 client offering only CBC suites with an HMAC-SHA1 MAC is refused.

    Weakness class: the OpenSSL ``DEFAULT`` list kept as is: MAC-then-encrypt CBC invites
    padding oracles and timing attacks (Lucky13); a TLS 1.2 broker should offer AEAD only.
    """
    _refuses(mqtt_target, mqtt_profile, CBC_SHA1, "a CBC suite with a SHA-1 MAC")


@pytest.mark.scenario(
    id="TLS-CIPHER-STATIC-KEX-REFUSED", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_static_key_exchange_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile
) -> None:
    """A TLS 1.2 client offering only static RSA, ECDH or DH key exchange is refused: every
    session must have forward secrecy (ECDHE or DHE).

    Weakness class: ``kRSA`` suites enabled: a stolen or later-factored server key decrypts
    every recorded MQTT session, passwords included (and RSA decryption oracles, ROBOT).
    """
    _refuses(mqtt_target, mqtt_profile, STATIC_KEY_EXCHANGE, "a suite without forward secrecy")
