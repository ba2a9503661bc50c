"""The ``local:amqtt`` target (amqtt 0.12 in .venv-amqtt)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.errors import TargetError
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets import amqtt as amqtt_target
from mqttsec.fixtures.targets._process import ProcessTarget

from .mqtt_client import connect
from .target_contract import TargetContract, login, port_closed

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.amqtt, pytest.mark.xdist_group("amqtt")]


class TestAmqtt(TargetContract):
    MTLS_UNSUPPORTED = "cannot require client certificates"

    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        with get_target("local:amqtt").start(profile, pki, tmp_path_factory.mktemp("amqtt")) as r:
            yield r

    def test_says_what_it_cannot_do(self, running: RunningTarget) -> None:
        assert Capability.MQTT5 not in running.capabilities
        assert Capability.MTLS not in running.capabilities
        for key in ("mqtt5", "mtls:mtls", "acl-deny", "acl-patterns"):
            assert key in running.unsupported, key

    def test_subscribe_acl_and_expanded_user_pattern(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        """carol may read reports/#, not sensors/#; alice owns users/alice/# via %u."""
        carol = login(running, profile, "carol", "plain")
        alice = login(running, profile, "alice", "plain")
        try:
            assert carol.subscribe("reports/#") == [1]
            assert carol.subscribe("sensors/#") == [0x80]
            assert alice.subscribe("users/alice/#") == [1]
            assert alice.subscribe("users/bob/#") == [0x80]
        finally:
            carol.close()
            alice.close()

    def test_mtls_listener_without_certificate_still_accepts_tls(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        """What 'unsupported' means here: amqtt cannot require the client certificate."""
        from mqttsec.fixtures.targets._process import client_tls_context

        client, code = connect(
            running.endpoint("mtls"), "alice", profile.users["alice"].password,
            tls=client_tls_context(running.cafile),
        )  # fmt: skip
        assert client is not None and code == 0
        client.close()


def test_stop_and_broken_config(
    profile: SecurityProfile, pki: PkiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = amqtt_target.render_amqtt_config

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        config = render(*args, **kwargs)  # type: ignore[arg-type]
        config["listeners"]["tls"]["certfile"] = str(tmp_path / "missing.crt")
        return config

    monkeypatch.setattr(amqtt_target, "render_amqtt_config", broken)
    with pytest.raises(TargetError, match="start-up") as info:
        get_target("local:amqtt").start(profile, pki, tmp_path / "broken")
    assert "missing.crt" in str(info.value)  # amqtt's own message, from its log
    monkeypatch.setattr(amqtt_target, "render_amqtt_config", render)
    running = get_target("local:amqtt").start(profile, pki, tmp_path / "ok")
    assert isinstance(running, ProcessTarget)
    running.stop()
    assert running.process.process.poll() is not None
    assert all(port_closed(e.host, e.port) for e in running.endpoints.values())
