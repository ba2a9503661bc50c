"""The auth family (``mqttsec.suites.auth``) run as users run it, in a subprocess:
every scenario passes against the reference broker, none is a harness error against
mosquitto (its fails and deviations there would be findings about mosquitto), and the
scenarios can fail: against a broker that lets everyone in, they do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from family_run import describe, run_family, wait_listening

from mqttsec.fixtures.targets._process import free_port

SCENARIOS = {
    "AUTH-VALID-LOGIN",
    "AUTH-ANONYMOUS-REFUSED",
    "AUTH-WRONG-PASSWORD",
    "AUTH-UNKNOWN-USER",
    "AUTH-EMPTY-PASSWORD",
    "AUTH-PASSWORD-NEAR-MISS",
    "AUTH-PASSWORD-WITHOUT-USERNAME",
    "AUTH-LONG-CREDENTIALS",
    "AUTH-USERNAME-MALFORMED",
    "AUTH-REFUSAL-CLOSES",
    "AUTH-REFUSED-NO-WILL",
    "AUTH-REFUSED-NO-PUBLISH",
    "AUTH-REFUSED-NO-SESSION",
    "AUTH-REFUSED-NO-TAKEOVER",
    "AUTH-CLIENTID-TAKEOVER-SESSION",
}


def test_auth_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.auth", "reference", tmp_path, SCENARIOS)
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, describe(bad)
    assert all(r["family"] == "auth" and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_auth_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.auth", "local:mosquitto", tmp_path, SCENARIOS)
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, describe(errors)


#: What an open broker (anonymous allowed, no password file) must be caught at.
MUST_FAIL_ON_OPEN_BROKER = {
    "AUTH-ANONYMOUS-REFUSED",
    "AUTH-WRONG-PASSWORD",
    "AUTH-UNKNOWN-USER",
    "AUTH-EMPTY-PASSWORD",
    "AUTH-PASSWORD-NEAR-MISS",
    "AUTH-REFUSED-NO-WILL",
    "AUTH-REFUSED-NO-PUBLISH",
}


@pytest.mark.mosquitto
def test_auth_family_catches_a_broker_that_lets_everyone_in(
    tmp_path: Path, mosquitto_tools: dict[str, Path]
) -> None:
    """The same scenarios against mosquitto with ``allow_anonymous true`` and no password
    file, reached as an endpoint described by the default profile: each check above fails."""
    binary = mosquitto_tools["mosquitto"]
    port = free_port()
    conf = tmp_path / "open.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen(
        [str(binary), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port, "the open mosquitto")
        rows = run_family(
            "mqttsec.suites.auth", f"endpoint:mqtt://127.0.0.1:{port}", tmp_path, SCENARIOS
        )
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    caught = [r for r in rows if r["scenario"] in MUST_FAIL_ON_OPEN_BROKER]
    assert len(caught) == 2 * len(MUST_FAIL_ON_OPEN_BROKER)
    missed = [r for r in caught if r["outcome"] != "fail"]
    assert not missed, describe(missed)
