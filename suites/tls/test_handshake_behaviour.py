"""TLS scenarios about the handshake itself: how long a silent client is kept, whether a
client can renegotiate or resume its way past a check, and what a client must send.
"""

from __future__ import annotations

import ssl

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._probes import idle_close_times, renegotiation
from ._support import (
    cafile,
    connack_over,
    credentials,
    endpoint,
    good_certificates,
    handshake,
    login_listeners,
    mtls_listeners,
    present_certificate,
    probe_context,
    raw_login,
    tls_listeners,
)

_VERSIONS = ("3.1.1", "5.0")

HANDSHAKE_BOUND = 30.0
"""Seconds a connection that never sends a ClientHello may stay open. The profile declares
no timeout; 30 s is generous for any real client (a handshake takes milliseconds) and
small enough that a few thousand idle sockets cannot be held open for free."""

_IDLE: dict[tuple[str, int], dict[str, float | None]] = {}
"""Idle-close measurements per running target, shared by both MQTT versions' rows: the
TLS handshake does not depend on the MQTT version, and waiting twice proves nothing more."""
_RENEGOTIATED: dict[tuple[str, int, str], str | None] = {}
"""Renegotiation verdicts per running target and listener, shared the same way."""


@pytest.mark.slow
@pytest.mark.scenario(
    id="TLS-HANDSHAKE-TIMEOUT", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_silent_client_dropped(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A client that opens a TCP connection to a TLS listener and never sends a ClientHello
    is disconnected within 30 seconds.

    Weakness class: no handshake timeout, so a few thousand silent sockets (no TLS, no
    credentials, nothing logged) exhaust the broker's file descriptors or connection limit:
    a slowloris denial of service by an unauthenticated client. Slow by nature: it waits
    for the broker's own timeout (10 s on the reference broker), once per target.
    """
    listeners = tls_listeners(mqtt_profile, mqtt_target)
    key = (mqtt_target.name, id(mqtt_target))
    if key not in _IDLE:
        wanted = [endpoint(mqtt_target, name) for name in listeners]
        _IDLE[key] = idle_close_times(wanted, HANDSHAKE_BOUND)
    kept = [name for name in listeners if _IDLE[key].get(name) is None]
    assert not kept, (
        f"{kept} kept a connection that sent nothing open for more than {HANDSHAKE_BOUND:.0f}s"
    )


@pytest.mark.scenario(
    id="TLS-RENEGOTIATION-REFUSED", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_client_renegotiation_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """A TLS 1.2 client that asks to renegotiate after the handshake gets no new
    ServerHello (a no_renegotiation alert or a close instead).

    Weakness class: client-initiated renegotiation left on: each renegotiation costs the
    server a full handshake (CPU exhaustion by one connection), and with insecure
    renegotiation a man in the middle splices in his own prefix (CVE-2009-3555).
    """
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        if "tlsv1.2" not in mqtt_profile.listener(listener).tls_versions:
            continue  # TLS 1.3 has no renegotiation at all
        pair = None
        if mqtt_profile.listener(listener).kind is ListenerKind.MTLS:
            files = mqtt_pki.pair(f"client-{good_certificates(mqtt_profile)[0].name}")
            pair = (files.certfile, files.keyfile)
        key = (mqtt_target.name, id(mqtt_target), listener)
        if key not in _RENEGOTIATED:
            _RENEGOTIATED[key] = renegotiation(endpoint(mqtt_target, listener), pair)
        trace = _RENEGOTIATED[key]
        assert trace is None, f"{listener!r} renegotiated at the client's request:\n{trace}"


@pytest.mark.scenario(id="TLS-ALPN-NOT-REQUIRED", family="tls", severity="low", versions=_VERSIONS)
def test_alpn_not_required(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A verifying client logs in with no ALPN extension, and with ALPN offering only
    ``mqtt`` (the server then selects ``mqtt`` or nothing, never another protocol).

    Weakness class: a listener shared with another protocol behind ALPN (a gateway or load
    balancer) that needs ALPN to route, or routes a client to the wrong protocol. Most MQTT
    clients send no ALPN; locking them out pushes deployments back to plain MQTT.
    """
    trust = cafile(mqtt_target, mqtt_pki)
    for listener in login_listeners(mqtt_profile, mqtt_target):
        username, password = credentials(mqtt_profile, listener, mqtt_target)
        for offer in ([], ["mqtt"]):
            context = present_certificate(probe_context(trust=trust), mqtt_profile, mqtt_pki,
                                          listener)  # fmt: skip
            if offer:
                context.set_alpn_protocols(offer)
            result = handshake(endpoint(mqtt_target, listener), context)
            assert not isinstance(result, str), f"{listener!r} ALPN {offer}: {result}"
            with result:
                chosen = result.selected_alpn_protocol()
                code, why = connack_over(result, mqtt_version, username, password)
            assert chosen in (None, *offer), f"{listener!r} selected ALPN {chosen!r}"
            assert code == 0, f"{listener!r}: a client offering ALPN {offer} got {code!r} {why}"


@pytest.mark.scenario(
    id="MTLS-RESUMPTION-NO-CERT-BYPASS", family="mtls", severity="high", versions=_VERSIONS
)
def test_resumed_session_needs_a_certificate(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A TLS session made on a listener that needs no client certificate, resumed on an
    mTLS listener by a client without one, does not get in there: each TLS version both
    listeners allow is tried (TLS 1.2 session ids, TLS 1.3 tickets).

    Weakness class: one session cache (or one ticket key) shared by all listeners, so a
    resumed session skips the certificate check it never passed; OpenSSL's "session id
    context" exists to prevent exactly this.
    """
    mtls = mtls_listeners(mqtt_profile, mqtt_target)
    donors = [
        item.name
        for item in mqtt_profile.listeners
        if item.kind is ListenerKind.TLS and f"tls:{item.name}" not in mqtt_target.unsupported
    ]
    if not donors:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no TLS listener without mTLS")
    trust = cafile(mqtt_target, mqtt_pki)
    tried = 0
    for donor in donors:
        user, password = credentials(mqtt_profile, donor, mqtt_target)
        for listener in mtls:
            shared = set(mqtt_profile.listener(donor).tls_versions)
            shared &= set(mqtt_profile.listener(listener).tls_versions)
            for version in sorted(shared):
                tls = ssl.TLSVersion.TLSv1_2 if version == "tlsv1.2" else ssl.TLSVersion.TLSv1_3
                context = probe_context(version=tls, trust=trust)
                first = handshake(endpoint(mqtt_target, donor), context)
                assert not isinstance(first, str), f"{donor!r}: {first}"
                with first:
                    code, why = connack_over(first, mqtt_version, user, password)
                    session = first.session  # read after the CONNACK: TLS 1.3 tickets are in
                assert code == 0, f"{user!r} could not log in on {donor!r}: {code!r} {why}"
                code, reused, why = _resume(mqtt_target, mqtt_profile, listener, mqtt_version,
                                            context, session)  # fmt: skip
                assert code != 0, (
                    f"ACCEPTED on {listener!r} without a client certificate, by resuming a "
                    f"{version} session from {donor!r} (resumed: {reused})"
                )
                tried += 1
    if not tried:
        mqttsec_unsupported("no TLS version is allowed on both a TLS and an mTLS listener")


def _resume(
    target: RunningTarget,
    profile: SecurityProfile,
    listener: str,
    version: ProtocolVersion,
    context: ssl.SSLContext,
    session: ssl.SSLSession | None,
) -> tuple[int | None, bool, str]:
    username, password = credentials(profile, listener, target)
    return raw_login(endpoint(target, listener), context, version, username, password,
                     session=session)  # fmt: skip
