"""The ACL state machine against the reference broker, and that it catches a leak."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from mqttsec.fixtures.targets import Endpoint
from mqttsec.fuzz.acl_machine import acl_machine
from mqttsec.fuzz.session import FuzzTarget
from mqttsec.reference_broker.protocol import ProtocolVersion

SETTINGS = settings(
    max_examples=6,
    stateful_step_count=8,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FuzzTarget, Endpoint]]:
    target = FuzzTarget("reference", Path(tmp_path_factory.mktemp("acl")))
    endpoint = target.start()
    yield target, endpoint
    target.stop()


@pytest.mark.parametrize("version", list(ProtocolVersion), ids=lambda v: v.name)
def test_reference_never_leaks(
    reference: tuple[FuzzTarget, Endpoint], version: ProtocolVersion
) -> None:
    target, endpoint = reference
    login = target.login
    assert login.username is not None and login.password is not None
    machine = acl_machine(
        endpoint, target.profile, "plain", (login.username, login.password), version
    )
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_a_leak_is_caught(reference: tuple[FuzzTarget, Endpoint]) -> None:
    """A profile stricter than the broker's (alice may read nothing) makes deliveries leaks."""
    target, endpoint = reference
    strict = dataclasses.replace(
        target.profile, acl=tuple(e for e in target.profile.acl if e.user != "alice")
    )
    login = target.login
    assert login.username is not None and login.password is not None
    machine = acl_machine(endpoint, strict, "plain", (login.username, login.password))
    state = machine()
    try:
        state.subscribe("alice", "sensors/a", 1)
        state.publish("admin", "sensors/a", 1)  # the broker delivers it: alice may read it there
        with pytest.raises(AssertionError, match="LEAK: alice received .sensors/a."):
            state.nothing_leaked()
    finally:
        state.teardown()
