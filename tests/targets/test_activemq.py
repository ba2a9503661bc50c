"""The ``local:activemq`` target (ActiveMQ Classic 5.17 from Debian); ~3 s start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import ProcessTarget, client_tls_context
from mqttsec.fixtures.targets.activemq import destination

from ._comparison import require_installed
from .mqtt_client import connect
from .target_contract import TargetContract, login, port_closed

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.activemq, pytest.mark.xdist_group("activemq")]
NAME = "local:activemq"


class TestActiveMQ(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        require_installed(NAME)
        with get_target(NAME).start(profile, pki, tmp_path_factory.mktemp("activemq")) as r:
            yield r
        assert isinstance(r, ProcessTarget) and r.process.process.poll() is not None
        assert all(port_closed(e.host, e.port) for e in r.endpoints.values())

    def test_wrong_password_code(self, running: RunningTarget) -> None:
        """The exact 3.1.1 refusal, as verified in docs/brokers.md."""
        assert connect(running.endpoint("plain"), "alice", "wrong")[1] == 5
        assert connect(running.endpoint("plain"), "nobody", "x")[1] in (4, 5)

    def test_capabilities(self, running: RunningTarget) -> None:
        assert Capability.MQTT5 not in running.capabilities
        assert {Capability.MTLS, Capability.CRL} <= running.capabilities
        assert "crl:mtls" not in running.unsupported
        for key in ("mqtt5", "identity-as-username:mtls", "acl-deny", "acl-patterns"):
            assert key in running.unsupported, key
        assert "Apache ActiveMQ" in running.log_text()

    def test_denied_subscribe_and_other_ca_certificate(
        self, running: RunningTarget, profile: SecurityProfile, pki: PkiFiles
    ) -> None:
        carol = login(running, profile, "carol", "plain")
        try:
            assert carol.subscribe("reports/#") == [1]
            assert carol.subscribe("sensors/#") == [0x80]
        finally:
            carol.close()
        user = profile.users["alice"]
        for bad in ("bad-client-other-ca", "bad-client-revoked"):  # revoked: crlPath
            context = client_tls_context(running.cafile)
            pair = pki.pair(bad)
            context.load_cert_chain(pair.certfile, pair.keyfile)
            with pytest.raises((OSError, ConnectionError)):
                client, _ = connect(running.endpoint("mtls"), user.name, user.password, tls=context)
                assert client is None
                raise ConnectionError(f"{bad}: refused after the handshake")


def test_destination() -> None:
    assert destination("sensors/+/temp") == "sensors.*.temp"
    assert destination("users/alice/#") == "users.alice.>"


def test_missing_codec_is_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mqttsec.fixtures.targets import activemq

    monkeypatch.setattr(activemq, "JARS", tmp_path)
    found = get_target(NAME).probe()
    assert not found.installed
