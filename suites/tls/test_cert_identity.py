"""mTLS scenarios: on a listener where the certificate is the identity, the certificate's
CN *is* the profile user, with exactly that user's ACL, and nothing in CONNECT changes it.

Expectations come from the profile (``may_publish`` / ``may_receive`` for the certificate's
CN on the mTLS listener); negative checks end on a sentinel message, never on a timeout.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.clients import MqttClient, TlsFiles
from mqttsec.fixtures.expect import expect_delivered, expect_not_delivered
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import MqttClientFactory, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._identity import Route, route
from ._support import cafile, endpoint, good_certificates, mtls_attempt, mtls_listeners, unique

_VERSIONS = ("3.1.1", "5.0")


def _device(mqtt_client: MqttClientFactory, plan: Route) -> MqttClient:
    """The device, logged in with its own certificate (no username: the CN is the user)."""
    return mqtt_client(plan.device, plan.listener)


@pytest.mark.scenario(
    id="MTLS-IDENTITY-ACL-PUBLISH", family="mtls", severity="high", versions=_VERSIONS
)
def test_certificate_identity_publish_acl(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_client: MqttClientFactory
) -> None:
    """A device logged in by certificate publishes where the profile lets its CN write (the
    message arrives), and its publish to a topic its CN may not write never arrives (the
    sentinel, its own allowed publish sent after it, does).

    Weakness class: a certificate identity that never reaches the ACL (no username, so the
    anonymous or "no rules" case applies: everything or nothing allowed), or a CN mapped to
    the wrong ACL user.
    """
    plan = route(mqtt_profile, mqtt_target)
    reader = mqtt_client(plan.reader, plan.reader_listener)
    codes = reader.subscribe(plan.own, plan.foreign, qos=1)
    assert all(c < 0x80 for c in codes), f"{plan.reader!r} may read both, yet SUBACK {codes}"
    device = _device(mqtt_client, plan)
    expect_delivered(reader, device, plan.own, unique("allowed").encode())
    expect_not_delivered(
        reader,
        device,
        plan.foreign,
        unique("forbidden").encode(),
        sentinel_topic=plan.own,
        sentinel_publisher=_device(mqtt_client, plan),
    )


@pytest.mark.scenario(
    id="MTLS-IDENTITY-ACL-SUBSCRIBE", family="mtls", severity="high", versions=_VERSIONS
)
def test_certificate_identity_subscribe_acl(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_client: MqttClientFactory
) -> None:
    """A device logged in by certificate receives on a topic its CN may read, and never
    receives on one it may not, though it subscribed to both (a broker may refuse that
    subscription or drop the messages at delivery: both pass).

    Weakness class: read rules keyed on the CONNECT username, so a certificate login (which
    has none) reads what no user may, or nothing at all.
    """
    plan = route(mqtt_profile, mqtt_target, device_reads=True)
    device = _device(mqtt_client, plan)
    device.subscribe(plan.own, qos=1)
    device.subscribe(plan.foreign, qos=1)  # granted or refused: delivery decides
    writer = mqtt_client(plan.writer, plan.reader_listener)
    expect_delivered(device, writer, plan.own, unique("allowed").encode())
    expect_not_delivered(
        device, writer, plan.foreign, unique("forbidden").encode(), sentinel_topic=plan.own
    )


@pytest.mark.scenario(
    id="MTLS-IDENTITY-SPOOF-REFUSED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_certificate_cannot_claim_another_identity(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
    mqtt_client: MqttClientFactory,
) -> None:
    """A device's certificate with another user's name as CONNECT username and as client
    id, and a wrong password: either refused, or it acts as the device only (its publish to
    the other user's topic never arrives, its own sentinel publish does).

    Weakness class: a certificate holder spoofing another identity through the username or
    client id (identity taken from CONNECT when present, the password skipped because "the
    certificate already authenticated"), the mosquitto ``use_identity_as_username`` class.
    """
    plan = route(mqtt_profile, mqtt_target)
    reader = mqtt_client(plan.reader, plan.reader_listener)
    reader.subscribe(plan.own, plan.foreign, qos=1)
    pair = mqtt_pki.pair(f"client-{plan.certificate}")
    spoof = MqttClient(
        endpoint(mqtt_target, plan.listener),
        mqtt_version,
        client_id=plan.writer,
        username=plan.writer,
        password=unique("wrong-password"),
        tls=TlsFiles(cafile(mqtt_target, mqtt_pki), pair.certfile, pair.keyfile),
    )
    try:
        if spoof.connect() != 0:
            return  # refused outright: nothing spoofed
        expect_not_delivered(
            reader,
            spoof,
            plan.foreign,
            unique("spoofed").encode(),
            sentinel_topic=plan.own,
            sentinel_publisher=_device(mqtt_client, plan),
        )
    finally:
        spoof.close()


@pytest.mark.scenario(
    id="MTLS-PASSWORD-STILL-REQUIRED", family="mtls", severity="critical", versions=_VERSIONS
)
def test_password_still_required_without_identity(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """On an mTLS listener that does *not* take the certificate as identity, a valid
    certificate does not replace the password: with a user's name and a wrong password, or
    with no username where anonymous access is off, the client is refused; with the right
    password it logs in (the control).

    Weakness class: "the client certificate is enough" shortcuts: a listener configured
    for certificate *and* password checks only the certificate, so any device logs in as
    any user by name.
    """
    listeners = [
        name
        for name in mtls_listeners(mqtt_profile, mqtt_target)
        if not mqtt_profile.listener(name).identity_as_username
    ]
    if not listeners:
        mqttsec_unsupported(
            f"profile {mqtt_profile.name!r} has no mTLS listener that keeps password logins"
        )
    good = good_certificates(mqtt_profile)
    pair = mqtt_pki.pair(f"client-{good[0].name}")
    files = TlsFiles(cafile(mqtt_target, mqtt_pki), pair.certfile, pair.keyfile)
    for listener in listeners:
        code, refusal = mtls_attempt(
            mqtt_target, mqtt_profile, mqtt_pki, listener, mqtt_version, f"client-{good[0].name}"
        )
        assert code == 0, f"control: the right password was refused on {listener!r}: {refusal}"
        user = min(u for u in mqtt_profile.users if mqtt_profile.may_connect(u, listener))
        attempts: list[tuple[str | None, str | None]] = [
            (user, unique("wrong-password")),
            (user, None),
        ]
        if not mqtt_profile.allow_anonymous:
            attempts.append((None, None))
        for username, password in attempts:
            client = MqttClient(
                endpoint(mqtt_target, listener),
                mqtt_version,
                username=username,
                password=password,
                tls=files,
            )
            try:
                code = client.connect()
            finally:
                client.close()
            what = "no password" if password is None else "a wrong password"
            assert code != 0, (
                f"ACCEPTED on {listener!r}: certificate {good[0].name!r} with username "
                f"{username!r} and {what}"
            )
