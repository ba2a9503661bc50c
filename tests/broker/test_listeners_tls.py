"""TLS and mTLS listeners of the reference broker, end to end with real clients.

paho-mqtt, mosquitto_pub/mosquitto_sub and Python's ssl module connect to a broker with a
plain, a TLS and an mTLS listener at once. Refusals are checked where they must happen,
in the TLS handshake (the client never gets a CONNACK); where mosquitto is the model, the
same check runs against a mosquitto configured alike. No negative check sleeps: a refused
client's connection ends (an error or EOF), which is waited for with a deadline.
"""

from __future__ import annotations

import datetime
import itertools
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from mqttsec.reference_broker import BackgroundBroker, BrokerConfig
from mqttsec.reference_broker.config import ListenerConfig
from mqttsec.reference_broker.security.tls import CertKeyPair, TlsSettings

WAIT = 5.0
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)
_IDS = itertools.count()


def connect_packet(client_id: str | None = None) -> bytes:
    """A 3.1.1 clean-session CONNECT (a fresh client id unless given: no session takeover)."""
    cid = (client_id or f"tls{next(_IDS)}").encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


@dataclass
class Pair:
    cert: str
    key: str


@dataclass
class Pki:
    dir: Path
    server_ca: str  # trusts server, server_alt, and (second CA) server_new
    server: Pair
    server_alt: Pair  # for SNI name alt.example
    server_new: Pair  # another certificate, for reload
    client_ca: str
    good: Pair
    expired: Pair
    not_yet_valid: Pair
    wrong_ca: Pair
    selfsigned: Pair
    revoked: Pair
    crl: str  # revokes `revoked`
    crl_good: str  # revokes `good` too (for the reload test)


def _write(leaf: trustme.LeafCert, directory: Path, name: str) -> Pair:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return Pair(str(cert), str(key))


def _crl(ca: trustme.CA, leaves: list[trustme.LeafCert], path: Path) -> str:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes()).subject
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
    )
    for leaf in leaves:
        serial = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build()
        )
    path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return str(path)


def _self_signed(directory: Path) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "selfie")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(key, hashes.SHA256())
    )
    pair = Pair(str(directory / "selfie.crt"), str(directory / "selfie.key"))
    Path(pair.cert).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(pair.key).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pair


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """One PKI per test session, in memory and in a temporary directory."""
    d = tmp_path_factory.mktemp("listener-pki")
    server_ca, server_ca2 = trustme.CA(), trustme.CA()
    client_ca, other_ca = trustme.CA(organization_name="Clients"), trustme.CA()
    (d / "server-ca.pem").write_bytes(server_ca.cert_pem.bytes() + server_ca2.cert_pem.bytes())
    client_ca.cert_pem.write_to_path(str(d / "client-ca.pem"))
    good = client_ca.issue_cert("dev1.example", common_name="dev1")
    revoked = client_ca.issue_cert(common_name="revoked")
    return Pki(
        dir=d,
        server_ca=str(d / "server-ca.pem"),
        server=_write(server_ca.issue_cert("localhost", "127.0.0.1"), d, "server"),
        server_alt=_write(server_ca.issue_cert("alt.example", "127.0.0.1"), d, "server-alt"),
        server_new=_write(server_ca2.issue_cert("localhost", "127.0.0.1"), d, "server-new"),
        client_ca=str(d / "client-ca.pem"),
        good=_write(good, d, "good"),
        expired=_write(
            client_ca.issue_cert(common_name="old", not_before=NOW - 3 * DAY, not_after=NOW - DAY),
            d,
            "expired",
        ),
        not_yet_valid=_write(
            client_ca.issue_cert(common_name="soon", not_before=NOW + DAY, not_after=NOW + 3 * DAY),
            d,
            "future",
        ),
        wrong_ca=_write(other_ca.issue_cert(common_name="dev1"), d, "wrong-ca"),
        selfsigned=_self_signed(d),
        revoked=_write(revoked, d, "revoked"),
        crl=_crl(client_ca, [revoked], d / "crl.pem"),
        crl_good=_crl(client_ca, [revoked, good], d / "crl-good.pem"),
    )


def tls_settings(pki: Pki, **kw: object) -> TlsSettings:
    return TlsSettings(certfile=pki.server.cert, keyfile=pki.server.key, **kw)  # type: ignore[arg-type]


def mtls_settings(pki: Pki, **kw: object) -> TlsSettings:
    return tls_settings(pki, cafile=pki.client_ca, require_certificate=True, crlfile=pki.crl, **kw)


