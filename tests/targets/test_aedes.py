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

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.aedes, pytest.mark.xdist_group("aedes")]
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


def test_client_id_patterns_refuse_wildcard_ids(
    profile: SecurityProfile, pki: PkiFiles, tmp_path: Path
) -> None:
    """devices/%c/telemetry: bob's own device topic is writable, but a client id that is a
    wildcard or holds a '/' gets nothing from the pattern (CVE-2017-7650 class)."""
    require_installed(NAME)
    with get_target(NAME).start(profile, pki, tmp_path) as running:
        reader = login(running, profile, "admin", "plain")
        try:
            assert reader.subscribe("devices/#") == [1]
            password = profile.users["bob"].password
            for evil in ("+", "#", "victim/x"):
                bob, code = connect(running.endpoint("plain"), "bob", password, client_id=evil)
                assert bob is not None, code
                with pytest.raises((ConnectionError, OSError)):  # aedes closes on a denial
                    bob.publish("devices/victim/telemetry", b"forged", qos=1)
                bob.close()
            bob, code = connect(running.endpoint("plain"), "bob", password, client_id="dev7")
            assert bob is not None, code
            bob.publish("devices/dev7/telemetry", b"mine", qos=1)
            bob.close()
            assert reader.collect_until("devices/dev7/telemetry", b"mine") == []
        finally:
            reader.close()


def test_stop_leaves_nothing(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    require_installed(NAME)
    running = get_target(NAME).start(profile, pki, tmp_path)
    assert isinstance(running, ProcessTarget)
    running.stop()
    running.stop()
    assert running.process.process.poll() is not None
    assert all(port_closed(e.host, e.port) for e in running.endpoints.values())


def _not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from mqttsec.fixtures.targets import Installation
    from mqttsec.fixtures.targets.aedes import AedesTarget

    monkeypatch.setattr(
        AedesTarget, "probe", classmethod(lambda cls: Installation(False, None, "x"))
    )


def test_missing_broker_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI installs every broker (.ci/run runs install-brokers.sh): missing there is a failure."""
    _not_installed(monkeypatch)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but local:aedes: x"):
        require_installed(NAME)


def test_missing_broker_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    _not_installed(monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="local:aedes: x"):
        require_installed(NAME)
