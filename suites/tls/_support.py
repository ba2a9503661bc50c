"""Helpers shared by the tls and mtls scenarios: which listeners to probe, TLS contexts that
offer exactly one weakness, a local self-check that this Python can offer it at all, and
the verdict on an mTLS login that must not succeed.

Nothing names a listener, user or certificate: listeners come from the profile (by kind),
certificate files from the test PKI, and what a target cannot do from its capabilities and
``unsupported`` keys (reported *unsupported*, never passed).
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Sequence
from pathlib import Path

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, TlsFiles
from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import ClientCertSpec, ListenerKind, SecurityProfile
from mqttsec.fixtures.targets import Capability, Endpoint, RunningTarget
from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.suites.helpers import connect_bytes, unique

__all__ = [
    "WEAK_CIPHERS",
    "agreed",
    "cafile",
    "connack_over",
    "credentials",
    "endpoint",
    "good_certificates",
    "handshake",
    "identity_missing",
    "login_listeners",
    "mtls_attempt",
    "mtls_listeners",
    "offerable",
    "present_certificate",
    "probe_context",
    "raw_login",
    "require_mtls_refused",
    "tls_listeners",
    "unique",
]

WEAK_CIPHERS = "aNULL:eNULL:NULL:EXPORT:RC4:DES:3DES:MD5:@SECLEVEL=0"
"""Cipher suites no broker should agree to: unauthenticated, unencrypted, export-grade,
RC4, (3)DES, MD5 MACs. ``@SECLEVEL=0`` lets OpenSSL offer them at all."""


def tls_listeners(profile: SecurityProfile, target: RunningTarget) -> list[str]:
    """Every TLS or mTLS listener of the profile the target offers TLS on; unsupported if
    there is none."""
    names = [item.name for item in profile.listeners if item.tls]
    usable = [n for n in names if f"tls:{n}" not in target.unsupported]
    if not usable:
        why = "; ".join(target.unsupported.get(f"tls:{n}", "") for n in names) or "none declared"
        mqttsec_unsupported(f"profile {profile.name!r}: no TLS listener on {target.name} ({why})")
    return usable


def mtls_listeners(profile: SecurityProfile, target: RunningTarget) -> list[str]:
    """The profile's mTLS listeners where the target can require a client certificate;
    unsupported if there is none (amqtt can only make certificates optional)."""
    names = [item.name for item in profile.listeners if item.kind is ListenerKind.MTLS]
    if not names:
        mqttsec_unsupported(f"profile {profile.name!r} declares no mTLS listener")
    if Capability.MTLS not in target.capabilities:
        mqttsec_unsupported(f"{target.name} cannot require client certificates")
    usable = [n for n in names if f"mtls:{n}" not in target.unsupported]
    if not usable:
        mqttsec_unsupported(f"{target.name}: {target.unsupported[f'mtls:{names[0]}']}")
    return usable


def endpoint(target: RunningTarget, listener: str) -> Endpoint:
    """The target's endpoint for *listener*, unsupported when it did not open it."""
    reason = target.unsupported.get(f"listener:{listener}")
    if reason is not None:
        mqttsec_unsupported(f"{target.name}: {reason}")
    return target.endpoint(listener)


def cafile(target: RunningTarget, pki: PkiFiles) -> Path:
    """The CA the target's server certificates chain to."""
    return target.cafile or pki.cafile


# ---------------------------------------------------------------------- contexts, handshakes


def present_certificate(
    context: ssl.SSLContext, profile: SecurityProfile, pki: PkiFiles, listener: str
) -> ssl.SSLContext:
    """On an mTLS listener, make *context* present the profile's first good client
    certificate, so that a probe is refused (or not) for what it tests, not for a missing
    certificate. Unsupported if the profile has none."""
    if profile.listener(listener).kind is ListenerKind.MTLS:
        pair = pki.pair(f"client-{good_certificates(profile)[0].name}")
        context.load_cert_chain(str(pair.certfile), str(pair.keyfile))
    return context


