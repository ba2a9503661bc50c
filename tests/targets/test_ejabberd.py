"""The ``local:ejabberd`` target (ejabberd 23.01 mod_mqtt, no Erlang distribution)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import ProcessTarget
from mqttsec.fixtures.targets.ejabberd import render_access_rules
from mqttsec.reference_broker.protocol import MalformedPacket
from mqttsec.reference_broker.security.acl import Grant

from ._comparison import require_installed
from .mqtt_client import connect
from .target_contract import TargetContract, login, port_closed

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.ejabberd, pytest.mark.xdist_group("ejabberd")]
NAME = "local:ejabberd"


class TestEjabberd(TargetContract):
    MTLS_UNSUPPORTED = "cannot require client certificates"

    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        require_installed(NAME)
        with get_target(NAME).start(profile, pki, tmp_path_factory.mktemp("ejabberd")) as r:
            yield r

    def test_wrong_password_code(self, running: RunningTarget) -> None:
        """The exact 3.1.1 refusal, as verified in docs/brokers.md."""
        assert connect(running.endpoint("plain"), "alice", "wrong")[1] == 5
        assert connect(running.endpoint("plain"), "nobody", "x")[1] in (4, 5)

    def test_capabilities(self, running: RunningTarget) -> None:
        assert Capability.MQTT5 in running.capabilities
        assert Capability.MTLS not in running.capabilities
        for key in ("mtls:mtls", "identity-as-username:mtls", "acl-patterns", "acl-deny"):
            assert key in running.unsupported, key
        assert isinstance(running, ProcessTarget)
        workdir = running.process.console.parent.parent
        assert (workdir / "users.json").stat().st_mode & 0o077 == 0

    def test_denied_subscribe_and_user_pattern(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        """Denied: SUBACK 0x8F, which 3.1.1 does not have (our codec refuses it: a deviation)."""
        carol = login(running, profile, "carol", "plain")
        alice = login(running, profile, "alice", "plain")
        try:
            assert carol.subscribe("reports/#") == [1]
            assert alice.subscribe("users/alice/#") == [1]
            with pytest.raises(MalformedPacket, match="0x8f"):
                alice.subscribe("users/bob/#")
        finally:
            carol.close()
            alice.close()


def test_access_rules_hold_grants_only(profile: SecurityProfile) -> None:
    """mod_mqtt allows when any matching filter allows, so deny entries would be inert:
    each granted filter lists its grantees, and ``#`` is always there to deny the rest."""
    read = render_access_rules(profile, Grant.READ)
    write = render_access_rules(profile, Grant.WRITE)
    assert read["sensors/#"] == [{"allow": "u_alice"}, "deny"]
    assert read["#"] == write["#"] == [{"allow": "u_admin"}, "deny"]
    assert "sensors/private/#" not in read
    assert "sensors/#" not in write and write["sensors/bob/#"] == [{"allow": "u_bob"}, "deny"]
    assert all("deny" not in e for t in (read, write) for v in t.values() for e in v[:-1])


def test_stop_leaves_nothing(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    require_installed(NAME)
    running = get_target(NAME).start(profile, pki, tmp_path)
    assert isinstance(running, ProcessTarget)
    running.stop()
    assert running.process.process.poll() is not None
    assert all(port_closed(e.host, e.port) for e in running.endpoints.values())