@pytest.fixture(scope="module")
def three(pki: Pki) -> Iterator[BackgroundBroker]:
    """One broker with a plain, a TLS (1.3 minimum) and an mTLS listener."""
    config = BrokerConfig(
        allow_anonymous=True,
        listeners=(
            ListenerConfig("plain", port=0),
            ListenerConfig("tls13", port=0, tls=tls_settings(pki, tls_version="tlsv1.3")),
            ListenerConfig("mtls", port=0, tls=mtls_settings(pki)),
        ),
    )
    with BackgroundBroker(config) as broker:
        yield broker


# --- clients ------------------------------------------------------------------------------


def client_context(
    pki: Pki, client: Pair | None = None, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.server_ca)
    if maximum is not None:
        context.maximum_version = maximum
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def mqtt_over_tls(
    port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1"
) -> tuple[bytes | None, BaseException | None, bytes]:
    """Handshake, send CONNECT, read the answer: (CONNACK or None, TLS error, server cert DER).

    A refused handshake gives (None, the error or None for EOF, b"") without any CONNACK.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                der = tls.getpeercert(binary_form=True) or b""
                tls.sendall(connect_packet())
                answer = tls.recv(4)  # TLS 1.3: a refused client certificate shows up here
                return (answer or None), None, der
        except (ssl.SSLError, ConnectionError) as exc:
            return None, exc, b""


def refused(port: int, context: ssl.SSLContext) -> bool:
    connack, _error, _ = mqtt_over_tls(port, context)
    assert connack is None or connack == b"\x20\x02\x00\x00", connack
    return connack is None


def paho_connects(
    port: int,
    *,
    ca: str | None = None,
    cert: Pair | None = None,
    context: ssl.SSLContext | None = None,
) -> bool:
    """Whether paho-mqtt (3.1.1) gets a successful CONNACK; False when TLS refuses it."""
    events: queue.Queue[str] = queue.Queue()
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="paho", protocol=mqtt.MQTTv311)
    paho.on_connect = lambda c, u, f, rc, p: events.put("connack" if rc == 0 else "refused")
    paho.on_disconnect = lambda c, u, f, rc, p: events.put("closed")
    if context is not None:
        paho.tls_set_context(context)
    elif ca is not None:
        paho.tls_set(
            ca_certs=ca,
            certfile=cert.cert if cert else None,
            keyfile=cert.key if cert else None,
        )
    try:
        paho.connect("127.0.0.1", port, keepalive=10)
    except (ssl.SSLError, OSError):
        return False
    deadline = time.monotonic() + WAIT
    try:
        while events.empty():  # paho's loop in this thread: no thread join delays
            assert time.monotonic() < deadline, "neither CONNACK nor close within the deadline"
            if paho.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                return events.qsize() > 0 and events.get() == "connack"
        return events.get() == "connack"
    finally:
        paho.disconnect()


def mosquitto_pub(tools: dict[str, Path], port: int, pki: Pki, *args: str) -> int:
    """mosquitto_pub's exit status publishing one QoS 1 message over TLS (0: it got through)."""
    proc = subprocess.run(
        [str(tools["mosquitto_pub"]), "-h", "127.0.0.1", "-p", str(port), "--cafile"]
        + [pki.server_ca, "-t", "t/pub", "-m", "x", "-q", "1", *args],
        capture_output=True,
        timeout=15,
        check=False,
    )
    return proc.returncode


def cert_args(pair: Pair) -> list[str]:
    return ["--cert", pair.cert, "--key", pair.key]


@dataclass
class Mosquitto:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mosquitto_like_three(
    pki: Pki, mosquitto_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mosquitto]:
    """mosquitto with the same three listeners as :func:`three`."""
    d = tmp_path_factory.mktemp("mosquitto-listeners")
    ports = {name: free_port() for name in ("plain", "tls13", "mtls")}
    server = f"certfile {pki.server.cert}\nkeyfile {pki.server.key}\n"
    conf = d / "mosquitto.conf"
    log = d / "mosquitto.log"
    conf.write_text(
        f"log_dest file {log}\nlog_type all\npersistence false\nallow_anonymous true\n"
        + ("user root\n" if os.geteuid() == 0 else "")
        + f"listener {ports['plain']} 127.0.0.1\n"
        + f"listener {ports['tls13']} 127.0.0.1\n{server}tls_version tlsv1.3\n"
        + f"listener {ports['mtls']} 127.0.0.1\n{server}cafile {pki.client_ca}\n"
        + f"require_certificate true\ncrlfile {pki.crl}\n"
    )
    process = subprocess.Popen([str(mosquitto_tools["mosquitto"]), "-c", str(conf)])
    try:
        deadline = time.monotonic() + WAIT
        for port in ports.values():
            while True:
                assert process.poll() is None, log.read_text() if log.exists() else "no log"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "mosquitto did not listen"
                    time.sleep(0.02)  # readiness polling, not a negative check
        yield Mosquitto(process, ports, log)
    finally:
        process.terminate()
        process.wait(WAIT)


