"""TLS listener settings and the server :class:`ssl.SSLContext` built from them, safely.

Guarantees: TLS 1.2 at least (never 1.0/1.1), no compression, no renegotiation, no session
tickets, the server's cipher order, no NULL or anonymous ciphers, and the client CA store
holds only the configured ``cafile`` (never the system CAs: any public CA would then vouch
for a client). Every problem in the files stops start-up with :class:`TlsConfigError`
naming the file and the fix. :class:`TlsContextHolder` reloads the files on demand and keeps
the working context when the new files are broken: a reload never ends less secure
(mosquitto CVE-2017-7652 class).
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .errors import SecurityFileError

__all__ = [
    "TLS_VERSIONS",
    "CertKeyPair",
    "TlsConfigError",
    "TlsContextHolder",
    "TlsSettings",
    "build_server_context",
]

log = logging.getLogger(__name__)

TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = MappingProxyType(
    {"tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
)
"""Accepted ``tls_version`` values (the minimum; mosquitto 2's meaning of the option)."""


class TlsConfigError(SecurityFileError):
    """A TLS setting or file is wrong; the listener must not start (or reload) with it."""


class CertKeyPair(NamedTuple):
    """A certificate chain file and the key file that goes with it."""

    certfile: str
    keyfile: str


@dataclass(frozen=True)
class TlsSettings:
    """One TLS listener's settings, named like mosquitto's options.

    Attributes:
        certfile: server certificate chain (PEM, leaf first).
        keyfile: the unencrypted private key of ``certfile`` (PEM).
        cafile: CAs that sign client certificates (PEM). Needed for ``require_certificate``.
        require_certificate: mTLS; a client without a valid certificate fails the handshake.
            Without it but with ``cafile``, a certificate is asked for, verified if sent
            and offered to plugins, but not required.
        use_identity_as_username: the client certificate CN is the username.
        use_subject_as_username: the client certificate subject is the username.
        crlfile: a PEM CRL from the ``cafile`` CA; revoked client certificates are refused.
        tls_version: the minimum version, ``"tlsv1.2"`` or ``"tlsv1.3"``.
        ciphers: OpenSSL cipher string for TLS 1.2 (TLS 1.3 suites cannot be set from
            Python; OpenSSL's defaults are all AEAD). None keeps OpenSSL's secure defaults.
        sni: server name -> other certificate/key for clients asking for that name (SNI);
            other names, and clients sending none, get ``certfile``.
    """

    certfile: str
    keyfile: str
    cafile: str | None = None
    require_certificate: bool = False
    use_identity_as_username: bool = False
    use_subject_as_username: bool = False
    crlfile: str | None = None
    tls_version: str = "tlsv1.2"
    ciphers: str | None = None
    sni: Mapping[str, CertKeyPair] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse combinations that cannot be secured, before any file is read."""
        if self.tls_version not in TLS_VERSIONS:
            raise TlsConfigError(
                "tls_version",
                None,
                f"unknown or insecure tls_version {self.tls_version!r}",
                "use tlsv1.2 or tlsv1.3 (TLS 1.0 and 1.1 are not offered)",
            )
        if self.use_identity_as_username and self.use_subject_as_username:
            raise TlsConfigError(
                "use_subject_as_username",
                None,
                "use_identity_as_username and use_subject_as_username are both set",
                "choose one of them",
            )
        needs_ca = [
            name
            for name in (
                "require_certificate",
                "use_identity_as_username",
                "use_subject_as_username",
            )
            if getattr(self, name)
        ]
        if (needs_ca or self.crlfile) and not self.cafile:
            raise TlsConfigError(
                "cafile",
                None,
                f"{', '.join(needs_ca) or 'crlfile'} needs a cafile to verify client certificates",
                "set cafile to the CA that signs client certificates",
            )
        if not isinstance(self.sni, MappingProxyType):
            pairs = {name.lower(): CertKeyPair(*pair) for name, pair in self.sni.items()}
            object.__setattr__(self, "sni", MappingProxyType(pairs))

    @property
    def client_ca_configured(self) -> bool:
        """Whether client certificates are asked for (and verified) at all."""
        return self.cafile is not None


def _readable(path: str, what: str, option: str) -> bytes:
    """The file's bytes; a missing or unreadable file is a config error saying which."""
    file = Path(path)
    if not file.exists():
        raise TlsConfigError(path, None, f"{what} does not exist", f"point {option} at a {what}")
    if not file.is_file():
        raise TlsConfigError(
            path, None, f"{what} is not a regular file", f"point {option} at a file"
        )
    try:
        return file.read_bytes()
    except OSError as exc:
        raise TlsConfigError(
            path,
            None,
            f"{what} cannot be read ({exc.strerror})",
            "make it readable by the broker user",
        ) from exc


def _check_cert_and_key(pair: CertKeyPair) -> None:
    """Explain the common cert/key mistakes better than OpenSSL's ``PEM lib`` does."""
    cert_pem = _readable(pair.certfile, "certificate file", "certfile")
    key_pem = _readable(pair.keyfile, "key file", "keyfile")
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise TlsConfigError(
            pair.certfile,
            None,
            f"no PEM certificate could be read ({exc})",
            "give a PEM certificate chain, leaf first",
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError as exc:
        raise TlsConfigError(
            pair.keyfile,
            None,
            "the private key is encrypted",
            "decrypt it (openssl pkey -in KEY -out KEY.plain)",
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TlsConfigError(
            pair.keyfile,
            None,
            "no PEM private key could be read",
            "give the certificate's private key in PEM",
        ) from exc
    leaf = certs[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TlsConfigError(
            pair.keyfile,
            None,
            f"the private key does not match the certificate in {pair.certfile}",
            "use the key the certificate was issued for (or put the leaf certificate first)",
        )
    now = datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc < now:
        log.warning(
            "TLS certificate %s expired at %s; clients will refuse it",
            pair.certfile,
            leaf.not_valid_after_utc,
        )


def _no_password() -> bytes:
    """Never let OpenSSL prompt on stdin for a key password (it would hang start-up)."""
    raise TlsConfigError("keyfile", None, "the private key is encrypted", "decrypt it")


def _load_pair(context: ssl.SSLContext, pair: CertKeyPair) -> None:
    _check_cert_and_key(pair)
    try:
        context.load_cert_chain(pair.certfile, pair.keyfile, password=_no_password)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            pair.certfile,
            None,
            f"OpenSSL refused the certificate/key ({exc.reason or exc})",
            "check both PEM files",
        ) from exc


def _load_ca(context: ssl.SSLContext, cafile: str) -> x509.Certificate:
    data = _readable(cafile, "CA file", "cafile")
    try:
        cas = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsConfigError(
            cafile,
            None,
            f"no PEM CA certificate could be read ({exc})",
            "give the client CA certificate(s) in PEM",
        ) from exc
    try:
        context.load_verify_locations(cafile=cafile)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            cafile, None, f"OpenSSL refused the CA file ({exc.reason or exc})", "check the PEM"
        ) from exc
    return cas[0]


def _load_crl(context: ssl.SSLContext, crlfile: str, cafile: str) -> None:
    data = _readable(crlfile, "CRL file", "crlfile")
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError as exc:
        try:
            x509.load_der_x509_crl(data)
        except ValueError:
            raise TlsConfigError(
                crlfile, None, "not a CRL", "give a PEM CRL issued by the cafile CA"
            ) from exc
        raise TlsConfigError(
            crlfile,
            None,
            "the CRL is DER, PEM is needed",
            f"openssl crl -inform DER -in {crlfile} -out CRL.pem",
        ) from exc
    cas = x509.load_pem_x509_certificates(Path(cafile).read_bytes())
    issuer = next((ca for ca in cas if ca.subject == crl.issuer), None)
    if issuer is None:
        raise TlsConfigError(
            crlfile, None, "the CRL is not issued by a CA in cafile", "use the CRL of the client CA"
        )
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise TlsConfigError(
            crlfile, None, "the CRL signature does not verify with its CA", "regenerate the CRL"
        )
    next_update = crl.next_update_utc
    if next_update is not None and next_update < datetime.datetime.now(datetime.UTC):
        raise TlsConfigError(
            crlfile,
            None,
            f"the CRL expired at {next_update:%Y-%m-%d %H:%M}Z; OpenSSL would refuse every client",
            "publish a fresh CRL",
        )
    try:
        context.load_verify_locations(cafile=crlfile)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            crlfile, None, f"OpenSSL refused the CRL ({exc.reason or exc})", "check the PEM"
        ) from exc
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


def _set_ciphers(context: ssl.SSLContext, ciphers: str) -> None:
    try:
        context.set_ciphers(ciphers)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            "ciphers",
            None,
            f"the cipher string {ciphers!r} selects no cipher",
            "use e.g. ECDHE+AESGCM:ECDHE+CHACHA20",
        ) from exc
    weak = [
        c["name"]
        for c in context.get_ciphers()
        if c["protocol"] != "TLSv1.3" and (c["strength_bits"] < 128 or c["auth"] == "auth-null")
    ]
    if weak:
        raise TlsConfigError(
            "ciphers",
            None,
            f"the cipher string {ciphers!r} enables weak ciphers {weak}",
            "remove them (add :!aNULL:!eNULL)",
        )


