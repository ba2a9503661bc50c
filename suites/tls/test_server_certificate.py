"""TLS scenarios: the certificate the broker presents is one a careful client accepts.

A client can only refuse a man in the middle if it verifies the server certificate; it
only keeps verifying if the real certificate passes. So the broker must send its whole
chain, name every address the profile gives its listeners, use a strong key, and be in
date. Each check reads the certificate the broker actually sends.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._support import (
    cafile,
    endpoint,
    handshake,
    present_certificate,
    probe_context,
    tls_listeners,
)

_VERSIONS = ("3.1.1", "5.0")


def _server_certificate(
    target: RunningTarget, profile: SecurityProfile, pki: PkiFiles, listener: str
) -> x509.Certificate:
    """The leaf certificate *listener* presents (read without verifying it, at security
    level 0, so that a weak or expired certificate is still seen)."""
    context = probe_context(ciphers="DEFAULT:@SECLEVEL=0")
    present_certificate(context, profile, pki, listener)
    result = handshake(endpoint(target, listener), context)
    assert not isinstance(result, str), f"{listener!r}: no TLS handshake at all: {result}"
    der = result.getpeercert(binary_form=True)
    result.close()
    assert der, f"{listener!r} sent no certificate"
    return x509.load_der_x509_certificate(der)


@pytest.mark.scenario(
    id="TLS-SERVER-CHAIN-COMPLETE", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_server_sends_its_chain(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """A client that trusts only the root CA verifies the server: the broker sends its
    intermediate certificate(s) along with its own.

    Weakness class: ``certfile`` holding the leaf alone. Clients with the intermediate in
    their store work, every other one fails, and the usual "fix" in the field is turning
    verification off.
    """
    bundle = x509.load_pem_x509_certificates(cafile(mqtt_target, mqtt_pki).read_bytes())
    roots = [c for c in bundle if c.issuer == c.subject]
    if not roots:
        mqttsec_unsupported("the CA file holds no root certificate to trust on its own")
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in roots)
    listeners = tls_listeners(mqtt_profile, mqtt_target)
    # A target that deliberately configures the leaf alone (ejabberd: Erlang cannot load
    # the test CAs) declares it; the scenario then judges the target's setup, not the broker.
    reasons = [mqtt_target.unsupported.get(f"server-chain:{n}") for n in listeners]
    if all(reasons):
        mqttsec_unsupported(f"{mqtt_target.name}: {reasons[0]}")
    for listener in listeners:
        if mqtt_target.unsupported.get(f"server-chain:{listener}"):
            continue
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=pem)
        present_certificate(context, mqtt_profile, mqtt_pki, listener)
        result = handshake(endpoint(mqtt_target, listener), context)
        assert not isinstance(result, str), (
            f"{listener!r} does not verify against the root alone (intermediate not sent?): "
            f"{result}"
        )
        result.close()


def _names(profile: SecurityProfile, host: str) -> list[str]:
    """The names a client may dial for a listener on *host*: the host itself, every other
    address the profile binds listeners to, and ``localhost`` for a loopback address."""
    names = [host, *(item.host for item in profile.listeners if item.tls)]
    try:
        if ipaddress.ip_address(host).is_loopback:
            names.append("localhost")
    except ValueError:
        pass
    return list(dict.fromkeys(names))


@pytest.mark.scenario(id="TLS-SERVER-CERT-NAMES", family="tls", severity="high", versions=_VERSIONS)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_server_certificate_names_every_declared_address(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """With hostname checking on, the server certificate verifies for every name a client
    may use: each address the profile declares for its TLS listeners (an IP address must be
    an IP subject alternative name) and ``localhost`` for a loopback address.

    Weakness class: a certificate for one name only (or an IP address only in the CN, which
    no current client accepts), so that clients dialling another declared address must turn
    hostname verification off.
    """
    trust = cafile(mqtt_target, mqtt_pki)
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        where = endpoint(mqtt_target, listener)
        for name in _names(mqtt_profile, where.host):
            context = present_certificate(probe_context(trust=trust), mqtt_profile, mqtt_pki,
                                          listener)  # fmt: skip
            result = handshake(where, context, server_hostname=name)
            assert not isinstance(result, str), (
                f"{listener!r}: the server certificate does not verify for {name!r}: {result}"
            )
            result.close()


@pytest.mark.scenario(
    id="TLS-SERVER-KEY-STRENGTH", family="tls", severity="medium", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_server_key_is_strong(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """The server certificate's key is RSA of at least 2048 bits, ECDSA on a curve of at
    least 256 bits, or Ed25519/Ed448, and it is signed with SHA-256 or better.

    Weakness class: RSA-1024 device certificates (factorable with public effort; OpenSSL's
    default security level refuses them) and SHA-1 signatures (chosen-prefix collisions).
    """
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        cert = _server_certificate(mqtt_target, mqtt_profile, mqtt_pki, listener)
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            assert key.key_size >= 2048, f"{listener!r}: RSA-{key.key_size} server key"
        elif isinstance(key, ec.EllipticCurvePublicKey):
            assert key.curve.key_size >= 256, f"{listener!r}: {key.curve.name} server key"
        else:
            assert isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey), (
                f"{listener!r}: server key {type(key).__name__} "
                f"{'(DSA)' if isinstance(key, dsa.DSAPublicKey) else ''}"
            )
        algorithm = cert.signature_hash_algorithm
        assert not isinstance(algorithm, hashes.MD5 | hashes.SHA1), (
            f"{listener!r}: the server certificate is signed with {algorithm.name}"
        )


@pytest.mark.scenario(
    id="TLS-SERVER-CERT-CURRENT", family="tls", severity="high", versions=_VERSIONS
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_server_certificate_in_date(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """The server certificate is inside its validity dates now: neither expired nor valid
    only from a future date.

    Weakness class: an expired broker certificate left in place (the reference broker only
    warns at start-up), after which every verifying client is locked out or, worse,
    reconfigured to skip verification.
    """
    now = datetime.datetime.now(datetime.UTC)
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        cert = _server_certificate(mqtt_target, mqtt_profile, mqtt_pki, listener)
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        assert end > now, f"{listener!r}: the server certificate expired at {end:%Y-%m-%d %H:%M}Z"
        assert start <= now, f"{listener!r}: the server certificate is valid only from {start}"
