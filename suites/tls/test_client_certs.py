"""mTLS scenarios: only a valid client certificate from the profile's CA gets in, and the
certificate, not the CONNECT username, is the identity.

A bad certificate that gets a CONNACK 0 is a *fail*. How the refusal looks does not matter
(a TLS alert in the handshake, a close after it, or a refusing CONNACK): nothing is let in.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, PeerClosed, TlsFiles
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import MqttClientFactory, Unsupported, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._identity import identity_listener
from ._support import (
    cafile,
    endpoint,
    good_certificates,
    identity_missing,
    mtls_attempt,
    mtls_listeners,
    require_mtls_refused,
    unique,
)

_VERSIONS = ("3.1.1", "5.0")


@pytest.mark.scenario(id="MTLS-VALID-CERT", family="mtls", severity="info", versions=_VERSIONS)
def test_good_certificate_accepted(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """Positive control: every good (not revoked) client certificate of the profile logs in
    on every mTLS listener. Without it, every refusal below could be a broken setup."""
    for listener in mtls_listeners(mqtt_profile, mqtt_target):
        if (why := identity_missing(mqtt_profile, mqtt_target, listener)) is not None:
            mqttsec_unsupported(why)
        for cert in good_certificates(mqtt_profile):
            code, refusal = mtls_attempt(
                mqtt_target, mqtt_profile, mqtt_pki, listener, mqtt_version, f"client-{cert.name}"
            )
            assert code == 0, f"{cert.name!r} refused on {listener!r}: {code!r} {refusal}"


@pytest.mark.scenario(
    id="MTLS-NO-CERT-REFUSED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_no_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A client presenting no certificate is refused on an mTLS listener.

    Weakness class: client certificates requested but not required (``CERT_OPTIONAL``,
    ``require_certificate false``): the listener is plain TLS with extra steps.
    """
    require_mtls_refused(mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, [None])


@pytest.mark.scenario(
    id="MTLS-EXPIRED-CERT-REFUSED", family="mtls", severity="high", versions=_VERSIONS
)
def test_expired_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate of the right CA that expired yesterday is refused.

    Weakness class: validity dates not checked (a stolen device key stays good forever).
    """
    require_mtls_refused(mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-expired"])


@pytest.mark.scenario(
    id="MTLS-NOT-YET-VALID-REFUSED", family="mtls", severity="medium", versions=_VERSIONS
)
def test_not_yet_valid_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate of the right CA valid only from tomorrow is refused.

    Weakness class: only ``notAfter`` checked; pre-issued certificates usable early.
    """
    require_mtls_refused(
        mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-not-yet-valid"]
    )


