"""The two example plugins: authorization by certificate attributes, and the payload signer."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tls_pki import client_context, handshake, write_ca, write_leaf

from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.reference_broker.security.example_cert_authz import CertAuthzPlugin
from mqttsec.reference_broker.security.example_payload_signer import (
    KEY_ID_PROPERTY,
    SIGNATURE_PROPERTY,
    PayloadSigner,
    SignatureError,
    key_id_of,
    verify_signed_message,
)
from mqttsec.reference_broker.security.identity import (
    ClientCertificate,
    certificate_from_ssl_object,
)
from mqttsec.reference_broker.security.plugin_api import (
    ClientInfo,
    ConnectInfo,
    Decision,
    PluginMessage,
)
from mqttsec.reference_broker.security.plugins import PluginChain, PluginConfigError, PluginSpec
from mqttsec.reference_broker.security.tls import TlsSettings, build_server_context

T = TypeVar("T")
CA = trustme.CA()
AUTHZ = "mqttsec.reference_broker.security.example_cert_authz:CertAuthzPlugin"
SIGNER = "mqttsec.reference_broker.security.example_payload_signer:PayloadSigner"


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def cert(*identities: str, cn: str | None, ou: str | None = None) -> ClientCertificate:
    leaf = CA.issue_cert(*identities, common_name=cn, organization_unit_name=ou)
    return ClientCertificate.from_der(
        ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    )


def client(certificate: ClientCertificate | None) -> ClientInfo:
    return ClientInfo("c", None, ProtocolVersion.V311, None, "mtls", certificate)


AUTHZ_OPTIONS = {"allowed_ous": ["fleet"], "allowed_dns_suffixes": [".devices.example"]}


# --- certificate authorization ----------------------------------------------------------


def test_authz_connect_needs_a_qualifying_certificate() -> None:
    plugin = CertAuthzPlugin(AUTHZ_OPTIONS)
    for certificate in (None, cert(cn="dev1", ou="office"), cert("dev1.other.example", cn="dev1")):
        result = plugin.authenticate(ConnectInfo(client(certificate), None, True))
        assert result.decision is Decision.DENY and result.reason_code == 0x87
    for certificate in (cert(cn="dev1", ou="fleet"), cert("dev1.devices.example", cn="dev1")):
        assert (
            plugin.authenticate(ConnectInfo(client(certificate), None, True)).decision
            is Decision.NO_OPINION
        )


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("devices/dev1", True),
        ("devices/dev1/temp", True),
        ("devices/dev1/a/b/c", True),
        ("devices/dev2/temp", False),
        ("devices/dev10/temp", False),
        ("devices", False),
        ("other/dev1/temp", False),
        ("/devices/dev1", False),
    ],
)
def test_authz_publish_only_under_own_cn(topic: str, allowed: bool) -> None:
    plugin = CertAuthzPlugin(AUTHZ_OPTIONS)
    assert (
        plugin.authorize_publish(client(cert(cn="dev1", ou="fleet")), PluginMessage(topic, b""))
        is allowed
    )


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        ("devices/dev1/#", True),
        ("devices/dev1/+/state", True),
        ("devices/dev1", True),
        ("$share/g/devices/dev1/#", True),
        ("devices/+/state", False),
        ("devices/#", False),
        ("#", False),
        ("+/dev1/#", False),
        ("$share/g/devices/+/x", False),
        ("$share/g", False),
    ],
)
def test_authz_subscribe_only_inside_own_subtree(topic_filter: str, allowed: bool) -> None:
    plugin = CertAuthzPlugin(AUTHZ_OPTIONS)
    assert (
        plugin.authorize_subscribe(client(cert(cn="dev1", ou="fleet")), topic_filter, 1) is allowed
    )


@pytest.mark.parametrize("cn", ["+", "#", "dev1/x", None])
def test_authz_cn_cannot_widen_the_subtree(cn: str | None) -> None:
    """A CN of '+', '#' or with '/' must not become a wildcard level (CVE-2017-7650 class)."""
    plugin = CertAuthzPlugin(AUTHZ_OPTIONS)
    identities = () if cn else ("nocn.devices.example",)  # trustme needs some identity
    who = client(cert(*identities, cn=cn, ou="fleet"))
    assert plugin.authorize_publish(who, PluginMessage("devices/dev1/x", b"")) is False
    assert plugin.authorize_subscribe(who, f"devices/{cn}/#", 0) is False
    assert plugin.authenticate(ConnectInfo(who, None, True)).decision is Decision.DENY


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "empty policy"),
        ({"allowed_ous": []}, "empty policy"),
        ({"allowed_ous": "fleet"}, "list of non-empty strings"),
        ({"allowed_ous": ["fleet"], "prefix": "a/b"}, "one topic level"),
        ({"allowed_ous": ["fleet"], "typo": 1}, "unknown options"),
    ],
)
def test_authz_bad_options_stop_loading(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PluginConfigError, match=fragment):
        PluginChain.from_specs([PluginSpec(AUTHZ, options)])


# --- payload signer ----------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return str(path), key


def signer(key_file: tuple[str, Ed25519PrivateKey], **options: Any) -> PayloadSigner:
    return PayloadSigner({"private_key_file": key_file[0], **options})


def test_signer_user_property_format_round_trip(key_file: tuple[str, Ed25519PrivateKey]) -> None:
    plugin = signer(key_file)
    keys = {plugin.key_id: key_file[1].public_key()}
    assert plugin.key_id == key_id_of(key_file[1].public_key())
    message = PluginMessage("sensors/t", b"21.5", 1, user_properties=(("unit", "C"),))
    signed = plugin.on_message(client(None), message)
    assert signed.payload == b"21.5" and signed.user_property("unit") == ["C"]
    assert signed.user_property(KEY_ID_PROPERTY) == [plugin.key_id]
    assert (
        verify_signed_message(signed.topic, signed.payload, signed.user_properties, keys=keys)
        == b"21.5"
    )
    # Tampering with the payload or moving it to another topic breaks the signature.
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signed_message(signed.topic, b"99.9", signed.user_properties, keys=keys)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signed_message("sensors/other", signed.payload, signed.user_properties, keys=keys)
    with pytest.raises(SignatureError, match="unknown key id"):
        verify_signed_message(signed.topic, signed.payload, signed.user_properties, keys={})


def test_signer_replaces_a_signature_the_client_forged(
    key_file: tuple[str, Ed25519PrivateKey],
) -> None:
    plugin = signer(key_file)
    forged = PluginMessage(
        "t", b"x", user_properties=((SIGNATURE_PROPERTY, "AAAA"), (KEY_ID_PROPERTY, plugin.key_id))
    )
    signed = plugin.on_message(client(None), forged)
    assert len(signed.user_property(SIGNATURE_PROPERTY)) == 1
    assert signed.user_property(SIGNATURE_PROPERTY) != ["AAAA"]
    verify_signed_message(
        "t", b"x", signed.user_properties, keys={plugin.key_id: plugin.public_key}
    )


def test_verify_refuses_unsigned_and_ambiguous_messages(
    key_file: tuple[str, Ed25519PrivateKey],
) -> None:
    plugin = signer(key_file)
    keys = {plugin.key_id: plugin.public_key}
    with pytest.raises(SignatureError, match="not signed"):
        verify_signed_message("t", b"plain", keys=keys)
    with pytest.raises(SignatureError, match="not signed"):
        verify_signed_message("t", b'{"payload": "eA=="}', keys=keys)
    signed = plugin.on_message(client(None), PluginMessage("t", b"x"))
    doubled = (
        *signed.user_properties,
        (SIGNATURE_PROPERTY, signed.user_property(SIGNATURE_PROPERTY)[0]),
    )
    with pytest.raises(SignatureError, match="exactly one"):
        verify_signed_message("t", b"x", doubled, keys=keys)


def test_signer_envelope_for_311_subscribers(key_file: tuple[str, Ed25519PrivateKey]) -> None:
    plugin = signer(key_file, format="envelope", key_id="broker-2026")
    signed = plugin.on_message(client(None), PluginMessage("t/1", b"\x00\xffbinary"))
    envelope = json.loads(signed.payload)
    assert envelope["mqttsec-signed"] == 1 and envelope["key_id"] == "broker-2026"
    assert base64.b64decode(envelope["payload"]) == b"\x00\xffbinary"
    keys = {"broker-2026": plugin.public_key}
    assert verify_signed_message("t/1", signed.payload, keys=keys) == b"\x00\xffbinary"
    envelope["payload"] = base64.b64encode(b"evil").decode()
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signed_message("t/1", json.dumps(envelope).encode(), keys=keys)
    envelope["signature"] = "!!"
    with pytest.raises(SignatureError, match="base64"):
        verify_signed_message("t/1", json.dumps(envelope).encode(), keys=keys)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "exactly one of"),
        ({"private_key_pem": "x", "private_key_file": "y"}, "exactly one of"),
        ({"private_key_file": "/nonexistent/key"}, "No such file"),
        ({"private_key_pem": "not a key"}, "factory failed"),
        ({"format": "cose"}, "format must be"),
    ],
)
def test_signer_bad_options_stop_loading(
    options: dict[str, Any], fragment: str, key_file: tuple[str, Ed25519PrivateKey]
) -> None:
    if options == {"format": "cose"}:
        options = {"private_key_file": key_file[0], **options}
    with pytest.raises(PluginConfigError, match=fragment):
        PluginChain.from_specs([PluginSpec(SIGNER, options)])


def test_signer_refuses_a_non_ed25519_key(tmp_path: Path) -> None:
    pem = CA.issue_cert(common_name="x").private_key_pem.bytes().decode()  # an ECDSA key
    with pytest.raises(PluginConfigError, match="Ed25519"):
        PluginChain.from_specs([PluginSpec(SIGNER, {"private_key_pem": pem})])


# --- both, behind a real mTLS handshake -------------------------------------------------


def test_chain_with_both_examples_after_an_mtls_handshake(
    tmp_path: Path, key_file: tuple[str, Ed25519PrivateKey]
) -> None:
    """mTLS handshake -> certificate -> authz plugin -> signer -> subscriber verifies."""
    server_ca, device_ca = trustme.CA(), trustme.CA()
    server = write_leaf(server_ca.issue_cert("localhost"), tmp_path, "server")
    device = write_leaf(
        device_ca.issue_cert(common_name="dev7", organization_unit_name="fleet"), tmp_path, "dev7"
    )
    settings = TlsSettings(
        server.certfile,
        server.keyfile,
        cafile=write_ca(device_ca, tmp_path),
        require_certificate=True,
    )
    result = handshake(build_server_context(settings), client_context(server_ca, device))
    assert result.ok
    who = ClientInfo(
        "dev7-client",
        "dev7",
        ProtocolVersion.V5,
        ("127.0.0.1", 1),
        "mtls",
        certificate_from_ssl_object(result.server),
    )
    chain = PluginChain.from_specs(
        [
            PluginSpec(AUTHZ, {"allowed_ous": ["fleet"]}),
            PluginSpec(SIGNER, {"private_key_file": key_file[0]}),
        ]
    )
    assert run(chain.authenticate(ConnectInfo(who, None, True))).decision is Decision.NO_OPINION
    message = PluginMessage("devices/dev7/temp", b"20")
    assert run(chain.authorize_publish(who, message)) is True
    assert run(chain.authorize_publish(who, PluginMessage("devices/dev8/temp", b"20"))) is False
    signed = run(chain.on_message(who, message))
    assert signed is not None
    keys = {key_id_of(key_file[1].public_key()): key_file[1].public_key()}
    assert (
        verify_signed_message(signed.topic, signed.payload, signed.user_properties, keys=keys)
        == b"20"
    )
