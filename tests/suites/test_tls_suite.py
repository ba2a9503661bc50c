"""The tls/mtls family (``mqttsec.suites.tls``) run as users run it, in a subprocess: every
scenario passes against the reference broker, none is a harness error against mosquitto, and
the scenarios can fail: against a mosquitto whose mTLS listener does not require client
certificates and whose TLS listener accepts anything, they do."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from family_run import describe, run_family, wait_listening

from mqttsec.fixtures.pki import TestPKI
from mqttsec.fixtures.targets import Endpoint
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
    # transport: versions, cipher classes, certificate, handshake behaviour
    "TLS-PLAIN-LISTENER-NOT-ON-TLS-PORT",
    "TLS-1.0-REFUSED",
    "TLS-1.1-REFUSED",
    "TLS-SSLV3-REFUSED",
    "TLS-SSLV2-REFUSED",
    "TLS-CIPHER-NULL-REFUSED",
    "TLS-CIPHER-ANON-REFUSED",
    "TLS-CIPHER-EXPORT-REFUSED",
    "TLS-CIPHER-RC4-REFUSED",
    "TLS-CIPHER-3DES-REFUSED",
    "TLS-CIPHER-CBC-SHA1-REFUSED",
    "TLS-CIPHER-STATIC-KEX-REFUSED",
    "TLS-SERVER-CHAIN-COMPLETE",
    "TLS-SERVER-CERT-NAMES",
    "TLS-SERVER-KEY-STRENGTH",
    "TLS-SERVER-CERT-CURRENT",
    "TLS-RENEGOTIATION-REFUSED",
    "TLS-ALPN-NOT-REQUIRED",
    "MTLS-RESUMPTION-NO-CERT-BYPASS",
    # client certificates: misuse and identity
    "MTLS-WEAK-KEY-REFUSED",
    "MTLS-SERVER-EKU-REFUSED",
    "MTLS-WRONG-KEY-USAGE-REFUSED",
    "MTLS-CHAIN-VALIDATED",
    "MTLS-IDENTITY-ACL-PUBLISH",
    "MTLS-IDENTITY-ACL-SUBSCRIBE",
    "MTLS-IDENTITY-SPOOF-REFUSED",
    "MTLS-PASSWORD-STILL-REQUIRED",
}
SLOW = {"TLS-HANDSHAKE-TIMEOUT"}
"""Waits for the broker's own handshake timeout (10 s on the reference broker, 30 s bound):
marked slow, left out of these runs (``-m "not slow"``) and run on its own below."""

#: An mTLS listener that keeps password logins (the default profile has none), so that
#: MTLS-PASSWORD-STILL-REQUIRED runs instead of being unsupported.
PASSWORD_MTLS = """
[[listeners]]
name = "mtls-password"
kind = "mtls"
port = 0
tls_versions = ["tlsv1.2", "tlsv1.3"]
identity_as_username = false
"""


def _profile_with_password_mtls(tmp_path: Path) -> Path:
    text = (resources.files("mqttsec.fixtures") / "default_profile.toml").read_text()
    profile = tmp_path / "tls-profile.toml"
    profile.write_text(text + PASSWORD_MTLS)
    return profile


#: The subprocess environment: the default profile needs carol's password.
SUBPROCESS_ENV = {"MQTTSEC_DEFAULT_CAROL_PASSWORD": "carol-Pw-4711", **os.environ}


def test_tls_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family(
        "mqttsec.suites.tls",
        "reference",
        tmp_path,
        SCENARIOS,
        f"--mqtt-profile={_profile_with_password_mtls(tmp_path)}",
        "-m",
        "not slow",
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
        f"--mqtt-profile={_profile_with_password_mtls(tmp_path)}",
        "-m",
        "not slow",
        env=SUBPROCESS_ENV,
    )
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, describe(errors)
    # Findings on mosquitto 2.0.11 (Debian OpenSSL defaults), not harness problems:
    failed = {r["scenario"] for r in rows if r["outcome"] == "fail"}
    assert failed <= {"TLS-CIPHER-CBC-SHA1-REFUSED"}, describe(rows)


@pytest.mark.slow
def test_handshake_timeout_scenario(tmp_path: Path) -> None:
    """TLS-HANDSHAKE-TIMEOUT alone: passes on the reference broker (10 s timeout)."""
    rows = run_family(
        "mqttsec.suites.tls", "reference", tmp_path, SLOW, "-k", "silent_client",
        env=SUBPROCESS_ENV,
    )  # fmt: skip
    assert [r["outcome"] for r in rows] == ["pass", "pass"], describe(rows)


#: What a mosquitto whose mTLS listener does not require certificates must be caught at.
MUST_FAIL_ON_LAX_BROKER = {
    "MTLS-NO-CERT-REFUSED",
    "MTLS-EXPIRED-CERT-REFUSED",
    "MTLS-NOT-YET-VALID-REFUSED",
    "MTLS-SELF-SIGNED-REFUSED",
    "MTLS-OTHER-CA-REFUSED",
    "MTLS-REVOKED-REFUSED",
    "TLS-WEAK-CIPHERS-REFUSED",
    # TLS 1.1 allowed (mosquitto 2.0 cannot go lower; TLS 1.0 is shown failing
    # against a local OpenSSL server below), every suite (ALL:COMPLEMENTOFALL, level 0):
    "TLS-1.1-REFUSED",
    "TLS-CIPHER-NULL-REFUSED",
    "TLS-CIPHER-ANON-REFUSED",
    "TLS-CIPHER-CBC-SHA1-REFUSED",
    # client certificates not verified at all:
    "MTLS-WEAK-KEY-REFUSED",
    "MTLS-SERVER-EKU-REFUSED",
    "MTLS-WRONG-KEY-USAGE-REFUSED",
    "MTLS-CHAIN-VALIDATED",
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
    tls = [
        f"certfile {server.certfile}",
        f"keyfile {server.keyfile}",
        "ciphers ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        "tls_version tlsv1.1",  # mosquitto 2.0's lowest setting
    ]
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
            "-m",
            "not slow",
            env=SUBPROCESS_ENV,
        )
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    caught = [r for r in rows if r["scenario"] in MUST_FAIL_ON_LAX_BROKER]
    assert len(caught) == 2 * len(MUST_FAIL_ON_LAX_BROKER)
    missed = [r for r in caught if r["outcome"] != "fail"]
    assert not missed, describe(missed)


# ---------------------------------------------------------------------- the probes themselves


@pytest.fixture(scope="module")
def server_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    files = TestPKI.create().write(tmp_path_factory.mktemp("pki"))
    pair = files.pair("server")
    return pair.certfile, pair.keyfile


def _serve(context: ssl.SSLContext) -> Iterator[Endpoint]:
    """A TLS echo server on loopback for the duration of a test."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    while data := tls.recv(1024):
                        tls.sendall(data)
            except (ssl.SSLError, OSError):
                pass

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield Endpoint("probe", "tls", "127.0.0.1", listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _context(pair: tuple[Path, Path], *, lax: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if lax:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
        context.options |= 0x100  # SSL_OP_ALLOW_CLIENT_RENEGOTIATION (OpenSSL 3)
    context.load_cert_chain(*pair)
    return context


@pytest.mark.parametrize("lax", [False, True], ids=["strict", "lax"])
def test_hand_built_hellos_see_what_the_server_agrees_to(
    server_pair: tuple[Path, Path], lax: bool
) -> None:
    """The probes tell a server that agrees from one that refuses: a local OpenSSL server
    with TLS 1.0 and NULL/anonymous/CBC-SHA1 suites enabled answers them, a default one
    refuses; SSLv3 and SSLv2 (not in this OpenSSL) are refused by both."""
    from mqttsec.suites.tls import _hello as hello
    from mqttsec.suites.tls.test_cipher_classes import ANONYMOUS, CBC_SHA1, NULL

    for where in _serve(_context(server_pair, lax=lax)):
        control = hello.ask(where, hello.client_hello(hello.TLS12, hello.CONTROL_SUITES))
        assert control.agreed and control.cipher in hello.CONTROL_SUITES, control
        old = hello.ask(where, hello.client_hello(hello.TLS10, hello.OLD_SUITES))
        assert old.agreed is lax and (not lax or old.version == hello.TLS10), old
        for suites in (NULL, ANONYMOUS, CBC_SHA1):
            answer = hello.ask(where, hello.client_hello(hello.TLS12, suites))
            assert answer.agreed is lax and (not lax or answer.cipher in suites), answer
        ssl3 = hello.client_hello(hello.SSL3, hello.OLD_SUITES, extensions=False)
        assert hello.ask(where, ssl3).kind is hello.AnswerKind.ALERT
        assert not hello.ask(where, hello.sslv2_client_hello()).agreed
        deflate = hello.client_hello(hello.TLS12, hello.CONTROL_SUITES, compression=(1, 0))
        assert hello.ask(where, deflate).compression == 0  # this OpenSSL has no zlib


@pytest.mark.parametrize("lax", [False, True], ids=["strict", "lax"])
def test_renegotiation_probe(server_pair: tuple[Path, Path], lax: bool) -> None:
    """``openssl s_client``'s renegotiation is seen when the server allows it, not else."""
    from mqttsec.suites.tls._probes import renegotiation

    if shutil.which("openssl") is None:
        pytest.skip("no openssl tool")
    for where in _serve(_context(server_pair, lax=lax)):
        trace = renegotiation(where, None)
        assert (trace is not None) is lax, trace
