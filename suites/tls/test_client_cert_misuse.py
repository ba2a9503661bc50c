"""mTLS scenarios: a client certificate from the right CA, in date and not revoked, is still
refused when it is not fit to authenticate a TLS client.

The test PKI issues each flawed certificate from the profile's CA chain (see
``fixtures/_pki_misuse``), with the chain in the file, so that the only reason to refuse it
is the flaw under test. A CONNACK 0x00 is a *fail*; any refusal (alert, close, refusing
CONNACK) passes.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    cafile,
    credentials,
    endpoint,
    good_certificates,
    identity_missing,
    mtls_attempt,
    mtls_listeners,
    probe_context,
    raw_login,
    require_mtls_refused,
)

_VERSIONS = ("3.1.1", "5.0")


@pytest.mark.scenario(
    id="MTLS-WEAK-KEY-REFUSED", family="mtls", severity="high", versions=_VERSIONS
)
def test_weak_client_key_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A client certificate with an RSA-1024 key, otherwise valid, is refused.

    Weakness class: the broker's security level lowered (``@SECLEVEL=0``/``1``, or an old
    TLS library) so that old devices keep working; a 1024-bit key is within reach of a
    determined attacker, who then is that device.
    """
    pair = mqtt_pki.pair("bad-client-weak-rsa1024")
    for listener in mtls_listeners(mqtt_profile, mqtt_target):
        # This client must be able to present the weak key at all: security level 0.
        context = probe_context(trust=cafile(mqtt_target, mqtt_pki))
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.load_cert_chain(str(pair.certfile), str(pair.keyfile))
        username, password = credentials(mqtt_profile, listener, mqtt_target)
        where = endpoint(mqtt_target, listener)
        code, _, _ = raw_login(where, context, mqtt_version, username, password)
        assert code != 0, f"ACCEPTED on {listener!r} with an RSA-1024 client certificate"


@pytest.mark.scenario(
    id="MTLS-SERVER-EKU-REFUSED", family="mtls", severity="high", versions=_VERSIONS
)
def test_server_only_certificate_refused_as_client(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate whose extended key usage is ``serverAuth`` only is refused as a client
    certificate.

    Weakness class: the purpose of the certificate not checked, so a server certificate
    and key (copied from any server of the same CA, or from a broker's own disk) logs in as
    a client with that server's name as its identity.
    """
    require_mtls_refused(
        mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-server-eku"]
    )


@pytest.mark.scenario(
    id="MTLS-WRONG-KEY-USAGE-REFUSED", family="mtls", severity="medium", versions=_VERSIONS
)
def test_wrong_key_usage_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate whose key usage is ``contentCommitment`` only (no
    ``digitalSignature``, so it may not sign a handshake) is refused.

    Weakness class: key usage ignored; a certificate the CA issued for signing documents
    (or any other purpose) doubles as a login.
    """
    require_mtls_refused(
        mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-wrong-key-usage"]
    )


@pytest.mark.scenario(
    id="MTLS-CHAIN-VALIDATED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_client_chain_validated(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A client certificate issued through the intermediate CA is accepted only when the
    whole chain is valid: the profile's good certificate (leaf, intermediate) logs in, a
    leaf signed by another client certificate (``CA:FALSE``) and a leaf from a sub-CA below
    the intermediate's ``pathLenConstraint`` of 0 are refused.

    Weakness class: basicConstraints and path length not checked (CVE-2002-0862,
    CVE-2015-1793): every client that holds its own key can mint certificates for any
    identity, including another device's or the administrator's.
    """
    good = good_certificates(mqtt_profile)
    for listener in mtls_listeners(mqtt_profile, mqtt_target):
        if (why := identity_missing(mqtt_profile, mqtt_target, listener)) is not None:
            mqttsec_unsupported(why)
        code, refusal = mtls_attempt(
            mqtt_target, mqtt_profile, mqtt_pki, listener, mqtt_version, f"client-{good[0].name}"
        )
        assert code == 0, f"control: {good[0].name!r} refused on {listener!r}: {refusal}"
    require_mtls_refused(
        mqtt_target,
        mqtt_profile,
        mqtt_pki,
        mqtt_version,
        ["bad-client-non-ca-issuer", "bad-client-path-length"],
    )
