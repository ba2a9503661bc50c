"""The ``local:aedes`` target (aedes 1.x via scripts/aedes-broker.js)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import ProcessTarget, client_tls_context

from ._comparison import require_installed
from .mqtt_client import connect
from .target_contract import TargetContract, login, port_closed

pytestmark = pytest.mark.aedes
NAME = "local:aedes"


class TestAedes(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        require_installed(NAME)
        with get_target(NAME).start(profile, pki, tmp_path_factory.mktemp("aedes")) as r:
            yield r

    def test_wrong_password_code(self, running: RunningTarget) -> None:
        """The exact 3.1.1 refusal, as verified in docs/brokers.md."""
        assert connect(running.endpoint("plain"), "alice", "wrong")[1] == 4
        assert connect(running.endpoint("plain"), "nobody", "x")[1] in (4, 5)

    def test_capabilities(self, running: RunningTarget) -> None:
        assert Capability.MQTT5 not in running.capabilities
        assert {Capability.MTLS, Capability.CRL, Capability.SUBSCRIBE_TIME_ACL} <= (
            running.capabilities
        )
        assert "mqtt5" in running.unsupported and "per-listener-acl" in running.unsupported
        assert isinstance(running, ProcessTarget)
        workdir = running.process.console.parent
        assert (workdir / "aedes.json").stat().st_mode & 0o077 == 0

    def test_denied_subscribe_and_revoked_certificate(
        self, running: RunningTarget, profile: SecurityProfile, pki: PkiFiles
    ) -> None:
        carol = login(running, profile, "carol", "plain")
        try:
            assert carol.subscribe("reports/#") == [1]
            assert carol.subscribe("sensors/#") == [0x80]
        finally:
            carol.close()
        context = client_tls_context(running.cafile)
        pair = pki.pair("client-device-revoked")
        context.load_cert_chain(pair.certfile, pair.keyfile)
        with pytest.raises((ssl.SSLError, OSError)):
            client, _ = connect(running.endpoint("mtls"), tls=context)
            assert client is None
            raise ConnectionError("refused after the handshake")


def test_stop_leaves_nothing(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    require_installed(NAME)
    running = get_target(NAME).start(profile, pki, tmp_path)
    assert isinstance(running, ProcessTarget)
    running.stop()
    running.stop()
    assert running.process.process.poll() is not None
    assert all(port_closed(e.host, e.port) for e in running.endpoints.values())


def test_missing_broker_skips_even_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """These markers skip under CI=true too (CI does not run make brokers yet)."""
    from mqttsec.fixtures.targets import Installation
    from mqttsec.fixtures.targets.aedes import AedesTarget

    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(
        AedesTarget, "probe", classmethod(lambda cls: Installation(False, None, "x"))
    )
    with pytest.raises(pytest.skip.Exception, match="local:aedes: x"):
        require_installed(NAME)