# --- several listeners, each with its own settings -------------------------------------


def test_each_listener_speaks_only_its_own_transport(three: BackgroundBroker, pki: Pki) -> None:
    ports = three.ports
    assert set(ports) == {"plain", "tls13", "mtls"} and len(set(ports.values())) == 3
    assert paho_connects(ports["plain"])
    assert paho_connects(ports["tls13"], ca=pki.server_ca)
    assert paho_connects(ports["mtls"], ca=pki.server_ca, cert=pki.good)
    # A plain client on a TLS port, a TLS client on the plain port: no MQTT session either way.
    assert not paho_connects(ports["tls13"])
    assert not paho_connects(ports["plain"], ca=pki.server_ca)
    # The TLS listener asks for no certificate; the mTLS listener requires one.
    assert not paho_connects(ports["mtls"], ca=pki.server_ca)


def test_connection_knows_its_listener_and_certificate(three: BackgroundBroker, pki: Pki) -> None:
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="who", protocol=mqtt.MQTTv311)
    paho.tls_set(ca_certs=pki.server_ca, certfile=pki.good.cert, keyfile=pki.good.key)
    connected: queue.Queue[int] = queue.Queue()
    paho.on_connect = lambda c, u, f, rc, p: connected.put(int(rc.value))
    paho.connect("127.0.0.1", three.ports["mtls"])
    paho.loop_start()
    try:
        assert connected.get(timeout=WAIT) == 0

        def seen() -> list[tuple[str, str | None]]:
            return [
                (c.listener.name, c.certificate.common_name if c.certificate else None)
                for c in three.core.all_connections
                if c.client_id == "who"
            ]

        assert three.call(seen) == [("mtls", "dev1")]
    finally:
        paho.disconnect()
        paho.loop_stop()


