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

BOTH = ("3.1.1", "5.0")
SCENARIOS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        [
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
            # credential variants
            "AUTH-PASSWORD-WHITESPACE",
            "AUTH-PASSWORD-NUL",
            "AUTH-PASSWORD-ENCODING",
            "AUTH-USERNAME-CASE",
            "AUTH-USERNAME-WHITESPACE",
            "AUTH-USERNAME-LOOKALIKE",
            "AUTH-EMPTY-USERNAME",
            "AUTH-USERNAME-WILDCARDS",
            "AUTH-CROSS-USER-PASSWORD",
            "AUTH-NO-USER-ENUMERATION",
            # client ids
            "AUTH-CLIENTID-MALFORMED",
            "AUTH-LONG-CLIENTID",
            "AUTH-EMPTY-CLIENTID-PERSISTENT",
            "AUTH-UNAUTHENTICATED-NO-TAKEOVER",
            "AUTH-CLIENTID-TAKEOVER-LIVE",
            # one connection, one CONNECT
            "AUTH-SECOND-CONNECT-NO-REAUTH",
            "AUTH-REFUSED-NO-RETRY",
            "AUTH-AUTH-BEFORE-CONNECT",
            "AUTH-UNSUPPORTED-PROTOCOL-LEVEL",
            # refusal side effects
            "AUTH-REFUSED-WILL-VARIANTS",
            "AUTH-REFUSED-NO-RETAINED-WILL",
            "AUTH-REFUSED-NO-SUBSCRIPTION",
            "AUTH-REFUSED-KEEPS-SESSION",
            "AUTH-BRUTE-FORCE-THROTTLED",
        ],
        BOTH,
    ),
    "AUTH-BAD-AUTH-METHOD": ("5.0",),
    "AUTH-MQTT31-CREDENTIALS": ("3.1.1",),
}

#: Unsupported with the default profile, for a stated reason (it declares no throttling).
UNSUPPORTED_BY_DEFAULT = {"AUTH-BRUTE-FORCE-THROTTLED": "declares no login_throttle"}


def _expected_unsupported(row: dict[str, object]) -> bool:
    why = UNSUPPORTED_BY_DEFAULT.get(str(row["scenario"]))
    return row["outcome"] == "unsupported" and why is not None and why in str(row["detail"])


def test_auth_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.auth", "reference", tmp_path, SCENARIOS)
    bad = [r for r in rows if r["outcome"] != "pass" and not _expected_unsupported(r)]
    assert not bad, describe(bad)
    assert all(r["family"] == "auth" and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_auth_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.auth", "local:mosquitto", tmp_path, SCENARIOS)
    errors = [
        r for r in rows if r["outcome"] in ("error", "unsupported") and not _expected_unsupported(r)
    ]
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
    "AUTH-PASSWORD-WHITESPACE",
    "AUTH-PASSWORD-NUL",
    "AUTH-PASSWORD-ENCODING",
    "AUTH-USERNAME-CASE",
    "AUTH-USERNAME-WHITESPACE",
    "AUTH-USERNAME-LOOKALIKE",
    "AUTH-EMPTY-USERNAME",
    "AUTH-USERNAME-WILDCARDS",
    "AUTH-CROSS-USER-PASSWORD",
    "AUTH-NO-USER-ENUMERATION",
    "AUTH-UNAUTHENTICATED-NO-TAKEOVER",
    "AUTH-CLIENTID-TAKEOVER-LIVE",
    "AUTH-REFUSED-NO-RETRY",
    "AUTH-MQTT31-CREDENTIALS",
    "AUTH-REFUSED-WILL-VARIANTS",
    "AUTH-REFUSED-NO-RETAINED-WILL",
    "AUTH-REFUSED-NO-SUBSCRIPTION",
    "AUTH-REFUSED-KEEPS-SESSION",
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
    assert len(caught) == sum(len(SCENARIOS[s]) for s in MUST_FAIL_ON_OPEN_BROKER)
    missed = [r for r in caught if r["outcome"] != "fail"]
    assert not missed, describe(missed)


THROTTLE_PROFILE = """
name = "throttled"
allow_anonymous = false

[[listeners]]
name = "plain"
kind = "plain"

[users.alice]
password = "alice-Pw-4711"

[login_throttle]
attempts = 3
window = 60.0

[[acl]]
user = "alice"
topic = "alice/#"
access = "readwrite"
"""
THROTTLE = {"AUTH-BRUTE-FORCE-THROTTLED": BOTH}


def _throttle_run(tmp_path: Path, target: str) -> list[dict[str, object]]:
    profile = tmp_path / "throttled.toml"
    profile.write_text(THROTTLE_PROFILE)
    return run_family(
        "mqttsec.suites.auth",
        target,
        tmp_path,
        THROTTLE,
        f"--mqtt-profile={profile}",
        "-k",
        "password_guessing",
    )


def test_throttling_passes_on_the_reference_broker_when_declared(tmp_path: Path) -> None:
    """A profile declaring ``login_throttle`` is rendered into the reference broker, which
    then throttles the guessing address."""
    rows = _throttle_run(tmp_path, "reference")
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, describe(bad)  # type: ignore[arg-type]


@pytest.mark.mosquitto
def test_throttling_is_unsupported_on_mosquitto(tmp_path: Path) -> None:
    """mosquitto cannot throttle logins: the scenario says unsupported, never pass."""
    rows = _throttle_run(tmp_path, "local:mosquitto")
    assert {r["outcome"] for r in rows} == {"unsupported"}, describe(rows)  # type: ignore[arg-type]


@pytest.mark.mosquitto
def test_throttling_catches_a_broker_without_it(
    tmp_path: Path, mosquitto_tools: dict[str, Path]
) -> None:
    """An endpoint whose profile declares throttling but which has none fails the check."""
    binary = mosquitto_tools["mosquitto"]
    port = free_port()
    conf = tmp_path / "open.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen(
        [str(binary), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port, "the open mosquitto")
        rows = _throttle_run(tmp_path, f"endpoint:mqtt://127.0.0.1:{port}")
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    assert {r["outcome"] for r in rows} == {"fail"}, describe(rows)  # type: ignore[arg-type]
