"""What every target must do with the default profile; each test module subclasses this.

A subclass provides a module-scoped ``running`` fixture (one started target per module).
Negative checks use a sentinel publish, never a sleep.
"""

from __future__ import annotations

import socket
import ssl
import uuid
from typing import ClassVar

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.fixtures.targets._process import client_tls_context

from .end_to_end import check_rows, run_first_scenarios
from .mqtt_client import Client, connect


def login(running: RunningTarget, profile: SecurityProfile, user: str, listener: str) -> Client:
    endpoint = running.endpoint(listener)
    tls = client_tls_context(running.cafile) if endpoint.tls else None
    client, code = connect(endpoint, user, profile.users[user].password, tls=tls)
    assert client is not None, f"{user} refused on {endpoint.url} (CONNACK {code})"
    return client


def port_closed(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError:
        return True
    return False


class TargetContract:
    """Connect, TLS, mTLS, ACL and stop checks shared by every target, and the first real
    scenarios of each family run through the plugin on the same started broker."""

    MTLS_UNSUPPORTED: ClassVar[str | None] = None
    """Part of the reason this target gives for MTLS-NO-CERT-REFUSED being *unsupported*;
    None: it must pass."""

    def test_first_scenarios_end_to_end(
        self,
        running: RunningTarget,
        profile: SecurityProfile,
        pki: PkiFiles,
        pytester: pytest.Pytester,
    ) -> None:
        """AUTH, TLS, mTLS and ACL scenarios pass (or are unsupported, with the target's
        reason) on this broker: see end_to_end.py."""
        rows, output = run_first_scenarios(pytester, running, profile, pki)
        check_rows(rows, running, self.MTLS_UNSUPPORTED, output)

    def test_endpoints_match_profile(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        assert set(running.endpoints) == {item.name for item in profile.listeners}
        for listener in profile.listeners:
            endpoint = running.endpoint(listener.name)
            assert endpoint.kind == listener.kind.value
            assert endpoint.host == "127.0.0.1" and endpoint.port > 0
        with pytest.raises(KeyError, match="no listener"):
            running.endpoint("nope")

    def test_password_user_connects_and_wrong_password_is_refused(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        login(running, profile, "alice", "plain").close()
        client, code = connect(running.endpoint("plain"), "alice", "not-the-password")
        assert client is None, "a wrong password was accepted"
        assert code in (None, 4, 5), f"unexpected CONNACK {code} for a wrong password"

    def test_anonymous_is_refused(self, running: RunningTarget) -> None:
        client, _ = connect(running.endpoint("plain"))
        assert client is None, "allow_anonymous = false, yet an anonymous client got in"

    def test_tls_listener_handshake_with_pki_ca(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        assert running.cafile is not None
        if "tls:tls" in running.unsupported:
            pytest.skip(running.unsupported["tls:tls"])
        login(running, profile, "bob", "tls").close()

    def test_mtls_listener_takes_client_certificate(
        self, running: RunningTarget, profile: SecurityProfile, pki: PkiFiles
    ) -> None:
        if "mtls:mtls" in running.unsupported:
            pytest.skip(running.unsupported["mtls:mtls"])
        context = client_tls_context(running.cafile)
        pair = pki.pair("client-device-1")
        context.load_cert_chain(pair.certfile, pair.keyfile)
        if "identity-as-username:mtls" in running.unsupported:  # certificate plus a password
            user = profile.users["alice"]
            client, code = connect(running.endpoint("mtls"), user.name, user.password, tls=context)
        else:
            client, code = connect(running.endpoint("mtls"), tls=context)
        assert client is not None, f"device-1's certificate was refused (CONNACK {code})"
        client.close()
        with pytest.raises((ssl.SSLError, OSError, ConnectionError)):
            refused, _ = connect(running.endpoint("mtls"), tls=client_tls_context(running.cafile))
            assert refused is None  # no certificate: the handshake (or CONNECT) must fail
            raise ConnectionError("refused after the handshake")

    def test_acl_allows_and_denies_per_profile(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        allowed, denied = "sensors/bob/temp", "sensors/alice/temp"
        assert profile.may_publish("bob", allowed) and profile.may_receive("admin", allowed)
        assert not profile.may_publish("bob", denied) and profile.may_receive("admin", denied)
        assert profile.may_subscribe("admin", "sensors/#")
        reader = login(running, profile, "admin", "plain")
        writer = login(running, profile, "bob", "plain")
        try:
            assert reader.subscribe("sensors/#") == [1]
            token = uuid.uuid4().hex.encode()
            writer.publish(denied, b"forbidden")
            try:
                writer.publish(allowed, token, qos=1)  # the sentinel, after the forbidden one
            except (ConnectionError, OSError):
                # 3.1.1 lets a broker disconnect a client whose PUBLISH it refuses (aedes,
                # RabbitMQ): the forbidden message was handled before the close, so the
                # sentinel on a new connection still comes after it.
                writer.close()
                writer = login(running, profile, "bob", "plain")
                writer.publish(allowed, token, qos=1)
            assert reader.collect_until(allowed, token) == []
        finally:
            reader.close()
            writer.close()
