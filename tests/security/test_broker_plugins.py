"""Plugin hooks wired into the running broker, end to end with paho clients.

The two shipped examples (authorization by certificate attributes over mTLS, payload
signing verified by the subscriber), a topic rewrite that must pass the ACL again, and
async hooks that must keep a client's packets in order.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from broker_clients import V5, connack_code, paho
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tls_pki import Pair, client_context, write_ca, write_leaf

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker, BrokerConfig
from mqttsec.reference_broker.config import ListenerConfig
from mqttsec.reference_broker.protocol import Connack, Connect, Puback, Publish, QoS
from mqttsec.reference_broker.security.example_payload_signer import (
    SignatureError,
    key_id_of,
    verify_signed_message,
)
from mqttsec.reference_broker.security.plugins import PluginSpec
from mqttsec.reference_broker.security.tls import TlsSettings

MakeBroker = Callable[..., BackgroundBroker]
AUTHZ = "mqttsec.reference_broker.security.example_cert_authz:CertAuthzPlugin"
SIGNER = "mqttsec.reference_broker.security.example_payload_signer:PayloadSigner"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("plugins-pki")
    server_ca, client_ca = trustme.CA(), trustme.CA()
    return {
        "server_ca": server_ca,
        "server": write_leaf(server_ca.issue_cert("127.0.0.1"), d, "server"),
        "client_ca": write_ca(client_ca, d, "clients"),
        "dev1": write_leaf(
            client_ca.issue_cert(common_name="dev1", organization_unit_name="fleet"), d, "dev1"
        ),
        "dev2": write_leaf(
            client_ca.issue_cert(common_name="dev2", organization_unit_name="fleet"), d, "dev2"
        ),
        "guest": write_leaf(
            client_ca.issue_cert(common_name="guest", organization_unit_name="visitors"), d, "g"
        ),
    }


def tls_for(pki: dict[str, object], name: str) -> ssl.SSLContext:
    leaf = pki[name]
    assert isinstance(leaf, Pair)
    ca = pki["server_ca"]
    assert isinstance(ca, trustme.CA)
    return client_context(ca, leaf)


def test_certificate_authorization_plugin_end_to_end(
    make_broker: MakeBroker, pki: dict[str, object]
) -> None:
    server = pki["server"]
    assert isinstance(server, Pair)
    tls = TlsSettings(
        server.certfile,
        server.keyfile,
        cafile=str(pki["client_ca"]),
        require_certificate=True,
        use_identity_as_username=True,
    )
    plugin = PluginSpec(AUTHZ, {"prefix": "devices", "allowed_ous": ["fleet"]})
    config = BrokerConfig(listeners=(ListenerConfig("mtls", port=0, tls=tls),), plugins=(plugin,))
    b = make_broker(config)
    port = b.ports["mtls"]
    # The CONNECT username cannot override the certificate identity.
    dev1 = paho(port, "d1", v5=True, tls=tls_for(pki, "dev1"), username="dev2", password="x")
    assert b.call(lambda: b.core.connections["d1"].username) == "dev1"
    dev2 = paho(port, "d2", v5=True, tls=tls_for(pki, "dev2"))
    assert dev1.subscribe("devices/dev1/#", "devices/dev2/#") == [1, 0x87]
    assert dev2.publish("devices/dev1/cmd", b"spoof") == 0x87
    assert dev2.publish("devices/dev2/x", b"own") in (0, 0x10)
    assert dev1.publish("devices/dev1/done", b"s") == 0
    assert dev1.topics_until("devices/dev1/done") == []
    paho(port, "g", v5=True, tls=tls_for(pki, "guest"), expect=0x87)  # OU not allowed
    dev1.close()
    dev2.close()


@pytest.mark.parametrize("fmt", ["user-property", "envelope"])
def test_payload_signer_signature_verified_by_the_subscriber(
    make_broker: MakeBroker, tmp_path: Path, fmt: str
) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    plugin = PluginSpec(SIGNER, {"private_key_pem": pem, "format": fmt})
    b = make_broker(BrokerConfig(port=0, allow_anonymous=True, plugins=(plugin,)))
    keys = {key_id_of(key.public_key()): key.public_key()}
    v5 = fmt == "user-property"  # the envelope is for 3.1.1 subscribers too
    sub = paho(b.port, "sub", v5=v5)
    sub.subscribe("s/#")
    pub = paho(b.port, "pub", v5=True)
    forged = [("mqttsec-signature", "AAAA"), ("mqttsec-key-id", "fake")]
    pub.publish("s/1", b"hello", user_properties=forged)  # a client cannot pre-sign
    got = sub.messages.get(timeout=5)
    assert verify_signed_message(got.topic, got.payload, got.user_properties, keys=keys) == b"hello"
    with pytest.raises(SignatureError):  # the signature covers the topic
        verify_signed_message("s/2", got.payload, got.user_properties, keys=keys)
    sub.close()
    pub.close()


ACL = "user alice\ntopic readwrite in/#\ntopic readwrite ok/#\ntopic read locked/#\n"


@pytest.mark.parametrize("is_async", [False, True])
def test_topic_rewrite_is_authorized_again(
    make_broker: MakeBroker, tmp_path: Path, is_async: bool
) -> None:
    from mqttsec.reference_broker.security.passwords import PasswordFile

    users = PasswordFile()
    users.set_password("alice", "a", iterations=1000)
    users.save(tmp_path / "passwd")
    (tmp_path / "acl").write_text(ACL)
    for target, delivered in (("ok", True), ("locked", False)):
        plugin = PluginSpec("broker_plugins:Rewriter", {"target": target, "async": is_async})
        config = BrokerConfig(
            port=0,
            password_file=str(tmp_path / "passwd"),
            acl_file=str(tmp_path / "acl"),
            plugins=(plugin,),
        )
        b = make_broker(config)
        alice = paho(b.port, "alice", username="alice", password="a")
        alice.subscribe(f"{target}/#", "ok/sentinel")
        alice.publish("in/x", b"moved")
        alice.publish("ok/sentinel", b"s")  # not under in/: not moved
        got = alice.topics_until("ok/sentinel")
        assert got == ([f"{target}/x"] if delivered else []), (target, got)
        alice.close()


def test_async_publish_hooks_keep_order_and_answer_per_packet(make_broker: MakeBroker) -> None:
    plugin = PluginSpec("broker_plugins:SlowGate", {"delay": 0.01})
    b = make_broker(BrokerConfig(port=0, allow_anonymous=True, plugins=(plugin,)))
    sub = paho(b.port, "sub", v5=True)
    assert sub.subscribe("o/#", "o/deny/#", "o/x/deny") == [1, 0x87, 0x87]
    with RawClient.plain("127.0.0.1", b.port, V5) as raw:
        raw.send(Connect("pub", V5))
        assert raw.expect(Connack).reason_code == 0
        topics = ["o/1", "o/deny", "o/2", "o/3/deny", "o/4", "o/end"]
        raw.send(*(Publish(t, t.encode(), QoS(1), packet_id=i + 1) for i, t in enumerate(topics)))
        acks = [raw.expect(Puback) for _ in topics]
    assert [a.packet_id for a in acks] == [1, 2, 3, 4, 5, 6]
    assert [a.reason_code for a in acks] == [0, 0x87, 0, 0x87, 0, 0]
    assert sub.topics_until("o/end") == ["o/1", "o/2", "o/4"]
    sub.close()
    assert connack_code(b.port, V5) == 0


def test_plugins_are_closed_when_the_broker_stops(tmp_path: Path) -> None:
    """A plugin holding keys or connections gets its ``close`` exactly once at shutdown."""
    marker = tmp_path / "closed"
    plugin = PluginSpec("broker_plugins:Closable", {"marker": str(marker)})
    with BackgroundBroker(BrokerConfig(port=0, allow_anonymous=True, plugins=(plugin,))):
        assert not marker.exists()
    assert marker.read_text() == "closed\n"
