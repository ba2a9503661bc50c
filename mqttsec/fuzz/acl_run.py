"""Run the ACL state machine (:mod:`mqttsec.fuzz.acl_machine`) for ``mqttsec fuzz``: one
FUZZ-ACL-STATEFUL row per MQTT version, and a reproducer (every byte each client sent in
the shrunk run) when a leak is found."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.reports.results import Outcome, ScenarioResult

from .acl_machine import acl_machine
from .reproducer import ClientBytes, Reproducer
from .session import FuzzTarget

__all__ = ["acl_rows"]

SCENARIO = "FUZZ-ACL-STATEFUL"


def _recording(base: type[Any], last: list[dict[str, bytes]]) -> type[Any]:
    """*base* with every run's per-client bytes appended to *last* at teardown."""

    class Machine(base):  # type: ignore[misc]
        def teardown(self) -> None:
            last.append(self.transcript)
            super().teardown()

    return Machine


def acl_rows(
    target: FuzzTarget, examples: int, seed_value: int, report_dir: Path
) -> list[ScenarioResult]:
    """Run *examples* state machine runs per version against a fresh broker."""
    rows: list[ScenarioResult] = []
    endpoint = target.start()
    login = target.login
    try:
        for version in (ProtocolVersion.V311, ProtocolVersion.V5):
            name = "5.0" if version is ProtocolVersion.V5 else "3.1.1"
            if version not in target.versions:
                rows.append(
                    ScenarioResult(
                        SCENARIO, "fuzz", "critical", target.spec, name, Outcome.UNSUPPORTED,
                        (), f"{target.spec} does not speak MQTT {name}", 0.0,
                        f"mqttsec fuzz --target {target.spec} --seed {seed_value}",
                    )
                )  # fmt: skip
                continue
            base = acl_machine(
                endpoint, target.profile, endpoint.listener,
                (login.username or "", login.password or ""), version,
            )  # fmt: skip
            last: list[dict[str, bytes]] = []
            machine = _recording(base, last)

            started = time.monotonic()
            outcome, detail = Outcome.PASS, f"{examples} runs, no leak"
            try:
                run_state_machine_as_test(  # type: ignore[no-untyped-call]
                    machine,
                    settings=seed(seed_value)(settings)(
                        max_examples=examples, stateful_step_count=15, deadline=None,
                        database=None, suppress_health_check=list(HealthCheck),
                    ),
                )  # fmt: skip
            except AssertionError as exc:
                rep = Reproducer(
                    SCENARIO, "fail", "acl:leak", name, target.spec, str(exc).splitlines()[0],
                    tuple(ClientBytes(n, b) for n, b in (last[-1] if last else {}).items()),
                    seed_value,
                )  # fmt: skip
                path = rep.save(report_dir / "reproducers")
                outcome, detail = Outcome.FAIL, f"{rep.detail} -> {path}"
            rows.append(
                ScenarioResult(
                    SCENARIO, "fuzz", "critical", target.spec, name, outcome, ("MQTT-4.9",),
                    detail, time.monotonic() - started,
                    f"mqttsec fuzz --target {target.spec} --seed {seed_value}",
                )
            )  # fmt: skip
    finally:
        target.stop()
    return rows
