"""Client certificate identity: OpenSSL-exact subject strings and the username rules."""

from __future__ import annotations

import datetime
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from mqttsec.reference_broker.security.identity import (
    CertificateIdentityError,
    ClientCertificate,
    username_from_certificate,
)

KEY = ec.generate_private_key(ec.SECP256R1())
A = x509.NameAttribute


def make_cert(name: x509.Name, san: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([A(NameOID.COMMON_NAME, "Issuer CA")]))
        .public_key(KEY.public_key())
        .serial_number(4242)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(KEY, hashes.SHA256())


def parsed(cert: x509.Certificate) -> ClientCertificate:
    return ClientCertificate.from_der(cert.public_bytes(serialization.Encoding.DER))


NAMES = {
    "specials": x509.Name(
        [
            A(NameOID.COUNTRY_NAME, "DE"),
            A(NameOID.ORGANIZATION_NAME, 'Ex, Inc+;"<>\\'),
            A(NameOID.COMMON_NAME, "#dev 1 "),
        ]
    ),
    "utf8": x509.Name(
        [A(NameOID.COMMON_NAME, "Jos\u00e9 \u20ac \U0001f600"), A(NameOID.EMAIL_ADDRESS, "a@b.c")]
    ),
    "multi-valued": x509.Name(
        [
            x509.RelativeDistinguishedName(
                [A(NameOID.COMMON_NAME, "a"), A(NameOID.ORGANIZATIONAL_UNIT_NAME, "b")]
            ),
            x509.RelativeDistinguishedName([A(NameOID.DOMAIN_COMPONENT, "org")]),
        ]
    ),
    "unknown-oid-and-controls": x509.Name(
        [A(x509.ObjectIdentifier("1.2.3.4.5"), "weird"), A(NameOID.COMMON_NAME, "ctl\x01\x7f=x")]
    ),
    "string-types": x509.Name(
        [
            A(NameOID.COMMON_NAME, "bmp\u00e9", _type=_ASN1Type.BMPString),
            A(NameOID.ORGANIZATION_NAME, "t61", _type=_ASN1Type.T61String),
            A(NameOID.ORGANIZATIONAL_UNIT_NAME, "u\u00e9", _type=_ASN1Type.UniversalString),
        ]
    ),
    "leading-space": x509.Name([A(NameOID.COMMON_NAME, " lead")]),
}


@pytest.mark.parametrize("key", sorted(NAMES))
def test_subject_matches_openssl_rfc2253_printer(key: str) -> None:
    """mosquitto's use_subject_as_username string is X509_NAME_print_ex(XN_FLAG_RFC2253)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    cert = make_cert(NAMES[key])
    out = (
        subprocess.run(
            [openssl, "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
            input=cert.public_bytes(serialization.Encoding.PEM),
            capture_output=True,
            check=True,
            timeout=10,
        )
        .stdout.decode()
        .strip()
    )
    assert out.startswith("subject=")
    assert parsed(cert).subject == out.removeprefix("subject=")


def test_fields() -> None:
    import ipaddress

    cert = parsed(
        make_cert(
            x509.Name(
                [A(NameOID.ORGANIZATIONAL_UNIT_NAME, "fleet"), A(NameOID.COMMON_NAME, "dev1")]
            ),
            [
                x509.DNSName("dev1.example"),
                x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                x509.RFC822Name("d@example.com"),
                x509.UniformResourceIdentifier("spiffe://x/dev1"),
            ],
        )
    )
    assert cert.subject == "CN=dev1,OU=fleet" and cert.issuer == "CN=Issuer CA"
    assert cert.common_name == "dev1" and cert.organizational_units == ("fleet",)
    assert cert.dns_names == ("dev1.example",) and cert.ip_addresses == ("10.0.0.1",)
    assert cert.emails == ("d@example.com",) and cert.uris == ("spiffe://x/dev1",)
    assert cert.serial_number == 4242 and len(cert.fingerprint_sha256) == 64


def username(cert: ClientCertificate | None, identity: bool = True) -> str | None:
    return username_from_certificate(
        cert, use_identity_as_username=identity, use_subject_as_username=not identity
    )


def test_usernames() -> None:
    cert = parsed(
        make_cert(x509.Name([A(NameOID.COMMON_NAME, "dev1"), A(NameOID.ORGANIZATION_NAME, "O")]))
    )
    assert username(cert) == "dev1"
    assert username(cert, identity=False) == "O=O,CN=dev1"
    neither = username_from_certificate(
        cert, use_identity_as_username=False, use_subject_as_username=False
    )
    assert neither is None


@pytest.mark.parametrize(
    ("name", "identity", "reason"),
    [
        (x509.Name([A(NameOID.ORGANIZATION_NAME, "no cn")]), True, "no CN"),
        (
            x509.Name([A(NameOID.COMMON_NAME, "admin"), A(NameOID.COMMON_NAME, "dev1")]),
            True,
            "2 CNs",
        ),
        (x509.Name([A(NameOID.COMMON_NAME, "dev\x001")]), True, "control character"),
        (x509.Name([A(NameOID.COMMON_NAME, "dev\u00851")]), True, "control character"),
        (x509.Name([A(NameOID.COMMON_NAME, "x\ufffe")]), True, "non-character"),
        (x509.Name([]), False, "empty"),
    ],
)
def test_certificates_without_a_usable_identity_are_refused(
    name: x509.Name, identity: bool, reason: str
) -> None:
    with pytest.raises(CertificateIdentityError, match=reason):
        username(parsed(make_cert(name)), identity)


def test_no_certificate_is_refused_not_anonymous() -> None:
    for identity in (True, False):
        with pytest.raises(CertificateIdentityError, match="none was sent"):
            username(None, identity)