@pytest.mark.scenario(
    id="MTLS-SELF-SIGNED-REFUSED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_self_signed_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A self-signed certificate (anyone can make one, with any CN) is refused.

    Weakness class: the chain not verified, only parsed for its CN.
    """
    require_mtls_refused(
        mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-self-signed"]
    )


@pytest.mark.scenario(
    id="MTLS-OTHER-CA-REFUSED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_other_ca_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate issued by an unrelated CA is refused.

    Weakness class: the system trust store used for clients (any public CA's customer
    gets in), or any CA accepted.
    """
    require_mtls_refused(mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, ["bad-client-other-ca"])


@pytest.mark.scenario(id="MTLS-REVOKED-REFUSED", family="mtls", severity="high", versions=_VERSIONS)
def test_revoked_certificate_refused(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """A certificate listed in the CA's CRL is refused: the PKI's revoked test certificate
    and every certificate the profile marks revoked.

    Weakness class: the CRL not loaded or not checked (a revoked device keeps its access).
    """
    if Capability.CRL not in mqtt_target.capabilities:
        mqttsec_unsupported(f"{mqtt_target.name} does not check certificate revocation")
    listeners = mtls_listeners(mqtt_profile, mqtt_target)
    missing = [n for n in listeners if f"crl:{n}" in mqtt_target.unsupported]
    if missing:
        mqttsec_unsupported(f"{mqtt_target.name}: {mqtt_target.unsupported[f'crl:{missing[0]}']}")
    revoked = ["bad-client-revoked"]
    revoked += [f"client-{c.name}" for c in mqtt_profile.certificates if c.revoked]
    require_mtls_refused(mqtt_target, mqtt_profile, mqtt_pki, mqtt_version, revoked)


def _concrete(rule_topic: str, user: str) -> str | None:
    """A fresh topic under an ACL rule's filter for *user*; None for ``%c`` rules."""
    if "%c" in rule_topic or rule_topic.startswith("$"):
        return None
    topic = rule_topic.replace("%u", user)
    if topic.endswith("#"):
        topic = topic[:-1] + unique()
    return topic.replace("+", unique())


@pytest.mark.scenario(
    id="MTLS-USERNAME-NO-OVERRIDE", family="mtls", severity="critical", versions=_VERSIONS
)
def test_username_cannot_override_certificate_identity(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
    mqtt_client: MqttClientFactory,
) -> None:
    """On a listener where the certificate is the identity, a device that logs in with its
    certificate *and* another user's username and password still has only the device's
    rights: its publish to a topic only the other user may write is never delivered, while
    its publish to the device's own topic (the sentinel, sent after it) is.

    Weakness class: identity taken from the CONNECT username when one is present, so any
    certificate holder becomes any user (the certificate merely opens the door).
    """
    listener = identity_listener(mqtt_profile, mqtt_target)
    plan = _plan(mqtt_profile, listener)
    if plan is None:
        raise Unsupported(
            f"profile {mqtt_profile.name!r}: no device topic, other user's topic and reader "
            "to tell the two identities apart"
        )
    device, cert_name, other, own_topic, other_topic, reader = plan
    watcher = mqtt_client(reader, "plain")
    codes = watcher.subscribe(own_topic, other_topic, qos=1)
    assert all(c < 0x80 for c in codes), f"{reader!r} may read both topics, yet SUBACK {codes}"
    pair = mqtt_pki.pair(f"client-{cert_name}")

    def login() -> MqttClient:
        return MqttClient(
            endpoint(mqtt_target, listener),
            mqtt_version,
            username=other,
            password=mqtt_profile.users[other].password,
            tls=TlsFiles(cafile(mqtt_target, mqtt_pki), pair.certfile, pair.keyfile),
        )

    impostor = login()
    try:
        code = impostor.connect()
        if code != 0:
            return  # refused outright: the username cannot have overridden anything
        forbidden, sentinel = unique("forbidden").encode(), unique("sentinel").encode()
        try:
            impostor.publish(other_topic, forbidden, qos=1)
            impostor.publish(own_topic, sentinel, qos=1)
        except (PeerClosed, ClientTimeout):
            # A broker may close a 3.1.1 client for a forbidden publish (there is no
            # negative PUBACK): send the sentinel again on a fresh connection, made after
            # the broker has dealt with the forbidden one.
            impostor.close()
            impostor = login()
            if impostor.connect() != 0:
                raise SentinelLost(
                    f"{device!r}'s certificate with username {other!r} was refused on the "
                    f"second login: {impostor.refusal}; the sentinel could not be sent"
                ) from None
            impostor.publish(own_topic, sentinel, qos=1)
        while True:
            try:
                message = watcher.next_message()
            except ClientTimeout:
                raise AssertionError(
                    f"{device!r}'s certificate with username {other!r}: the device's own "
                    f"publish to {own_topic!r} never arrived, so the broker did not apply "
                    "the certificate identity"
                ) from None
            assert message.payload != forbidden, (
                f"{device!r}'s certificate with username {other!r} published to "
                f"{other_topic!r}, which only {other!r} may write: the username overrode "
                "the certificate identity"
            )
            if message.payload == sentinel:
                return
    finally:
        impostor.close()


def _plan(profile: SecurityProfile, listener: str) -> tuple[str, str, str, str, str, str] | None:
    """(device CN, certificate name, other user, device topic, other user's topic, reader):
    the device may write its topic and not the other's; the other user may write theirs; a
    password user may read both on the plain listener."""
    for cert in profile.certificates:
        device = cert.common_name
        if cert.revoked or not profile.may_connect(device, listener):
            continue
        own = [
            t
            for rule in profile.acl
            if (t := _concrete(rule.topic, device))
            and profile.may_publish(device, t, listener, client_id=unique())
            and profile.may_publish(device, t, None, client_id=unique())
        ]
        for other in sorted(profile.users):
            theirs = [
                t
                for rule in profile.acl
                if (t := _concrete(rule.topic, other))
                and profile.may_publish(other, t, "plain")
                and not profile.may_publish(device, t, listener, client_id=unique())
            ]
            for own_topic in own:
                for other_topic in theirs:
                    for reader in sorted(profile.users):
                        if all(
                            profile.may_receive(reader, t, "plain")
                            for t in (own_topic, other_topic)
                        ):
                            return device, cert.name, other, own_topic, other_topic, reader
    return None