def _base_context(settings: TlsSettings, pair: CertKeyPair) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # not create_default_context: no system CAs
    context.minimum_version = TLS_VERSIONS[settings.tls_version]
    context.options |= (
        ssl.OP_NO_COMPRESSION
        | ssl.OP_NO_RENEGOTIATION
        | ssl.OP_CIPHER_SERVER_PREFERENCE
        | ssl.OP_NO_TICKET
        | ssl.OP_SINGLE_ECDH_USE
    )
    context.num_tickets = 0  # no TLS 1.3 resumption: every connection is verified afresh
    if settings.ciphers is not None:
        _set_ciphers(context, settings.ciphers)
    _load_pair(context, pair)
    if settings.cafile is not None:
        _load_ca(context, settings.cafile)
        if settings.crlfile is not None:
            _load_crl(context, settings.crlfile, settings.cafile)
        context.verify_mode = (
            ssl.CERT_REQUIRED if settings.require_certificate else ssl.CERT_OPTIONAL
        )
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def build_server_context(settings: TlsSettings) -> ssl.SSLContext:
    """Build the server context for *settings*, reading every file now.

    With ``sni``, one context per server name is built with the same verification settings
    and chosen by an SNI callback.

    Raises:
        TlsConfigError: a file is missing, unreadable, malformed, or does not fit the others.
    """
    context = _base_context(settings, CertKeyPair(settings.certfile, settings.keyfile))
    if settings.sni:
        by_name = {name: _base_context(settings, pair) for name, pair in settings.sni.items()}

        def choose(ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            if server_name is not None:
                chosen = by_name.get(server_name.lower())
                if chosen is not None:
                    ssl_object.context = chosen

        context.sni_callback = choose
    return context


class TlsContextHolder:
    """The current server context of a listener, with certificate reload.

    Wire it so every new connection takes :attr:`context` at accept time (for example accept
    plain TCP and call ``StreamWriter.start_tls(holder.context)``); connections already open
    keep the context they were made with.
    """

    def __init__(self, settings: TlsSettings) -> None:
        """Build the first context; a broken file raises and the listener must not start."""
        self.settings = settings
        self._context = build_server_context(settings)
        self.last_error: TlsConfigError | None = None

    @property
    def context(self) -> ssl.SSLContext:
        """The context for new connections."""
        return self._context

    def reload(self) -> bool:
        """Re-read every file; on any error keep the current context and log why.

        Returns:
            True if the new files are in use, False if the old context was kept.
        """
        try:
            context = build_server_context(self.settings)
        except TlsConfigError as exc:
            self.last_error = exc
            log.error("TLS reload failed, keeping the previous certificates: %s", exc)
            return False
        self._context = context
        self.last_error = None
        log.info("TLS certificates reloaded from %s", self.settings.certfile)
        return True