def probe_context(
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    trust: Path | None = None,
) -> ssl.SSLContext:
    """A client context offering exactly *version* (and only *ciphers*, when given).

    Without *trust* the server certificate is not checked: these probes ask whether the
    server agrees to a weak handshake, not who it is.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 / TLSv1_1 on purpose
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if trust is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context.load_verify_locations(cafile=str(trust))
        if version is not None:
            context.minimum_version = version
            context.maximum_version = version
        if ciphers is not None:
            context.set_ciphers(ciphers)
        elif version is not None and version < ssl.TLSVersion.TLSv1_2:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # old versions need SHA-1
    return context


def offerable(client: ssl.SSLContext, pki: PkiFiles, *, ciphers: str | None = None) -> str | None:
    """Whether this Python/OpenSSL can complete a handshake with *client* at all.

    A local, in-memory handshake against a server that accepts anything (same version and
    *ciphers*, security level 0). None when it completes; otherwise the reason, so that a
    probe the client cannot even make is reported unsupported instead of "refused".
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        pair = pki.pair("server")
        server.load_cert_chain(str(pair.certfile), str(pair.keyfile))
        server.minimum_version = client.minimum_version
        server.maximum_version = client.maximum_version
        try:
            server.set_ciphers(ciphers or "ALL:@SECLEVEL=0")
        except ssl.SSLError as exc:
            return f"OpenSSL here has none of the ciphers {ciphers!r}: {exc}"
    bios = [ssl.MemoryBIO() for _ in range(4)]
    near = client.wrap_bio(bios[0], bios[1], server_hostname="localhost")
    far = server.wrap_bio(bios[2], bios[3], server_side=True)
    try:
        for _ in range(16):  # a handshake is a handful of flights
            finished = 0
            for side, outgoing, peer in ((near, bios[1], bios[2]), (far, bios[3], bios[0])):
                try:
                    side.do_handshake()
                    finished += 1
                except ssl.SSLWantReadError:
                    pass
                if data := outgoing.read():
                    peer.write(data)
            if finished == 2:
                return None
    except ssl.SSLError as exc:
        return f"{ssl.OPENSSL_VERSION} cannot make this handshake even with itself: {exc}"
    return "the local handshake did not finish"


def handshake(
    where: Endpoint, context: ssl.SSLContext, *, server_hostname: str | None = None
) -> ssl.SSLSocket | str:
    """A TLS handshake with *where*: the socket, or why it failed (the server refused, or
    closed). The caller closes the socket."""
    sock = socket.create_connection((where.host, where.port), timeout=5)
    try:
        return context.wrap_socket(sock, server_hostname=server_hostname or where.host)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        return f"{type(exc).__name__}: {exc}"


def agreed(result: ssl.SSLSocket | str) -> str | None:
    """What a handshake that must have failed agreed to (version and cipher), closing its
    socket; None when it failed."""
    if isinstance(result, str):
        return None
    version, cipher = result.version(), result.cipher()
    result.close()
    return f"{version} with {cipher[0] if cipher else 'no cipher'}"


# ---------------------------------------------------------------------- mTLS verdicts


def good_certificates(profile: SecurityProfile) -> list[ClientCertSpec]:
    """The profile's client certificates that are not revoked; unsupported if none is."""
    good = [c for c in profile.certificates if not c.revoked]
    if not good:
        mqttsec_unsupported(f"profile {profile.name!r} has no good client certificate")
    return good


def mtls_attempt(
    target: RunningTarget,
    profile: SecurityProfile,
    pki: PkiFiles,
    listener: str,
    version: ProtocolVersion,
    certificate: str | None,
) -> tuple[int | None, str]:
    """Log in on *listener* presenting the PKI leaf *certificate* (None: no certificate).

    On a listener whose identity is the certificate no username is sent; otherwise the first
    password user with its password, so that the certificate is the only thing wrong.
    Returns the CONNACK code (None without one) and the client's refusal text.
    """
    spec = profile.listener(listener)
    username = password = None
    if not spec.identity_as_username:
        users = sorted(u for u in profile.users if profile.may_connect(u, listener))
        if users:
            username, password = users[0], profile.users[users[0]].password
    files = TlsFiles(cafile(target, pki))
    if certificate is not None:
        pair = pki.pair(certificate)
        files = TlsFiles(files.cafile, pair.certfile, pair.keyfile)
    client = MqttClient(
        endpoint(target, listener), version, username=username, password=password, tls=files
    )
    try:
        return client.connect(), client.refusal
    except ClientTimeout as exc:  # neither in nor out: not let in either
        return None, str(exc)
    finally:
        client.close()


