"""The ``endpoint`` target, pointed at a reference broker on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec.errors import TargetError
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import free_port

from .target_contract import TargetContract


@pytest.fixture(scope="module")
def deployment(
    default_profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTarget]:
    """A 'deployment' to point the endpoint target at."""
    with get_target("reference").start(default_profile, pki, tmp_path_factory.mktemp("dep")) as r:
        yield r


@pytest.fixture(scope="module")
def declared(default_profile: SecurityProfile, deployment: RunningTarget) -> SecurityProfile:
    """The profile with the deployment's ports written in, as a user's profile would be."""
    listeners = tuple(
        dataclasses.replace(item, port=deployment.endpoint(item.name).port)
        for item in default_profile.listeners
    )
    return dataclasses.replace(default_profile, listeners=listeners)


class TestEndpoint(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, declared: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> RunningTarget:
        return get_target("endpoint").start(declared, pki, tmp_path_factory.mktemp("ep"))

    @pytest.fixture(scope="class")
    @classmethod
    def profile(cls, declared: SecurityProfile) -> SecurityProfile:
        return declared

    def test_capabilities_implied_by_profile(self, running: RunningTarget) -> None:
        assert {Capability.MTLS, Capability.IDENTITY_AS_USERNAME} <= running.capabilities
        assert running.log_text() == ""


def test_url_fills_the_listener_of_its_scheme(
    profile: SecurityProfile, deployment: RunningTarget, pki: PkiFiles, tmp_path: Path
) -> None:
    tls = deployment.endpoint("tls")
    target = get_target(f"endpoint:mqtts://127.0.0.1:{tls.port}?caps=mqtt5,tls1.3")
    running = target.start(profile, pki, tmp_path)
    assert list(running.endpoints) == ["tls"]
    assert running.endpoint("tls").url == tls.url
    assert "listener:plain" in running.unsupported
    assert running.capabilities == {Capability.MQTT5, Capability.TLS13}


def test_unreachable_and_bad_specs(profile: SecurityProfile, pki: PkiFiles, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not answer"):
        get_target(f"endpoint:mqtt://127.0.0.1:{free_port()}").start(profile, pki, tmp_path)
    with pytest.raises(TargetError, match="not mqtt://"):
        get_target("endpoint:http://127.0.0.1:80")
    with pytest.raises(TargetError, match="capabilities are"):
        get_target("endpoint:mqtt://127.0.0.1:1883?caps=teleport")
