"""TLS scenarios: what the transport of every TLS and mTLS listener must guarantee.

A weak handshake the server agrees to is a *fail*. A probe this Python cannot even make
(OpenSSL built without TLS 1.0, say) is *unsupported*, never a pass: a self-check in memory
proves the client could offer it before a refusal by the broker is believed.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from mqttsec.fixtures.clients import MqttClient
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget
from mqttsec.reference_broker.protocol import Connect, ProtocolVersion, encode

from ._hello import CONTROL_SUITES, TLS12, client_hello
from ._probes import hello_answer, sni
from ._support import (
    WEAK_CIPHERS,
    agreed,
    cafile,
    endpoint,
    handshake,
    identity_missing,
    offerable,
    present_certificate,
    probe_context,
    tls_listeners,
    unique,
)

_VERSIONS = ("3.1.1", "5.0")
_TLS_NAMES = {"tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}


@pytest.mark.scenario(
    id="TLS-PLAINTEXT-REFUSED",
    family="tls",
    severity="high",
    versions=_VERSIONS,
    spec=[],
)
def test_plaintext_refused_on_tls_listener(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_version: ProtocolVersion
) -> None:
    """A CONNECT sent in clear text to a TLS-only port never gets a CONNACK.

    Weakness class: a listener that falls back to plaintext, or serves both on one port
    (mosquitto #2283: TLS files without a TLS listener leave an open plain one).
    """
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        where = endpoint(mqtt_target, listener)
        packet = encode(
            Connect(client_id=unique(), protocol_version=mqtt_version, username="x"), mqtt_version
        )
        answer = b""
        with socket.create_connection((where.host, where.port), timeout=5) as sock:
            try:
                sock.sendall(packet)
                while len(answer) < 4096:  # the server closes after its TLS alert
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except TimeoutError:
                pass  # silent: not let in either
            except OSError:
                pass  # reset: refused
        assert not answer.startswith(b"\x20"), (
            f"{listener!r} answered a clear-text CONNECT with a CONNACK: {answer[:8].hex()}"
        )


@pytest.mark.scenario(
    id="TLS-OLD-VERSIONS-REFUSED", family="tls", severity="high", versions=_VERSIONS, spec=[]
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_tls_1_0_and_1_1_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """A client offering only TLS 1.0 or only TLS 1.1 fails the handshake (RFC 8996
    deprecates both: CBC padding oracles, SHA-1/MD5 in the handshake).

    Weakness class: a TLS floor left at the library default or lowered for old devices.
    """
    listeners = tls_listeners(mqtt_profile, mqtt_target)
    for name, version in (("TLS 1.0", ssl.TLSVersion.TLSv1), ("TLS 1.1", ssl.TLSVersion.TLSv1_1)):
        try:
            context = probe_context(version=version)
        except (ValueError, ssl.SSLError) as exc:
            mqttsec_unsupported(f"this Python cannot build a {name} client: {exc}")
        why = offerable(context, mqtt_pki)
        if why is not None:
            mqttsec_unsupported(f"cannot offer {name} here: {why}")
        for listener in listeners:
            probe = probe_context(version=version)
            present_certificate(probe, mqtt_profile, mqtt_pki, listener)
            got = agreed(handshake(endpoint(mqtt_target, listener), probe))
            assert got is None, f"{listener!r} accepted a {name} handshake ({got})"


@pytest.mark.scenario(
    id="TLS-WEAK-CIPHERS-REFUSED", family="tls", severity="high", versions=_VERSIONS, spec=[]
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_weak_ciphers_refused(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """A TLS 1.2 client offering only anonymous, NULL, export, RC4, DES/3DES or MD5 cipher
    suites fails the handshake.

    Weakness class: ``ciphers`` left at ``ALL`` or set for compatibility (no
    authentication, no encryption, or breakable encryption).
    """
    context = probe_context(version=ssl.TLSVersion.TLSv1_2, ciphers=WEAK_CIPHERS)
    why = offerable(context, mqtt_pki, ciphers=WEAK_CIPHERS)
    if why is not None:
        mqttsec_unsupported(f"cannot offer weak TLS 1.2 ciphers here: {why}")
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        probe = probe_context(version=ssl.TLSVersion.TLSv1_2, ciphers=WEAK_CIPHERS)
        present_certificate(probe, mqtt_profile, mqtt_pki, listener)
        got = agreed(handshake(endpoint(mqtt_target, listener), probe))
        assert got is None, f"{listener!r} agreed to a weak cipher suite: {got}"


@pytest.mark.scenario(
    id="TLS-SERVER-CERT-HOSTNAME", family="tls", severity="high", versions=_VERSIONS, spec=[]
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_server_certificate_verifies_for_the_host(
    mqtt_target: RunningTarget, mqtt_profile: SecurityProfile, mqtt_pki: PkiFiles
) -> None:
    """With hostname checking on and only the profile's CA trusted, the server certificate
    verifies for the address the client dialled, and does not for another name.

    Weakness class: certificates clients can only use with verification off (which
    then accepts any man in the middle); a wildcard certificate for every name.
    """
    trust = cafile(mqtt_target, mqtt_pki)
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        where = endpoint(mqtt_target, listener)
        good = present_certificate(probe_context(trust=trust), mqtt_profile, mqtt_pki, listener)
        result = handshake(where, good)
        assert isinstance(result, ssl.SSLSocket), (
            f"{listener!r}: the server certificate does not verify for {where.host!r} "
            f"against the profile's CA: {result}"
        )
        result.close()
        wrong = present_certificate(probe_context(trust=trust), mqtt_profile, mqtt_pki, listener)
        other = handshake(where, wrong, server_hostname=unique() + ".invalid")
        got = agreed(other)
        assert got is None, f"{listener!r}: the server certificate verifies for any name"


def _login(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    listener: str,
    version: ProtocolVersion,
    context: ssl.SSLContext,
) -> MqttClient:
    """A client of a legitimate user over *context*: a password user, or on an
    identity-as-username listener the first good certificate, with no username."""
    spec = mqtt_profile.listener(listener)
    username = password = None
    present_certificate(context, mqtt_profile, mqtt_pki, listener)
    if not spec.identity_as_username:
        users = sorted(u for u in mqtt_profile.users if mqtt_profile.may_connect(u, listener))
        if not users:
            mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no user on {listener!r}")
        username, password = users[0], mqtt_profile.users[users[0]].password
    return MqttClient(
        endpoint(mqtt_target, listener),
        version,
        username=username,
        password=password,
        ssl_context=context,
    )


def _version_scenario(
    wanted: str,
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    capability = Capability.TLS12 if wanted == "tlsv1.2" else Capability.TLS13
    if capability not in mqtt_target.capabilities:
        mqttsec_unsupported(f"{mqtt_target.name} does not offer {wanted}")
    trust = cafile(mqtt_target, mqtt_pki)
    checked = 0
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        spec = mqtt_profile.listener(listener)
        context = probe_context(version=_TLS_NAMES[wanted], trust=trust)
        if wanted in spec.tls_versions:
            if identity_missing(mqtt_profile, mqtt_target, listener) is not None:
                continue  # no legitimate login exists on this listener here
            client = _login(mqtt_target, mqtt_profile, mqtt_pki, listener, mqtt_version, context)
            code = client.connect()
            assert code == 0, (
                f"{listener!r} allows {wanted} but a login over it got {code!r} {client.refusal}"
            )
            sock = client.paho.socket()
            got = sock.version() if isinstance(sock, ssl.SSLSocket) else None
            client.close()
            assert got == {"tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3"}[wanted], got
            checked += 1
        elif f"tls-max-version:{listener}" not in mqtt_target.unsupported:
            present_certificate(context, mqtt_profile, mqtt_pki, listener)
            got = agreed(handshake(endpoint(mqtt_target, listener), context))
            assert got is None, f"{listener!r} accepted {got}, which its profile excludes"
            checked += 1
    if not checked:
        mqttsec_unsupported(f"{mqtt_target.name} cannot restrict {wanted} as the profile asks")


@pytest.mark.scenario(
    id="TLS-1.2-HANDSHAKE", family="tls", severity="medium", versions=_VERSIONS, spec=[]
)
def test_tls_1_2_as_profile_says(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """Where the profile allows TLS 1.2, a TLS 1.2-only client completes the handshake and
    logs in; where it does not, the handshake fails.

    Weakness class: a listener that cannot be reached by the clients it was meant for
    (and gets "fixed" by switching TLS off), or that ignores its version setting.
    """
    _version_scenario("tlsv1.2", mqtt_target, mqtt_profile, mqtt_pki, mqtt_version)


@pytest.mark.scenario(
    id="TLS-1.3-HANDSHAKE", family="tls", severity="medium", versions=_VERSIONS, spec=[]
)
def test_tls_1_3_as_profile_says(
    mqtt_target: RunningTarget,
    mqtt_profile: SecurityProfile,
    mqtt_pki: PkiFiles,
    mqtt_version: ProtocolVersion,
) -> None:
    """Where the profile allows TLS 1.3, a TLS 1.3-only client completes the handshake and
    logs in; where it does not, the handshake fails (a target that can only set a minimum
    version says so, and that part is skipped).

    Weakness class: a version setting silently ignored.
    """
    _version_scenario("tlsv1.3", mqtt_target, mqtt_profile, mqtt_pki, mqtt_version)


@pytest.mark.scenario(
    id="TLS-COMPRESSION-OFF", family="tls", severity="medium", versions=_VERSIONS, spec=[]
)
@pytest.mark.usefixtures("mqtt_version")  # a row per MQTT version, like every scenario
def test_tls_compression_off(mqtt_target: RunningTarget, mqtt_profile: SecurityProfile) -> None:
    """A TLS 1.2 client offering DEFLATE compression (before "none") gets a ServerHello
    choosing no compression.

    The hello is built by hand: this Python's OpenSSL cannot even offer compression, so a
    handshake through it would prove nothing. TLS 1.3 has no compression at all.

    Weakness class: CRIME-style attacks: compressed secrets (passwords in CONNECT next
    to attacker-influenced topics) leak through the ciphertext length.
    """
    for listener in tls_listeners(mqtt_profile, mqtt_target):
        if "tlsv1.2" not in mqtt_profile.listener(listener).tls_versions:
            continue
        where = endpoint(mqtt_target, listener)
        hello = client_hello(TLS12, CONTROL_SUITES, server_name=sni(where), compression=(1, 0))
        answer = hello_answer(where, mqtt_profile, listener, hello)
        assert answer.agreed, (
            f"{listener!r} refused a hello that also offers no compression: {answer}"
        )
        assert answer.compression == 0, f"{listener!r} chose TLS compression: {answer}"
