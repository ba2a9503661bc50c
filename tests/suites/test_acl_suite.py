"""The acl family (``mqttsec.suites.acl``) run as users run it, in a subprocess: every
scenario passes against the reference broker, none is a harness error against mosquitto
(its fails and deviations there are findings about mosquitto), and the scenarios can fail:
against a mosquitto whose users log in but which has no ACL, the leak checks do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mqttsec.fixtures.profile import load_default_profile
from mqttsec.fixtures.targets._process import free_port

SCENARIOS = {
    "ACL-PUBLISH-RULES",
    "ACL-RECEIVE-RULES",
    "ACL-PATTERN-OTHER-USER",
    "ACL-WILDCARD-ALL",
    "ACL-WILDCARD-SYS",
    "ACL-WILDCARD-SHARED",
    "ACL-RETAINED-NO-READ",
    "ACL-WILL-NO-WRITE",
    "ACL-MULTI-FILTER-SUBSCRIBE",
    "ACL-CLIENTID-WILDCARD-READ",
    "ACL-CLIENTID-WILDCARD-WRITE",
    "ACL-TOPIC-TRICKS-SUBSCRIBE",
    "ACL-TOPIC-TRICKS-PUBLISH",
}

#: carol's password for the subprocess and for the open broker's password file.
CAROL_PASSWORD = "carol-Pw-acl-suite"


def _run_suite(target: str, workdir: Path) -> list[dict[str, Any]]:
    """Run the acl family against *target*; the rows of its results.json."""
    report = workdir / "report"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "mqttsec.suites.acl",
        f"--mqtt-target={target}",
        f"--mqtt-report-dir={report}",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    env = {**os.environ, "MQTTSEC_DEFAULT_CAROL_PASSWORD": CAROL_PASSWORD}
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert (report / "results.json").exists(), done.stdout + done.stderr
    rows: list[dict[str, Any]] = json.loads((report / "results.json").read_text())["results"]
    assert {r["scenario"] for r in rows} == SCENARIOS, done.stdout
    assert {(r["scenario"], r["mqtt_version"]) for r in rows} == {
        (s, v) for s in SCENARIOS for v in ("3.1.1", "5.0")
    }
    return rows


def _describe(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['scenario']} {r['mqtt_version']}: {r['outcome']} {r['detail']}" for r in rows
    )


def test_acl_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = _run_suite("reference", tmp_path)
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, _describe(bad)
    assert all(r["family"] == "acl" and r["target"] == "reference" for r in rows)


#: What mosquitto 2.0 is known to fail (findings, not harness trouble): a client id with
#: '/' reaches another client's %c sub-tree (its acl_file refuses only '+' and '#').
MOSQUITTO_FINDINGS = {"ACL-CLIENTID-WILDCARD-READ"}


@pytest.mark.mosquitto
def test_acl_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = _run_suite("local:mosquitto", tmp_path)
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, _describe(errors)
    unexpected = [
        r for r in rows if r["outcome"] != "pass" and r["scenario"] not in MOSQUITTO_FINDINGS
    ]
    assert not unexpected, _describe(unexpected)


#: What a broker whose users log in but which enforces no ACL must be caught at.
MUST_FAIL_WITHOUT_ACL = {
    "ACL-PUBLISH-RULES",
    "ACL-RECEIVE-RULES",
    "ACL-PATTERN-OTHER-USER",
    "ACL-WILDCARD-ALL",
    "ACL-WILDCARD-SHARED",
    "ACL-RETAINED-NO-READ",
    "ACL-WILL-NO-WRITE",
    "ACL-MULTI-FILTER-SUBSCRIBE",
    "ACL-CLIENTID-WILDCARD-READ",
    "ACL-CLIENTID-WILDCARD-WRITE",
}


@pytest.mark.mosquitto
def test_acl_family_catches_a_broker_without_acl(
    tmp_path: Path, mosquitto_tools: dict[str, Path]
) -> None:
    """The same scenarios against mosquitto with the profile's password file, anonymous
    access on and no ``acl_file`` (everyone may do everything), reached as an endpoint
    described by the default profile: each leak check above fails."""
    profile = load_default_profile({"MQTTSEC_DEFAULT_CAROL_PASSWORD": CAROL_PASSWORD})
    passwords = tmp_path / "passwords"
    passwords.write_text(profile.render_password_file())
    passwords.chmod(0o600)
    port = free_port()
    conf = tmp_path / "open.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", f"password_file {passwords}"]
    if os.geteuid() == 0:
        lines.append("user root")  # mosquitto drops root for 'mosquitto', who cannot read it
    conf.write_text("\n".join(lines) + "\n")
    broker = subprocess.Popen(
        [str(mosquitto_tools["mosquitto"]), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the open mosquitto did not start"
                time.sleep(0.05)
        rows = _run_suite(f"endpoint:mqtt://127.0.0.1:{port}", tmp_path)
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    caught = [r for r in rows if r["scenario"] in MUST_FAIL_WITHOUT_ACL]
    assert len(caught) == 2 * len(MUST_FAIL_WITHOUT_ACL)
    missed = [r for r in caught if r["outcome"] != "fail"]
    assert not missed, _describe(missed)