@pytest.mark.mosquitto
def test_messages_cross_listeners_with_mosquitto_clients(
    three: BackgroundBroker, pki: Pki, mosquitto_tools: dict[str, Path]
) -> None:
    """Published on the plain listener (retained), received by mosquitto_sub over mTLS."""
    plain = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plainpub")
    plain.connect("127.0.0.1", three.ports["plain"])
    plain.loop_start()
    plain.publish("x/retained", b"across", qos=1, retain=True).wait_for_publish(WAIT)
    plain.disconnect()
    plain.loop_stop()
    sub = subprocess.run(
        [str(mosquitto_tools["mosquitto_sub"]), "-h", "127.0.0.1", "-p", str(three.ports["mtls"])]
        + ["--cafile", pki.server_ca, *cert_args(pki.good), "-t", "x/#", "-C", "1", "-W", "5"]
        + ["-v"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert (sub.returncode, sub.stdout.strip()) == (0, "x/retained across"), sub.stderr


# --- TLS versions and ciphers -------------------------------------------------------------


def test_tls13_listener_refuses_a_tls12_client(three: BackgroundBroker, pki: Pki) -> None:
    port = three.ports["tls13"]
    assert not refused(port, client_context(pki))
    assert refused(port, client_context(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert not paho_connects(port, context=client_context(pki, maximum=ssl.TLSVersion.TLSv1_2))


@pytest.mark.mosquitto
@pytest.mark.parametrize("target", ["reference", "mosquitto"])
def test_tls_versions_match_mosquitto(
    target: str,
    three: BackgroundBroker,
    mosquitto_like_three: Mosquitto,
    pki: Pki,
    mosquitto_tools: dict[str, Path],
) -> None:
    """A TLS 1.2-only client is refused by a tlsv1.3 listener, on both brokers.

    mosquitto_pub's --tls-version is a minimum (it still offers 1.3), so it connects either
    way; paho with a context capped at TLS 1.2 is the refused client.
    """
    ports = three.ports if target == "reference" else mosquitto_like_three.ports
    tools = mosquitto_tools
    for version in ("tlsv1.2", "tlsv1.3"):
        assert mosquitto_pub(tools, ports["tls13"], pki, "--tls-version", version) == 0
        assert (
            mosquitto_pub(tools, ports["mtls"], pki, *cert_args(pki.good), "--tls-version", version)
            == 0
        )
    tls12_only = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    assert not paho_connects(ports["tls13"], context=tls12_only)
    assert refused(ports["tls13"], tls12_only)
    assert paho_connects(ports["tls13"], context=client_context(pki))


def test_tls12_and_tls13_both_work_on_a_default_listener(three: BackgroundBroker, pki: Pki) -> None:
    for maximum in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = client_context(pki, pki.good, maximum=maximum)
        assert paho_connects(three.ports["mtls"], context=context)


@pytest.mark.mosquitto
def test_cipher_list_is_enforced(pki: Pki, mosquitto_tools: dict[str, Path]) -> None:
    listener = ListenerConfig(
        "tls", port=0, tls=tls_settings(pki, ciphers="ECDHE+AESGCM:!aNULL:!eNULL")
    )
    with BackgroundBroker(BrokerConfig(allow_anonymous=True, listeners=(listener,))) as broker:
        port = broker.ports["tls"]
        chacha = "ECDHE-ECDSA-CHACHA20-POLY1305"
        gcm = "ECDHE-ECDSA-AES128-GCM-SHA256"
        context = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
        context.set_ciphers(chacha)
        assert not paho_connects(port, context=context)
        assert refused(port, context)
        context.set_ciphers(gcm)
        assert paho_connects(port, context=context)
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=WAIT),
            server_hostname="127.0.0.1",
        ) as tls:
            assert tls.cipher()[0] == gcm
        assert mosquitto_pub(mosquitto_tools, port, pki, "--ciphers", gcm) == 0


def test_sni_selects_the_certificate_for_the_name(pki: Pki) -> None:
    sni = {"alt.example": CertKeyPair(pki.server_alt.cert, pki.server_alt.key)}
    listener = ListenerConfig("tls", port=0, tls=tls_settings(pki, sni=sni))
    with BackgroundBroker(BrokerConfig(allow_anonymous=True, listeners=(listener,))) as broker:
        port = broker.ports["tls"]
        _, _, default = mqtt_over_tls(port, client_context(pki))
        connack, _, alt = mqtt_over_tls(port, client_context(pki), server_hostname="alt.example")
        assert connack == b"\x20\x02\x00\x00"
        assert default == _der(pki.server.cert) and alt == _der(pki.server_alt.cert)


def _der(certfile: str) -> bytes:
    cert = x509.load_pem_x509_certificates(Path(certfile).read_bytes())[0]
    return cert.public_bytes(serialization.Encoding.DER)


# --- mTLS refusals, in the handshake ----------------------------------------------------

BAD_CLIENTS = ["none", "wrong_ca", "selfsigned", "expired", "not_yet_valid", "revoked"]


def _bad(pki: Pki, name: str) -> Pair | None:
    return None if name == "none" else getattr(pki, name)  # type: ignore[no-any-return]


@pytest.mark.parametrize("bad", BAD_CLIENTS)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_bad_client_certificates_are_refused_in_the_handshake(
    three: BackgroundBroker, pki: Pki, bad: str, version: ssl.TLSVersion
) -> None:
    port = three.ports["mtls"]
    connack, error, _ = mqtt_over_tls(port, client_context(pki, _bad(pki, bad), maximum=version))
    assert connack is None, f"{bad} certificate got a CONNACK"
    assert error is None or isinstance(error, ssl.SSLError | ConnectionError)
    assert not paho_connects(port, ca=pki.server_ca, cert=_bad(pki, bad))
    assert paho_connects(port, ca=pki.server_ca, cert=pki.good)  # the positive side


@pytest.mark.mosquitto
@pytest.mark.parametrize("target", ["reference", "mosquitto"])
def test_mtls_refusals_match_mosquitto(
    target: str,
    three: BackgroundBroker,
    mosquitto_like_three: Mosquitto,
    pki: Pki,
    mosquitto_tools: dict[str, Path],
) -> None:
    """The same clients, the same answers: mosquitto and the reference broker agree."""
    port = (three.ports if target == "reference" else mosquitto_like_three.ports)["mtls"]
    assert mosquitto_pub(mosquitto_tools, port, pki, *cert_args(pki.good)) == 0
    assert not refused(port, client_context(pki, pki.good))
    for bad in BAD_CLIENTS:
        pair = _bad(pki, bad)
        extra = cert_args(pair) if pair is not None else []
        assert mosquitto_pub(mosquitto_tools, port, pki, *extra) != 0, bad
        assert refused(port, client_context(pki, pair)), bad


def test_a_client_that_never_finishes_the_handshake_is_dropped(pki: Pki) -> None:
    listener = ListenerConfig("tls", port=0, tls=tls_settings(pki))
    config = BrokerConfig(allow_anonymous=True, connect_timeout=0.3, listeners=(listener,))
    with BackgroundBroker(config) as broker:
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", broker.ports["tls"]), timeout=WAIT) as sock:
            sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
            assert sock.recv(16) == b""  # closed by the broker (a timeout would raise)
        assert time.monotonic() - start < 3


# --- reload ------------------------------------------------------------------------------


def _copy(pair: Pair, directory: Path) -> Pair:
    live = Pair(str(directory / "live.crt"), str(directory / "live.key"))
    shutil.copyfile(pair.cert, live.cert)
    shutil.copyfile(pair.key, live.key)
    return live


def test_reload_serves_new_certificates_and_keeps_old_ones_when_broken(
    pki: Pki, tmp_path: Path
) -> None:
    live = _copy(pki.server, tmp_path)
    crl = tmp_path / "crl.pem"
    shutil.copyfile(pki.crl, crl)
    tls = TlsSettings(
        live.cert, live.key, cafile=pki.client_ca, require_certificate=True, crlfile=str(crl)
    )
    config = BrokerConfig(allow_anonymous=True, listeners=(ListenerConfig("m", port=0, tls=tls),))
    with BackgroundBroker(config) as broker:
        port = broker.ports["m"]
        good = client_context(pki, pki.good)
        assert mqtt_over_tls(port, good)[2] == _der(pki.server.cert)
        kept = good.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1"
        )
        try:
            kept.sendall(connect_packet("kept"))
            assert kept.recv(4) == b"\x20\x02\x00\x00"
            # New certificate and a CRL that now revokes `good`: new connections see both.
            _copy(pki.server_new, tmp_path)
            shutil.copyfile(pki.crl_good, crl)
            assert broker.reload() is True
            assert refused(port, good)
            assert mqtt_over_tls(port, client_context(pki, pki.expired))[0] is None
            shutil.copyfile(pki.crl, crl)
            assert broker.reload() is True
            assert mqtt_over_tls(port, good)[2] == _der(pki.server_new.cert)
            # The connection made before the reload is untouched.
            kept.sendall(b"\xc0\x00")  # PINGREQ
            assert kept.recv(2) == b"\xd0\x00"
        finally:
            kept.close()
        # A broken certificate file: the reload fails and the working certificate stays.
        Path(live.cert).write_text("not a certificate")
        assert broker.reload() is False
        assert mqtt_over_tls(port, good)[2] == _der(pki.server_new.cert)


def test_reload_calls_the_security_reload_and_reports_its_failure(broker: BackgroundBroker) -> None:
    calls: list[str] = []

    def ok() -> bool:
        calls.append("ok")
        return True

    def broken() -> bool:
        calls.append("broken")
        raise ValueError("bad ACL line")

    for hook, expected in ((ok, True), (broken, False)):
        broker.call(lambda hook=hook: setattr(broker.core, "reload_security", hook))
        assert broker.reload() is expected
    assert calls == ["ok", "broken"]


def test_sighup_reloads_certificates_of_a_running_mqttsec_broker(pki: Pki, tmp_path: Path) -> None:
    _copy(pki.server, tmp_path)
    port = free_port()
    config = tmp_path / "broker.toml"
    config.write_text(
        f'allow_anonymous = true\nlog_level = "info"\n[[listeners]]\nname = "tls"\n'
        f'port = {port}\ncertfile = "live.crt"\nkeyfile = "live.key"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqttsec", "broker", "-c", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        _read_until(proc, "listening")
        assert mqtt_over_tls(port, client_context(pki))[2] == _der(pki.server.cert)
        _copy(pki.server_new, tmp_path)
        proc.send_signal(signal.SIGHUP)
        _read_until(proc, "reload done")
        assert mqtt_over_tls(port, client_context(pki))[2] == _der(pki.server_new.cert)
        proc.terminate()
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)


def _read_until(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 15
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if text in line:
            return
        assert line or proc.poll() is None, "".join(seen)
    raise AssertionError(f"{text!r} not logged: {''.join(seen)}")