def require_mtls_refused(
    target: RunningTarget,
    profile: SecurityProfile,
    pki: PkiFiles,
    version: ProtocolVersion,
    certificates: Sequence[str | None],
) -> None:
    """On every mTLS listener, a login presenting each of the PKI leaf *certificates* (None:
    no certificate) is not let in: any refusal passes, a CONNACK 0x00 fails."""
    for listener in mtls_listeners(profile, target):
        no_identity = identity_missing(profile, target, listener)
        for certificate in certificates:
            code, _ = mtls_attempt(target, profile, pki, listener, version, certificate)
            what = f"certificate {certificate!r}" if certificate else "no client certificate"
            assert code != 0, f"ACCEPTED on {listener!r} with {what} (CONNACK 0x00)"
            if no_identity is not None and code is not None:
                # Refused at CONNACK, as every certificate login is here: that proves
                # nothing about the certificate (a TLS-level refusal still would).
                mqttsec_unsupported(f"{no_identity}; {what} got CONNACK {code}")


# ---------------------------------------------------------------------- raw TLS logins


def identity_missing(profile: SecurityProfile, target: RunningTarget, listener: str) -> str | None:
    """Why no legitimate client can log in on *listener*: it takes the certificate's CN as
    the username and *target* cannot (a certificate without username is then refused for
    that, not for what a scenario probes); None when it can, or the listener uses passwords."""
    if not profile.listener(listener).identity_as_username:
        return None
    if Capability.IDENTITY_AS_USERNAME not in target.capabilities:
        return f"{target.name} cannot take the certificate as identity"
    why = target.unsupported.get(f"identity-as-username:{listener}")
    return f"{target.name}: {why}" if why is not None else None


def login_listeners(profile: SecurityProfile, target: RunningTarget) -> list[str]:
    """The TLS listeners (:func:`tls_listeners`) a legitimate client can log in on;
    unsupported if there is none."""
    names = tls_listeners(profile, target)
    usable = [n for n in names if identity_missing(profile, target, n) is None]
    if not usable:
        mqttsec_unsupported(str(identity_missing(profile, target, names[0])))
    return usable


def credentials(
    profile: SecurityProfile, listener: str, target: RunningTarget
) -> tuple[str | None, str | None]:
    """What a legitimate client sends in CONNECT on *listener*: nothing where the
    certificate is the identity, else the first password user allowed there. Unsupported
    where the certificate is the identity but *target* cannot take it as one."""
    if profile.listener(listener).identity_as_username:
        why = identity_missing(profile, target, listener)
        if why is not None:
            mqttsec_unsupported(why)
        return None, None
    users = sorted(u for u in profile.users if profile.may_connect(u, listener))
    if not users:
        mqttsec_unsupported(f"profile {profile.name!r} has no password user on {listener!r}")
    return users[0], profile.users[users[0]].password


def raw_login(
    where: Endpoint,
    context: ssl.SSLContext,
    version: ProtocolVersion,
    username: str | None,
    password: str | None,
    *,
    session: ssl.SSLSession | None = None,
) -> tuple[int | None, bool, str]:
    """A TLS handshake and a hand-built CONNECT over it.

    Returns:
        The CONNACK return/reason code (None without one), whether the TLS session was
        resumed, and what ended the attempt (empty after a CONNACK).
    """
    try:
        sock = socket.create_connection((where.host, where.port), timeout=5)
    except OSError as exc:
        return None, False, f"no TCP connection: {exc}"
    try:
        with context.wrap_socket(sock, server_hostname=where.host, session=session) as tls:
            code, why = connack_over(tls, version, username, password)
            return code, bool(tls.session_reused), why
    except (ssl.SSLError, OSError) as exc:
        return None, False, f"{type(exc).__name__}: {exc}"
    finally:
        sock.close()


def connack_over(
    tls: ssl.SSLSocket, version: ProtocolVersion, username: str | None, password: str | None
) -> tuple[int | None, str]:
    """Send a hand-built CONNECT over an established TLS socket: the CONNACK return/reason
    code (None without one) and, without one, what came instead."""
    try:
        tls.sendall(connect_bytes(version, username=username, password=password))
        answer = b""
        while len(answer) < 4:
            chunk = tls.recv(4 - len(answer))
            if not chunk:
                return None, f"closed after {answer.hex() or 'nothing'}"
            answer += chunk
    except (ssl.SSLError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if answer[0] != 0x20:
        return None, f"not a CONNACK: {answer.hex()}"
    return answer[3], ""
