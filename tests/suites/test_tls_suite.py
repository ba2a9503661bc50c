"""The tls/mtls family (``mqttsec.suites.tls``) run as users run it, in a subprocess: every
scenario passes against the reference broker, none is a harness error against mosquitto, and
the scenarios can fail: against a mosquitto whose mTLS listener does not require client
certificates and whose TLS listener accepts anything, they do."""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from family_run import describe, run_family, wait_listening

from mqttsec.fixtures.pki import TestPKI
from mqttsec.fixtures.targets._process import free_port

SCENARIOS = {
    "TLS-PLAINTEXT-REFUSED",
    "TLS-OLD-VERSIONS-REFUSED",
    "TLS-WEAK-CIPHERS-REFUSED",
    "TLS-SERVER-CERT-HOSTNAME",
    "TLS-1.2-HANDSHAKE",
    "TLS-1.3-HANDSHAKE",
    "TLS-COMPRESSION-OFF",
    "MTLS-VALID-CERT",
    "MTLS-NO-CERT-REFUSED",
    "MTLS-EXPIRED-CERT-REFUSED",
    "MTLS-NOT-YET-VALID-REFUSED",
    "MTLS-SELF-SIGNED-REFUSED",
    "MTLS-OTHER-CA-REFUSED",
    "MTLS-REVOKED-REFUSED",
    "MTLS-USERNAME-NO-OVERRIDE",
}

#: The subprocess environment: the default profile needs carol's password.
SUBPROCESS_ENV = {"MQTTSEC_DEFAULT_CAROL_PASSWORD": "carol-Pw-4711", **os.environ}


def test_tls_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family(
        "mqttsec.suites.tls",
        "reference",
        tmp_path,
        SCENARIOS,
        env=SUBPROCESS_ENV,
    )
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, describe(bad)
    assert all(r["family"] in ("tls", "mtls") and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_tls_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = run_family(
        "mqttsec.suites.tls",
        "local:mosquitto",
        tmp_path,
        SCENARIOS,
        env=SUBPROCESS_ENV,
    )
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, describe(errors)


#: What a mosquitto whose mTLS listener does not require certificates must be caught at.
MUST_FAIL_ON_LAX_BROKER = {
    "MTLS-NO-CERT-REFUSED",
    "MTLS-EXPIRED-CERT-REFUSED",
    "MTLS-NOT-YET-VALID-REFUSED",
    "MTLS-SELF-SIGNED-REFUSED",
    "MTLS-OTHER-CA-REFUSED",
    "MTLS-REVOKED-REFUSED",
    "TLS-WEAK-CIPHERS-REFUSED",
}


@pytest.mark.mosquitto
def test_tls_family_catches_a_lax_broker(tmp_path: Path, mosquitto_tools: dict[str, Path]) -> None:
    """The family against mosquitto with client certificates optional (not verified) on
    the mTLS listener, anonymous access, and every cipher suite allowed, reached as an
    endpoint described by a copy of the default profile with fixed ports: each mTLS refusal
    check and the weak-cipher check fail."""
    pki = TestPKI.create().write(tmp_path / "pki")
    server = pki.pair("server")
    ports = {"plain": free_port(), "tls": free_port(), "mtls": free_port()}
    tls = [f"certfile {server.certfile}", f"keyfile {server.keyfile}", "ciphers ALL:@SECLEVEL=0"]
    conf = tmp_path / "lax.conf"
    conf.write_text(
        "\n".join(
            [
                "allow_anonymous true",
                *(["user root"] if os.geteuid() == 0 else []),  # the keys are 0600
                f"listener {ports['plain']} 127.0.0.1",
                f"listener {ports['tls']} 127.0.0.1",
                *tls,
                f"listener {ports['mtls']} 127.0.0.1",
                *tls,
                f"cafile {pki.cafile}",
                "require_certificate false",
                "",
            ]
        )
    )
    text = (resources.files("mqttsec.fixtures") / "default_profile.toml").read_text()
    for name in ("plain", "tls", "mtls"):
        text = text.replace(
            f'name = "{name}"\nkind = "{name}"\nport = 0',
            f'name = "{name}"\nkind = "{name}"\nport = {ports[name]}',
        )
    profile = tmp_path / "lax-profile.toml"
    profile.write_text(text)
    broker = subprocess.Popen(
        [str(mosquitto_tools["mosquitto"]), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in ports.values():
            wait_listening(port, "the lax mosquitto")
        target = f"endpoint:mqtt://127.0.0.1:{ports['plain']}?cafile={pki.cafile}"
        rows = run_family(
            "mqttsec.suites.tls",
            target,
            tmp_path,
            SCENARIOS,
            f"--mqtt-profile={profile}",
            env=SUBPROCESS_ENV,
        )
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    caught = [r for r in rows if r["scenario"] in MUST_FAIL_ON_LAX_BROKER]
    assert len(caught) == 2 * len(MUST_FAIL_ON_LAX_BROKER)
    missed = [r for r in caught if r["outcome"] != "fail"]
    assert not missed, describe(missed)
