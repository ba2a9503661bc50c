"""Run the first scenarios of every family against a target a contract test already started.

Issue 5 asks for "a first handful of real scenarios (one per family: password, TLS, mTLS,
ACL) passing on all seven targets, so the engine is proven end to end". Each target's
contract class (``TargetContract``) starts its broker once; :func:`run_first_scenarios`
then runs the handful through the real plugin, as ``pytest --pyargs mqttsec.suites.<family>
--mqtt-target <name>`` would, in an in-process pytester session whose ``mqtt_target_resolver``
hands out that running broker (and whose profile and PKI are the ones it was started with).
So the slow brokers (RabbitMQ: 15-30 s) start once for both.

The handful: AUTH-VALID-LOGIN (the password family's positive control) and
AUTH-WRONG-PASSWORD; TLS-SERVER-CERT-HOSTNAME (the certificate verifies for the dialled host,
not for another); MTLS-NO-CERT-REFUSED; ACL-TOPIC-TRICKS-PUBLISH (look-alikes of a forbidden
topic never reach it, proven by a sentinel that must arrive). ACL scenarios built on ``%c``
patterns or ``deny`` rules are left out: ActiveMQ, ejabberd and amqtt cannot express those
(their targets list ``acl-patterns`` / ``acl-deny`` as unsupported) and those scenarios do not
yet read the keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, Installation, RunningTarget, Target

from .scenario_select import ENV

__all__ = ["SCENARIOS", "Borrowed", "check_rows", "run_first_scenarios"]

SCENARIOS = (
    "AUTH-VALID-LOGIN",
    "AUTH-WRONG-PASSWORD",
    "TLS-SERVER-CERT-HOSTNAME",
    "MTLS-NO-CERT-REFUSED",
    "ACL-TOPIC-TRICKS-PUBLISH",
)
MTLS = "MTLS-NO-CERT-REFUSED"
FAMILIES = ("mqttsec.suites.auth", "mqttsec.suites.tls", "mqttsec.suites.acl")
SHARED: dict[str, Any] = {}
"""What the nested session's conftest hands to the plugin (same process, same objects)."""

CONFTEST = """
import pytest
from targets.end_to_end import SHARED, Lender

@pytest.fixture(scope="session")
def mqtt_profile():
    return SHARED["profile"]

@pytest.fixture(scope="session")
def mqtt_pki():
    return SHARED["pki"]

@pytest.fixture(scope="session")
def mqtt_target_resolver():
    return lambda spec: Lender(SHARED["running"])
"""


class Borrowed(RunningTarget):
    """A running target lent to the nested session: the contract fixture owns and stops it."""

    def __init__(self, running: RunningTarget) -> None:
        super().__init__(
            running.name, running.endpoints, running.capabilities, running.unsupported,
            running.cafile,
        )  # fmt: skip
        self.owner = running

    def log_text(self) -> str:
        """The owner's log."""
        return self.owner.log_text()

    def stop(self) -> None:
        """Nothing: the broker outlives the nested session."""


class Lender(Target):
    """A target whose start() lends an already running broker."""

    name = "borrowed"
    capabilities: frozenset[Capability] = frozenset()  # the lent broker's are on Borrowed

    def __init__(self, running: RunningTarget) -> None:
        self.running = running

    @classmethod
    def probe(cls) -> Installation:
        """Installed: it is running."""
        return Installation(True, None, "started by the contract test")

    def start(
        self, profile: SecurityProfile, pki: PkiFiles, workdir: Path, *, timeout: float = 30
    ) -> RunningTarget:
        """The running broker, borrowed."""
        return Borrowed(self.running)


def run_first_scenarios(
    pytester: pytest.Pytester, running: RunningTarget, profile: SecurityProfile, pki: PkiFiles
) -> tuple[list[dict[str, Any]], str]:
    """Run :data:`SCENARIOS` on *running* through the plugin; the results.json rows and the
    session's output."""
    SHARED.update(running=running, profile=profile, pki=pki)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest -p no:randomly\n")
    report = pytester.path / "report"
    before = os.environ.get(ENV)
    os.environ[ENV] = ",".join(SCENARIOS)
    try:
        result = pytester.runpytest_inprocess(
            "--pyargs", *FAMILIES, f"--mqtt-target={running.name}",
            f"--mqtt-report-dir={report}", "-p", "targets.scenario_select",
            "-p", "no:cacheprovider", "-q", "-rfEs",
        )  # fmt: skip
    finally:
        if before is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = before
    output = result.stdout.str() + result.stderr.str()
    assert (report / "results.json").is_file(), output
    rows: list[dict[str, Any]] = json.loads((report / "results.json").read_text())["results"]
    return rows, output


def check_rows(
    rows: list[dict[str, Any]], running: RunningTarget, mtls_unsupported: str | None, output: str
) -> None:
    """Every scenario has a row per MQTT version, each *pass*, or *unsupported* with the
    reason this target must give (MQTT 5 on a 3.1.1-only broker; *mtls_unsupported* for
    MTLS-NO-CERT-REFUSED when not None)."""
    assert {(r["scenario"], r["mqtt_version"]) for r in rows} == {
        (s, v) for s in SCENARIOS for v in ("3.1.1", "5.0")
    }, output
    mqtt5 = Capability.MQTT5 in running.capabilities
    wrong = []
    for row in sorted(rows, key=lambda r: (r["scenario"], r["mqtt_version"])):
        outcome, why = "pass", None
        if row["mqtt_version"] == "5.0" and not mqtt5:
            outcome, why = "unsupported", "does not speak MQTT 5.0"
        elif row["scenario"] == MTLS and mtls_unsupported is not None:
            outcome, why = "unsupported", mtls_unsupported
        if row["outcome"] != outcome or (why is not None and why not in row["detail"]):
            wrong.append(
                f"{row['scenario']} {row['mqtt_version']}: {row['outcome']} (expected "
                f"{outcome}{f' because {why!r}' if why else ''}): {row['detail']}"
            )
    assert not wrong, "\n".join(wrong) + f"\n--- {running.name} ---\n" + output
