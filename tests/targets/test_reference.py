"""The ``reference`` target, in-process and as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.errors import TargetError
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import ProcessTarget

from .target_contract import TargetContract, port_closed


class TestInProcess(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        with get_target("reference").start(profile, pki, tmp_path_factory.mktemp("ref")) as r:
            yield r

    def test_capabilities_are_everything(self, running: RunningTarget) -> None:
        assert running.capabilities == frozenset(Capability)
        assert "per-listener-acl" in running.unsupported  # device-1's mtls-only rule


class TestSubprocess(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        target = get_target("reference:subprocess")
        with target.start(profile, pki, tmp_path_factory.mktemp("refsub")) as r:
            yield r

    def test_log_and_files(self, running: RunningTarget) -> None:
        assert isinstance(running, ProcessTarget)
        assert "listening on" in running.log_text()
        workdir = running.process.console.parent
        assert (workdir / "passwords").stat().st_mode & 0o077 == 0
        assert (workdir / "broker.toml").stat().st_mode & 0o077 == 0


def test_stop_leaves_nothing(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    running = get_target("reference:subprocess").start(profile, pki, tmp_path / "a")
    assert isinstance(running, ProcessTarget)
    inproc = get_target("reference").start(profile, pki, tmp_path / "b")
    ports = [e.port for e in [*running.endpoints.values(), *inproc.endpoints.values()]]
    running.stop()
    inproc.stop()
    running.stop()  # twice is fine
    assert running.process.process.poll() is not None
    assert all(port_closed("127.0.0.1", port) for port in ports)


def test_startup_failure_carries_log(
    profile: SecurityProfile, pki: PkiFiles, tmp_path: Path
) -> None:
    broken = PkiFiles(tmp_path / "no-pki", pki.entries)  # every certificate path is missing
    with pytest.raises(TargetError, match="reference") as info:
        get_target("reference").start(profile, broken, tmp_path / "a")
    assert "does not exist" in str(info.value)
    with pytest.raises(TargetError, match="exited with status") as info:
        get_target("reference:subprocess").start(profile, broken, tmp_path / "b")
    assert "broker log" in str(info.value)


def test_unknown_mode() -> None:
    with pytest.raises(TargetError, match="reference:subprocess"):
        get_target("reference:thread")
