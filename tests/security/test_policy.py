"""SecurityPolicy and LoginThrottle without a broker: the decisions themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mqttsec.errors import ConfigError
from mqttsec.reference_broker import BrokerConfig
from mqttsec.reference_broker.protocol import ProtocolVersion, Will
from mqttsec.reference_broker.security.acl import AclFile
from mqttsec.reference_broker.security.login_throttle import LoginThrottle
from mqttsec.reference_broker.security.plugins import PluginSpec
from mqttsec.reference_broker.security.policy import ConnectRequest, SecurityPolicy, run_now


def request(username: str | None, password: bytes | None, **kw: object) -> ConnectRequest:
    return ConnectRequest(
        "c",
        username,
        password,
        ProtocolVersion.V5,
        True,
        ("10.0.0.1", 1),
        **kw,  # type: ignore[arg-type]
    )


def test_throttle_window_slides_and_memory_is_bounded() -> None:
    now = [0.0]
    throttle = LoginThrottle(2, 10.0, lambda: now[0], max_keys=4)
    throttle.record_failure("10.0.0.1", "alice")
    assert not throttle.is_throttled("10.0.0.1", None)
    now[0] = 5.0
    throttle.record_failure("10.0.0.1", None)
    assert throttle.is_throttled("10.0.0.1", None)
    assert not throttle.is_throttled("10.0.0.2", "alice")  # alice failed once only
    now[0] = 10.5  # the first failure left the window
    assert not throttle.is_throttled("10.0.0.1", None)
    for i in range(10):
        throttle.record_failure(f"10.1.0.{i}", None)
    assert len(throttle) <= 4
    with pytest.raises(ValueError):
        LoginThrottle(0, 10.0, lambda: 0.0)


def test_run_now_fails_closed_when_a_sync_hook_suspends() -> None:
    async def suspends() -> bool:
        await asyncio.sleep(0)
        return True

    assert run_now(suspends(), False, "test") is False

    async def immediate() -> bool:
        return True

    assert run_now(immediate(), False, "test") is True


def test_admission_rules() -> None:
    acl = AclFile.parse("user alice\ntopic write will/alice\n")
    policy = SecurityPolicy(acl=acl, allow_anonymous=True)
    admit = policy.admit
    assert run_now(admit(request(None, None)), None, "t").accepted  # type: ignore[union-attr]
    refused = run_now(admit(request(None, b"pw")), None, "t")
    assert refused is not None and (refused.v311, refused.v5) == (0x04, 0x86)
    ok_will = request("alice", None, will=Will("will/alice", b"x"))
    assert run_now(admit(ok_will), None, "t").accepted  # type: ignore[union-attr]
    for topic in ("will/bob", "$SYS/x", "$CONTROL/x"):
        bad = run_now(admit(request("alice", None, will=Will(topic, b"x"))), None, "t")
        assert bad is not None and not bad.accepted and bad.v5 == 0x87, topic


def test_from_config_refuses_what_it_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        SecurityPolicy.from_config(BrokerConfig(acl_file=str(tmp_path / "missing")), lambda: 0.0)
    with pytest.raises(ConfigError):
        SecurityPolicy.from_config(
            BrokerConfig(plugins=(PluginSpec("no.such.module:Plugin"),)), lambda: 0.0
        )
    open_policy = SecurityPolicy.from_config(BrokerConfig(), lambda: 0.0)
    assert not open_policy.checks_messages and open_policy.throttle is None
    assert not open_policy.may_write(None, "c", "$SYS/broker/x")
    assert open_policy.may_write(None, "c", "any/topic")
