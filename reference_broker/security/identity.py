"""Who a TLS client is, read from its verified certificate; and the username it implies.

:class:`ClientCertificate` is the plugin-facing, immutable view of a client certificate that
the handshake already verified (chain, validity, CRL). :func:`username_from_certificate`
applies a listener's ``use_identity_as_username`` / ``use_subject_as_username``. A certificate
that cannot give an identity refuses the connection: it never becomes an anonymous one.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from mqttsec.errors import MQTTSecError

from ._openssl_dn import DerError, der_name_to_openssl_rfc2253, tbs_subject_and_issuer_der

__all__ = [
    "CertificateIdentityError",
    "ClientCertificate",
    "certificate_from_ssl_object",
    "username_from_certificate",
]

_MAX_MQTT_STRING = 65535


class CertificateIdentityError(MQTTSecError):
    """A client certificate gives no usable username: refuse the CONNECT.

    The broker answers CONNACK 0x04 (3.1.1) / 0x86 Bad User Name or Password (5.0), as
    mosquitto does, and keeps no session or will. ``reason`` is safe to log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"client certificate refused as identity: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A verified client certificate, as hooks and the username rules see it.

    Attributes:
        der: the certificate, DER-encoded.
        subject: the subject as OpenSSL's RFC 2253 printer writes it (mosquitto's
            ``use_subject_as_username`` username), e.g. ``CN=dev1,OU=fleet,O=Example``.
        issuer: the issuer, same format.
        common_names: every subject CN, in certificate order (normally exactly one).
        organizational_units: every subject OU, in certificate order.
        dns_names, ip_addresses, emails, uris: the subjectAltName entries of each kind.
        fingerprint_sha256: lower-case hex SHA-256 of ``der`` (no colons).
        serial_number: the serial number.
        not_valid_before, not_valid_after: the validity period (UTC, timezone-aware).
    """

    der: bytes
    subject: str
    issuer: str
    common_names: tuple[str, ...]
    organizational_units: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]
    fingerprint_sha256: str
    serial_number: int
    not_valid_before: datetime.datetime
    not_valid_after: datetime.datetime

    @property
    def common_name(self) -> str | None:
        """The CN when there is exactly one, else None (no CN, or an ambiguous several)."""
        return self.common_names[0] if len(self.common_names) == 1 else None

    @classmethod
    def from_der(cls, der: bytes) -> ClientCertificate:
        """Parse a DER certificate (as ``SSLObject.getpeercert(binary_form=True)`` gives it).

        Raises:
            ValueError: the bytes are not a certificate this parser understands.
        """
        cert = x509.load_der_x509_certificate(der)
        try:
            subject_der, issuer_der = tbs_subject_and_issuer_der(cert.tbs_certificate_bytes)
            subject = der_name_to_openssl_rfc2253(subject_der)
            issuer = der_name_to_openssl_rfc2253(issuer_der)
        except (DerError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot print the certificate's names: {exc}") from exc
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = x509.SubjectAlternativeName([])
        ips = san.get_values_for_type(x509.IPAddress)
        return cls(
            der=der,
            subject=subject,
            issuer=issuer,
            common_names=_name_values(cert.subject, NameOID.COMMON_NAME),
            organizational_units=_name_values(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
            dns_names=tuple(san.get_values_for_type(x509.DNSName)),
            ip_addresses=tuple(str(ip) for ip in ips),
            emails=tuple(san.get_values_for_type(x509.RFC822Name)),
            uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            serial_number=cert.serial_number,
            not_valid_before=cert.not_valid_before_utc,
            not_valid_after=cert.not_valid_after_utc,
        )


def _name_values(name: x509.Name, oid: x509.ObjectIdentifier) -> tuple[str, ...]:
    out = []
    for attribute in name.get_attributes_for_oid(oid):
        value = attribute.value
        out.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return tuple(out)


def certificate_from_ssl_object(
    ssl_object: ssl.SSLObject | ssl.SSLSocket,
) -> ClientCertificate | None:
    """The peer's certificate after a completed server-side handshake, or None if it sent none.

    With asyncio: ``transport.get_extra_info("ssl_object")``. The certificate was verified by
    the handshake (the context is ``CERT_REQUIRED`` or ``CERT_OPTIONAL``); with ``CERT_NONE``
    OpenSSL does not even ask for one, so None comes back.
    """
    der = ssl_object.getpeercert(binary_form=True)
    return ClientCertificate.from_der(der) if der else None


def _check_mqtt_string(value: str, what: str) -> None:
    """Refuse what an MQTT UTF-8 string must not hold (and what logs and ACLs trip over)."""
    if not value:
        raise CertificateIdentityError(f"the {what} is empty")
    if len(value.encode("utf-8", "surrogatepass")) > _MAX_MQTT_STRING:
        raise CertificateIdentityError(f"the {what} is longer than an MQTT string may be")
    for char in value:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            raise CertificateIdentityError(f"the {what} holds control character U+{code:04X}")
        if code & 0xFFFE == 0xFFFE or 0xFDD0 <= code <= 0xFDEF:
            raise CertificateIdentityError(f"the {what} holds non-character U+{code:04X}")


def username_from_certificate(
    certificate: ClientCertificate | None,
    *,
    use_identity_as_username: bool,
    use_subject_as_username: bool,
) -> str | None:
    """The username a listener's settings derive from the client certificate.

    When either option is set, the CONNECT username and password are ignored (mosquitto
    does the same) and this is the only identity; it cannot be overridden by the client.

    Args:
        certificate: the verified peer certificate, or None if the client sent none.
        use_identity_as_username: take the subject CN (mosquitto's option of that name).
        use_subject_as_username: take the whole subject, as :attr:`ClientCertificate.subject`.

    Returns:
        The username, or None when neither option is set (use the CONNECT username).

    Raises:
        CertificateIdentityError: an option is set but there is no certificate, no CN,
            several CNs (mosquitto takes the first; we refuse the ambiguity), or the value is
            not a valid MQTT string.
    """
    if not (use_identity_as_username or use_subject_as_username):
        return None
    if certificate is None:
        raise CertificateIdentityError(
            "the listener takes the username from a certificate, and none was sent"
        )
    if use_identity_as_username:
        cns = certificate.common_names
        if not cns:
            raise CertificateIdentityError("the certificate subject has no CN")
        if len(cns) > 1:
            raise CertificateIdentityError(f"the certificate subject has {len(cns)} CNs")
        _check_mqtt_string(cns[0], "certificate CN")
        return cns[0]
    _check_mqtt_string(certificate.subject, "certificate subject")
    return certificate.subject
