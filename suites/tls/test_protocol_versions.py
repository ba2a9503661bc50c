"""TLS scenarios: a TLS port speaks nothing but TLS 1.2 or newer.

Every old protocol is probed separately with a hello built by hand (see ``_hello``), so the
verdict does not depend on what this Python's OpenSSL can still offer: a server that
answers SSLv2, SSLv3, TLS 1.0 or TLS 1.1 with a ServerHello of that version has agreed to
it, which is a *fail*. A refusal counts only after a modern control hello was accepted.
"""

from __future__ import annotations

import socket

import pytest

from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.suites.helpers import connect_bytes

from ._hello import (
    OLD_SUITES,
    SSL3,
    TLS10,
    TLS11,
    AnswerKind,
    client_hello,
    read_answer,
    sslv2_client_hello,
)
from ._probes import hello_answer, sni
from ._support import credentials, endpoint, tls_listeners

_VERSIONS = ("3.1.1", "5.0")


@pytest.mark.scenario(
    id="TLS-PLAIN-LISTENER-NOT-ON-TLS-PORT", family="tls", severity="high", versions=_VERSIONS
)
def test_tls_port_is_not_a_plain_listener(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """No TLS port is also a plain listener: it is not the port of a plain listener on the
    same address, and a legitimate user's CONNECT in clear text (correct username and
    password) gets no CONNACK there, at most a TLS alert.

    Weakness class: a TLS listener that falls back to plaintext, or TLS options attached to
    the wrong (plain) listener, so that the "TLS" port logs clients in without TLS and their
    passwords cross the network in clear (mosquitto #2283: TLS files without a TLS listener).
    """
    plain = {
        (e.host, e.port)
        for item in mqtt_profile.listeners
        if not item.tls and (e := mqtt_target.endpoints.get(item.name)) is not None
    }
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        where = endpoint(mqtt_target, listener)
        assert (where.host, where.port) not in plain, (
            f"{listener!r} shares {where.host}:{where.port} with a plain listener"
        )
        source = listener
        if mqtt_profile.listener(listener).identity_as_username:
            source = _any_password_listener(mqtt_profile)  # log in as a password user would
        username, password = credentials(mqtt_profile, source, mqtt_target)
        with socket.create_connection((where.host, where.port), timeout=5) as sock:
            sock.sendall(connect_bytes(mqtt_version, username=username, password=password))
            answer = read_answer(sock)
        assert not answer.raw.startswith(b"\x20"), (
            f"{listener!r} answered a clear-text CONNECT of {username!r} with a CONNACK "
            f"({answer.raw[:4].hex()}): a plain MQTT listener on a TLS port"
        )
        assert answer.kind in (AnswerKind.ALERT, AnswerKind.CLOSED, AnswerKind.SILENT), (
            f"{listener!r} answered clear-text MQTT with {answer}, not TLS"
        )


def _any_password_listener(profile: SecurityProfile) -> str:
    """A listener where password users log in (for the clear-text CONNECT's credentials)."""
    for item in profile.listeners:
        if not item.identity_as_username:
            return item.name
    return profile.listeners[0].name


def _refuses_version(
    target: RunningTarget,
    profile: SecurityProfile,
    version: int,
    name: str,
    *,
    hello: bytes | None = None,
) -> None:
    """No TLS listener agrees to *version* (or an older one) when offered *hello*; without
    one, a ClientHello whose highest version is *version*, with the old suites and SNI."""
    for listener in tls_listeners(profile, target):
        where = endpoint(target, listener)
        offer = (
            client_hello(version, OLD_SUITES, server_name=sni(where)) if hello is None else hello
        )
        answer = hello_answer(where, profile, listener, offer)
        agreed = answer.agreed and (answer.version or 0) <= version
        assert not agreed, f"{listener!r} agreed to {name}: {answer}"


@pytest.mark.scenario(id="TLS-1.0-REFUSED", family="tls", severity="high", versions=_VERSIONS)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_tls_1_0_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A client whose highest version is TLS 1.0 gets no ServerHello for TLS 1.0.

    Weakness class: a TLS floor left at the library default or lowered for old devices;
    TLS 1.0 has the BEAST CBC attack and SHA-1/MD5 in its handshake (RFC 8996 forbids it).
    """
    _refuses_version(mqtt_target, mqtt_profile, TLS10, "TLS 1.0")


@pytest.mark.scenario(id="TLS-1.1-REFUSED", family="tls", severity="high", versions=_VERSIONS)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_tls_1_1_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A client whose highest version is TLS 1.1 gets no ServerHello for TLS 1.1 (or 1.0).

    Weakness class: a floor of "TLS 1.1" thought modern enough; it shares TLS 1.0's
    MD5/SHA-1 handshake and CBC-only suites (RFC 8996 forbids it too).
    """
    _refuses_version(mqtt_target, mqtt_profile, TLS11, "TLS 1.1")


@pytest.mark.scenario(id="TLS-SSLV3-REFUSED", family="tls", severity="high", versions=_VERSIONS)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_sslv3_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """An SSLv3 ClientHello (SSLv3 record, no extensions) gets no SSLv3 ServerHello.

    Weakness class: SSL 3.0 still compiled in and enabled (POODLE, CVE-2014-3566; RFC 7568).
    """
    _refuses_version(
        mqtt_target, mqtt_profile, SSL3, "SSLv3",
        hello=client_hello(SSL3, OLD_SUITES, extensions=False),
    )  # fmt: skip


@pytest.mark.scenario(id="TLS-SSLV2-REFUSED", family="tls", severity="high", versions=_VERSIONS)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_sslv2_refused(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """An SSLv2 CLIENT-HELLO offering only SSL 2.0 gets no SSLv2 SERVER-HELLO.

    Weakness class: SSLv2 enabled anywhere a key is used (DROWN, CVE-2016-0800: one SSLv2
    port decrypts the TLS sessions of every server sharing its RSA key; RFC 6176).
    """
    _refuses_version(mqtt_target, mqtt_profile, 0x0002, "SSLv2", hello=sslv2_client_hello())
