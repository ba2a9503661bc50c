"""The ``local:mosquitto`` target (Debian's mosquitto 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.errors import TargetError
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets import mosquitto as mosquitto_target
from mqttsec.fixtures.targets._process import ProcessTarget

from .target_contract import TargetContract, port_closed

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.mosquitto, pytest.mark.xdist_group("mosquitto")]


class TestMosquitto(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        target = get_target("local:mosquitto")
        with target.start(profile, pki, tmp_path_factory.mktemp("mosquitto")) as r:
            yield r

    def test_capabilities(self, running: RunningTarget) -> None:
        assert Capability.SUBSCRIBE_TIME_ACL not in running.capabilities
        assert Capability.IDENTITY_AS_USERNAME in running.capabilities

    def test_private_files_and_log(self, running: RunningTarget) -> None:
        assert isinstance(running, ProcessTarget)
        workdir = running.process.console.parent
        assert workdir.stat().st_mode & 0o077 == 0
        for name in ("mosquitto.conf", "passwords", "acl"):
            assert (workdir / name).stat().st_mode & 0o077 == 0, name
        assert "mosquitto version" in running.log_text()


def test_probe_reads_version() -> None:
    found = get_target("local:mosquitto").probe()
    assert found.installed and found.version and found.version[0].isdigit()


def test_stop_leaves_no_process(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    running = get_target("local:mosquitto").start(profile, pki, tmp_path)
    assert isinstance(running, ProcessTarget)
    running.stop()
    assert running.process.process.poll() is not None
    assert all(port_closed(e.host, e.port) for e in running.endpoints.values())


def test_broken_config_raises_with_mosquitto_log(
    profile: SecurityProfile, pki: PkiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = mosquitto_target.render_mosquitto_conf
    monkeypatch.setattr(
        mosquitto_target,
        "render_mosquitto_conf",
        lambda *a, **k: render(*a, **k) + "no_such_option 1\n",
    )
    with pytest.raises(TargetError, match="exited with status") as info:
        get_target("local:mosquitto").start(profile, pki, tmp_path)
    assert "no_such_option" in str(info.value)  # mosquitto's own complaint
    assert "broker log" in str(info.value)


def test_missing_binary(
    profile: SecurityProfile, pki: PkiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MQTTSEC_MOSQUITTO_BIN", str(tmp_path))
    assert not get_target("local:mosquitto").probe().installed
    with pytest.raises(TargetError, match="not installed"):
        get_target("local:mosquitto").start(profile, pki, tmp_path / "w")
