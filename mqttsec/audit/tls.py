"""TLS posture of an ``mqtts://`` listener: protocol versions accepted and the server certificate.

Only TLS handshakes here, no MQTT: each probe opens a TCP connection, shakes hands (bounded by
the target's timeout) and closes. Versions are probed one at a time with the client pinned to
exactly that version, so "accepted" means the server negotiated it. The certificate is first
verified as a careful client would (``--cafile`` or the system store, host name checked); when
that fails, it is fetched without verification and examined, so the finding says *why*
(expired, self-signed, other host, unknown issuer) rather than only that it failed.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from .findings import Finding, Severity
from .target import AuditTarget

__all__ = [
    "CertificateReport",
    "TlsReport",
    "client_context",
    "examine_certificate",
    "probe_tls",
    "probe_version",
    "tls_findings",
]

VERSIONS: tuple[tuple[str, ssl.TLSVersion], ...] = (
    ("1.0", ssl.TLSVersion.TLSv1),
    ("1.1", ssl.TLSVersion.TLSv1_1),
    ("1.2", ssl.TLSVersion.TLSv1_2),
    ("1.3", ssl.TLSVersion.TLSv1_3),
)
_LEGACY = ("1.0", "1.1")
_CLIENT_HAS = {"1.0": ssl.HAS_TLSv1, "1.1": ssl.HAS_TLSv1_1, "1.2": True, "1.3": ssl.HAS_TLSv1_3}
_VERSION_REFUSED = (
    "protocol version",
    "unsupported protocol",
    "wrong version number",
    "no protocols available",
    "version too low",
    "inappropriate fallback",
)
_EXPIRY_WARNING = datetime.timedelta(days=30)


def client_context(
    target: AuditTarget,
    *,
    verify: bool,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> ssl.SSLContext:
    """A client context: verifying (``--cafile`` or the system store, host name checked, TLS
    1.2 floor) or not (anything goes; for examining a broken server and auditing it anyway).
    """
    if verify:
        cafile = str(target.cafile) if target.cafile is not None else None
        context = ssl.create_default_context(cafile=cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context


def _handshake(target: AuditTarget, context: ssl.SSLContext) -> ssl.SSLSocket:
    """Connect and shake hands; the caller closes the returned socket."""
    sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def probe_version(
    target: AuditTarget, name: str, client_cert: tuple[str, str | None] | None = None
) -> tuple[bool | None, str]:
    """Does the server negotiate TLS *name* (``"1.0"`` ... ``"1.3"``)?

    Returns:
        (True, cipher) accepted; (False, reason) refused; (None, reason) this client's OpenSSL
        cannot offer that version, or the handshake failed for another reason.
    """
    version = dict(VERSIONS)[name]
    if not _CLIENT_HAS[name]:
        return None, f"this Python/OpenSSL cannot offer TLS {name}"
    context = client_context(target, verify=False)
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            context.minimum_version = version
            context.maximum_version = version
            if name in _LEGACY:  # OpenSSL 3 refuses legacy suites above security level 0
                context.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as exc:
            return None, f"this Python/OpenSSL cannot offer TLS {name}: {exc}"
    try:
        with _handshake(target, context) as tls:
            cipher = tls.cipher()
            return True, cipher[0] if cipher else ""
    except ssl.SSLEOFError:  # closed without an alert: how asyncio servers refuse
        return False, "the server closed the connection during the handshake"
    except ssl.SSLError as exc:
        text = str(exc).lower()
        if any(marker in text for marker in _VERSION_REFUSED):
            return False, _short(exc)
        if "unexpected eof" in text:
            return False, "the server closed the connection during the handshake"
        return None, f"handshake failed for another reason: {_short(exc)}"
    except (TimeoutError, ConnectionError) as exc:
        return False, f"connection ended during the handshake: {_short(exc)}"


@dataclass(frozen=True, slots=True)
class CertificateReport:
    """What the server's leaf certificate is, and what is wrong with it (if anything)."""

    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    key: str
    key_weak: bool
    self_signed: bool
    problems: tuple[str, ...] = ()


def examine_certificate(der: bytes, now: datetime.datetime | None = None) -> CertificateReport:
    """Read a DER certificate: validity window, self-signed or not, the key and its strength.

    Host name and chain problems are not visible in the certificate alone; they come from the
    verifying handshake (:func:`probe_tls`).
    """
    now = now or datetime.datetime.now(datetime.UTC)
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else "DSA"
        key_text, weak = f"{kind}-{key.key_size}", key.key_size < 2048
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_text, weak = f"EC {key.curve.name}", key.curve.key_size < 224
    else:
        key_text, weak = type(key).__name__.removesuffix("PublicKey"), False
    problems = []
    if cert.not_valid_after_utc < now:
        problems.append(f"expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if cert.not_valid_before_utc > now:
        problems.append(f"not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    self_signed = cert.issuer == cert.subject
    if self_signed:
        problems.append("self-signed")
    if weak:
        problems.append(f"weak key ({key_text})")
    return CertificateReport(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key=key_text,
        key_weak=weak,
        self_signed=self_signed,
        problems=tuple(problems),
    )


@dataclass(slots=True)
class TlsReport:
    """Everything :func:`probe_tls` learnt.

    Attributes:
        verified: the handshake verified against the trust store, host name included.
        verify_error: why it did not (OpenSSL's message), empty when verified.
        certificate: the leaf certificate, None when no handshake succeeded at all.
        versions: TLS version -> (accepted True/False/None unknown, cipher or reason).
        handshake_error: why not even an unverified handshake worked ("" when one did).
    """

    verified: bool = False
    verify_error: str = ""
    certificate: CertificateReport | None = None
    versions: dict[str, tuple[bool | None, str]] = field(default_factory=dict)
    handshake_error: str = ""


def probe_tls(target: AuditTarget, client_cert: tuple[str, str | None] | None = None) -> TlsReport:
    """Verify the certificate, fetch and examine it, and probe every TLS version."""
    report = TlsReport()
    certfile, keyfile = client_cert if client_cert is not None else (None, None)
    try:
        context = client_context(target, verify=True, certfile=certfile, keyfile=keyfile)
        with _handshake(target, context):
            report.verified = True
    except ssl.SSLCertVerificationError as exc:
        report.verify_error = str(exc.verify_message or exc.reason or exc)
    except ssl.SSLError as exc:
        report.verify_error = _short(exc)
    context = client_context(target, verify=False, certfile=certfile, keyfile=keyfile)
    context.set_ciphers("ALL:@SECLEVEL=0")  # see a weak certificate rather than refuse it
    try:
        with _handshake(target, context) as tls:
            der = tls.getpeercert(binary_form=True)
        if der:
            report.certificate = examine_certificate(der)
    except (ssl.SSLError, OSError) as exc:
        report.handshake_error = _short(exc)
    for name, _ in VERSIONS:
        report.versions[name] = probe_version(target, name, client_cert)
    return report


def tls_findings(target: AuditTarget, report: TlsReport) -> list[Finding]:
    """The TLS rows: certificate verification, expiry, key strength, versions."""
    out: list[Finding] = []
    cert = report.certificate
    trust = f"--cafile {target.cafile}" if target.cafile else "the system trust store"
    if report.verified:
        out.append(
            Finding.ok(
                "TLS-CERT-VERIFY",
                "Server certificate verifies",
                f"verified against {trust} for host {target.host!r}"
                + (f"; subject {cert.subject}, issuer {cert.issuer}" if cert else ""),
            )
        )
    else:
        problems = list(cert.problems) if cert else []
        error = report.verify_error.lower()
        if "mismatch" in error:
            problems.append(f"not issued for {target.host}")
        if "issuer" in error and not (cert and cert.self_signed):
            problems.append("issuer not trusted")
        reasons = ", ".join(problems)
        out.append(
            Finding.issue(
                "TLS-CERT-VERIFY",
                Severity.HIGH,
                "Server certificate does not verify" + (f" ({reasons})" if reasons else ""),
                f"against {trust} for host {target.host!r}: {report.verify_error}"
                + (f"; subject {cert.subject}, issuer {cert.issuer}" if cert else "")
                + "; the other checks went on without verification",
                "serve a certificate from a CA the clients trust, valid now and naming this "
                "host in its subjectAltName (mosquitto: certfile/keyfile; give the CA with "
                "--cafile if it is a private one); clients that skip verification can be "
                "intercepted",
            )
        )
    if cert is not None:
        left = cert.not_after - datetime.datetime.now(datetime.UTC)
        if datetime.timedelta(0) < left < _EXPIRY_WARNING:
            out.append(
                Finding.issue(
                    "TLS-CERT-EXPIRY",
                    Severity.LOW,
                    f"Server certificate expires in {left.days} days",
                    f"not after {cert.not_after:%Y-%m-%d %H:%M} UTC",
                    "renew the certificate (and automate renewal) before it expires",
                )
            )
        elif left > datetime.timedelta(0):
            out.append(
                Finding.ok(
                    "TLS-CERT-EXPIRY",
                    "Server certificate is not close to expiry",
                    f"valid until {cert.not_after:%Y-%m-%d} ({left.days} days)",
                )
            )
        if cert.key_weak:
            out.append(
                Finding.issue(
                    "TLS-CERT-KEY",
                    Severity.MEDIUM,
                    f"Weak server key ({cert.key})",
                    f"the certificate's public key is {cert.key}",
                    "issue the certificate for an RSA key of at least 2048 bits or an EC key "
                    "(P-256 or better)",
                )
            )
        else:
            out.append(Finding.ok("TLS-CERT-KEY", "Server key is strong", cert.key))
    out.extend(_version_findings(report))
    return out


def _version_findings(report: TlsReport) -> list[Finding]:
    versions = report.versions
    text = "; ".join(
        f"TLS {name}: "
        + {True: "accepted", False: "refused", None: "unknown"}[ok]
        + (f" ({detail})" if detail else "")
        for name, (ok, detail) in versions.items()
    )
    out: list[Finding] = []
    legacy = [name for name in _LEGACY if versions.get(name, (None, ""))[0] is True]
    unknown = [name for name in _LEGACY if versions.get(name, (None, ""))[0] is None]
    if legacy:
        out.append(
            Finding.issue(
                "TLS-LEGACY-VERSIONS",
                Severity.MEDIUM,
                f"Deprecated TLS {' and '.join(legacy)} accepted",
                text,
                "allow TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1); mosquitto: "
                "tls_version tlsv1.2",
            )
        )
    elif unknown:
        out.append(
            Finding.not_tested(
                "TLS-LEGACY-VERSIONS",
                "Deprecated TLS versions",
                f"could not tell for TLS {', '.join(unknown)}: {text}",
            )
        )
    else:
        out.append(Finding.ok("TLS-LEGACY-VERSIONS", "TLS 1.0 and 1.1 refused", text))
    modern = [name for name in ("1.2", "1.3") if versions.get(name, (None, ""))[0] is True]
    if modern:
        out.append(Finding.note("TLS-VERSIONS", f"TLS {' and '.join(modern)} accepted", text))
    else:
        out.append(
            Finding.issue(
                "TLS-VERSIONS",
                Severity.HIGH,
                "Neither TLS 1.2 nor TLS 1.3 negotiated",
                text,
                "enable TLS 1.2 and 1.3 on the listener",
            )
        )
    return out


def _short(exc: BaseException) -> str:
    """An exception as one short line (OpenSSL messages carry file and line noise)."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"{exc.reason}".replace("_", " ").lower()
    return str(exc) or type(exc).__name__
