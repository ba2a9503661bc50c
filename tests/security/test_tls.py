"""TLS listener contexts: versions, ciphers, mTLS refusals, CRL, SNI, reload, config errors.

Handshakes run in memory (see :mod:`tls_pki`); one test drives the real ``mosquitto_pub``
against a context from :func:`build_server_context`.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trustme
from tls_pki import (
    DAY,
    NOW,
    Pair,
    client_context,
    handshake,
    make_crl,
    raw_client_hello,
    self_signed,
    serial_of,
    server_answer_to,
    write_ca,
    write_file,
    write_leaf,
)

from mqttsec.reference_broker.security.identity import (
    ClientCertificate,
    certificate_from_ssl_object,
    username_from_certificate,
)
from mqttsec.reference_broker.security.tls import (
    CertKeyPair,
    TlsConfigError,
    TlsContextHolder,
    TlsSettings,
    build_server_context,
)


@dataclass
class Pki:
    dir: Path
    server_ca: trustme.CA
    client_ca: trustme.CA
    server: Pair
    client_ca_file: str
    good: Pair
    expired: Pair
    not_yet_valid: Pair
    wrong_ca: Pair
    revoked: Pair
    revoked_serial: int
    selfsigned: Pair
    crl: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    server_ca, client_ca, other_ca = (
        trustme.CA(),
        trustme.CA(organization_name="Clients"),
        trustme.CA(),
    )
    revoked_leaf = client_ca.issue_cert("revoked.example", common_name="revoked")
    return Pki(
        dir=d,
        server_ca=server_ca,
        client_ca=client_ca,
        server=write_leaf(server_ca.issue_cert("localhost", "127.0.0.1"), d, "server"),
        client_ca_file=write_ca(client_ca, d, "client-ca"),
        good=write_leaf(
            client_ca.issue_cert(
                "dev1.example",
                "dev1@example.com",
                common_name="dev1",
                organization_name="Clients",
                organization_unit_name="fleet",
            ),
            d,
            "good",
        ),
        expired=write_leaf(
            client_ca.issue_cert(common_name="old", not_before=NOW - 3 * DAY, not_after=NOW - DAY),
            d,
            "expired",
        ),
        not_yet_valid=write_leaf(
            client_ca.issue_cert(
                common_name="future", not_before=NOW + DAY, not_after=NOW + 3 * DAY
            ),
            d,
            "future",
        ),
        wrong_ca=write_leaf(other_ca.issue_cert(common_name="dev1"), d, "wrong-ca"),
        revoked=write_leaf(revoked_leaf, d, "revoked"),
        revoked_serial=serial_of(revoked_leaf),
        selfsigned=self_signed(d),
        crl=write_file(d / "crl.pem", make_crl(client_ca, [serial_of(revoked_leaf)])),
    )


def tls(pki: Pki, **kw: object) -> TlsSettings:
    return TlsSettings(certfile=pki.server.certfile, keyfile=pki.server.keyfile, **kw)  # type: ignore[arg-type]


def mtls(pki: Pki, **kw: object) -> TlsSettings:
    return tls(pki, cafile=pki.client_ca_file, require_certificate=True, crlfile=pki.crl, **kw)


# --- versions and safe defaults -------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls12_and_tls13_handshakes(pki: Pki, version: ssl.TLSVersion) -> None:
    result = handshake(
        build_server_context(tls(pki)), client_context(pki.server_ca, maximum=version)
    )
    assert result.ok, result
    assert result.server.version() == version.name.replace("_", ".")
    assert certificate_from_ssl_object(result.server) is None  # no client CA: none asked for


def test_minimum_tls13_refuses_tls12_client(pki: Pki) -> None:
    context = build_server_context(tls(pki, tls_version="tlsv1.3"))
    result = handshake(context, client_context(pki.server_ca, maximum=ssl.TLSVersion.TLSv1_2))
    assert result.server_error is not None
    assert "PROTOCOL" in result.server_error.reason.upper()


@pytest.mark.parametrize("version", [0x0301, 0x0302])
def test_tls10_and_tls11_hellos_get_a_protocol_version_alert(pki: Pki, version: int) -> None:
    answer, error = server_answer_to(build_server_context(tls(pki)), raw_client_hello(version))
    assert error is not None
    # An alert record: type 21, level fatal (2), description protocol_version (70).
    assert answer[:1] == b"\x15" and answer[-2:] == b"\x02\x46", answer.hex()


def test_raw_tls12_hello_is_answered_so_the_refusals_above_mean_something(pki: Pki) -> None:
    answer, error = server_answer_to(build_server_context(tls(pki)), raw_client_hello(0x0303))
    assert error is None
    assert answer[:1] == b"\x16" and answer[5] == 2  # handshake record holding a ServerHello
    assert answer[9:11] == b"\x03\x03"


def test_safe_options_and_no_system_cas(pki: Pki) -> None:
    context = build_server_context(mtls(pki))
    for option in (ssl.OP_NO_COMPRESSION, ssl.OP_NO_RENEGOTIATION, ssl.OP_CIPHER_SERVER_PREFERENCE):
        assert context.options & option
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.num_tickets == 0
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1  # only the client CA, never the system store
    assert context.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF


def test_cipher_string_is_applied(pki: Pki) -> None:
    context = build_server_context(tls(pki, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"))
    result = handshake(context, client_context(pki.server_ca, maximum=ssl.TLSVersion.TLSv1_2))
    assert result.ok and result.server.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"  # type: ignore[index]


# --- mTLS --------------------------------------------------------------------------------


def test_good_client_certificate_is_accepted_and_read(pki: Pki) -> None:
    result = handshake(build_server_context(mtls(pki)), client_context(pki.server_ca, pki.good))
    assert result.ok, result
    cert = certificate_from_ssl_object(result.server)
    assert cert is not None
    assert cert.common_name == "dev1" and cert.organizational_units == ("fleet",)
    assert cert.subject == "CN=dev1,OU=fleet,O=Clients"
    assert cert.dns_names == ("dev1.example",) and cert.emails == ("dev1@example.com",)
    der = Path(pki.good.certfile).read_bytes()
    assert (
        cert.fingerprint_sha256
        == hashlib.sha256(ssl.PEM_cert_to_DER_cert(der.decode())).hexdigest()
    )
    assert cert.not_valid_before < NOW < cert.not_valid_after
    assert (
        username_from_certificate(
            cert, use_identity_as_username=True, use_subject_as_username=False
        )
        == "dev1"
    )


@pytest.mark.parametrize("which", ["wrong_ca", "selfsigned", "expired", "not_yet_valid", "revoked"])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_bad_client_certificates_are_refused_in_the_handshake(
    pki: Pki, which: str, version: ssl.TLSVersion
) -> None:
    client = client_context(pki.server_ca, getattr(pki, which), maximum=version)
    result = handshake(build_server_context(mtls(pki)), client)
    assert result.server_error is not None, which
    assert result.client_error is not None, f"{which}: the client never learnt it was refused"
    expected = {
        "wrong_ca": "unable to get local issuer",
        "selfsigned": "self-signed",
        "expired": "expired",
        "not_yet_valid": "not yet valid",
        "revoked": "revoked",
    }[which]
    assert expected in str(result.server_error).lower().replace("self signed", "self-signed")


def test_missing_client_certificate_is_refused(pki: Pki) -> None:
    result = handshake(build_server_context(mtls(pki)), client_context(pki.server_ca))
    assert result.server_error is not None
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(result.server_error).upper().replace(" ", "_")


def test_optional_client_certificate(pki: Pki) -> None:
    settings = tls(pki, cafile=pki.client_ca_file)
    context = build_server_context(settings)
    assert context.verify_mode == ssl.CERT_OPTIONAL
    anonymous = handshake(context, client_context(pki.server_ca))
    assert anonymous.ok and certificate_from_ssl_object(anonymous.server) is None
    with_cert = handshake(context, client_context(pki.server_ca, pki.good))
    assert with_cert.ok and certificate_from_ssl_object(with_cert.server) is not None
    # A certificate that is sent is still verified: a bad one fails the handshake.
    assert handshake(context, client_context(pki.server_ca, pki.wrong_ca)).server_error is not None


# --- SNI -----------------------------------------------------------------------------


def test_sni_picks_the_certificate_for_the_requested_name(pki: Pki) -> None:
    other = write_leaf(pki.server_ca.issue_cert("other.example"), pki.dir, "sni-other")
    context = build_server_context(
        tls(pki, sni={"Other.Example": CertKeyPair(other.certfile, other.keyfile)})
    )
    client = client_context(pki.server_ca)
    named = handshake(context, client, server_hostname="other.example")
    assert named.ok, named
    default = handshake(context, client, server_hostname="localhost")
    assert default.ok, default
    assert named.client.getpeercert(True) != default.client.getpeercert(True)


# --- reload --------------------------------------------------------------------------


def test_reload_takes_new_files_and_keeps_the_old_context_when_they_are_broken(
    pki: Pki, tmp_path: Path
) -> None:
    first = write_leaf(pki.server_ca.issue_cert("localhost"), tmp_path, "live")
    crl = write_file(tmp_path / "crl.pem", make_crl(pki.client_ca, []))
    settings = TlsSettings(
        first.certfile,
        first.keyfile,
        cafile=pki.client_ca_file,
        require_certificate=True,
        crlfile=crl,
    )
    holder = TlsContextHolder(settings)
    assert handshake(holder.context, client_context(pki.server_ca, pki.revoked)).ok
    served = handshake(holder.context, client_context(pki.server_ca, pki.good)).client.getpeercert(
        True
    )

    # Certificate renewal plus a new CRL: new connections see both.
    write_leaf(pki.server_ca.issue_cert("localhost"), tmp_path, "live")
    write_file(tmp_path / "crl.pem", make_crl(pki.client_ca, [pki.revoked_serial]))
    assert holder.reload() is True and holder.last_error is None
    renewed = handshake(holder.context, client_context(pki.server_ca, pki.good))
    assert renewed.ok and renewed.client.getpeercert(True) != served
    assert (
        handshake(holder.context, client_context(pki.server_ca, pki.revoked)).server_error
        is not None
    )

    # Broken files: reload refuses, the working (and still verifying) context stays.
    working = holder.context
    Path(first.keyfile).write_bytes(Path(pki.good.keyfile).read_bytes())  # key of another cert
    assert holder.reload() is False
    assert holder.context is working
    assert holder.last_error is not None and "does not match" in str(holder.last_error)
    assert handshake(holder.context, client_context(pki.server_ca, pki.good)).ok
    assert handshake(holder.context, client_context(pki.server_ca)).server_error is not None
    Path(crl).write_text("garbage")
    assert holder.reload() is False and holder.context is working


# --- configuration errors ----------------------------------------------------------------


def expect_error(settings_or_call: object, *fragments: str) -> TlsConfigError:
    with pytest.raises(TlsConfigError) as info:
        if callable(settings_or_call):
            settings_or_call()
        else:
            assert isinstance(settings_or_call, TlsSettings)
            build_server_context(settings_or_call)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "Fix:" in message
    return info.value


def test_missing_and_unreadable_files(pki: Pki, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.crt")
    expect_error(replace(tls(pki), certfile=missing), missing, "does not exist")
    expect_error(replace(tls(pki), keyfile=missing), missing, "does not exist")
    expect_error(tls(pki, cafile=missing), missing, "does not exist")
    expect_error(tls(pki, cafile=pki.client_ca_file, crlfile=missing), missing, "does not exist")
    if os.geteuid() != 0:  # root reads anything
        locked = Path(write_file(tmp_path / "locked.key", Path(pki.server.keyfile).read_bytes()))
        locked.chmod(0)
        expect_error(replace(tls(pki), keyfile=str(locked)), str(locked), "cannot be read")


def test_key_not_matching_certificate(pki: Pki) -> None:
    error = expect_error(
        replace(tls(pki), keyfile=pki.good.keyfile), pki.good.keyfile, "does not match"
    )
    assert pki.server.certfile in str(error)


def test_encrypted_key_is_refused_without_prompting(pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(pki.server.keyfile).read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = write_file(tmp_path / "enc.key", encrypted)
    expect_error(replace(tls(pki), keyfile=path), path, "encrypted")


def test_bad_ca_and_crl_files(pki: Pki, tmp_path: Path) -> None:
    garbage = write_file(tmp_path / "garbage.pem", b"not a pem\n")
    expect_error(tls(pki, cafile=garbage), garbage, "CA certificate")
    expect_error(tls(pki, cafile=pki.client_ca_file, crlfile=garbage), garbage, "not a CRL")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    crl = x509.load_pem_x509_crl(Path(pki.crl).read_bytes())
    der = write_file(tmp_path / "crl.der", crl.public_bytes(serialization.Encoding.DER))
    expect_error(tls(pki, cafile=pki.client_ca_file, crlfile=der), "DER", "openssl crl")
    foreign = write_file(tmp_path / "foreign.crl", make_crl(pki.server_ca, []))
    expect_error(
        tls(pki, cafile=pki.client_ca_file, crlfile=foreign), "not issued by a CA in cafile"
    )
    stale = write_file(
        tmp_path / "stale.crl", make_crl(pki.client_ca, [], next_update=NOW - DAY / 2)
    )
    expect_error(tls(pki, cafile=pki.client_ca_file, crlfile=stale), "expired")


@pytest.mark.parametrize("version", ["tlsv1", "tlsv1.1", "sslv3", "TLS1.2", ""])
def test_unknown_or_insecure_tls_version(pki: Pki, version: str) -> None:
    expect_error(lambda: tls(pki, tls_version=version), "tls_version", "tlsv1.2 or tlsv1.3")


def test_cipher_strings_that_select_nothing_or_weak_ciphers(pki: Pki) -> None:
    expect_error(tls(pki, ciphers="NO-SUCH-CIPHER"), "selects no cipher")
    expect_error(tls(pki, ciphers="aNULL@SECLEVEL=0"), "ciphers")


def test_inconsistent_settings(pki: Pki) -> None:
    expect_error(lambda: tls(pki, require_certificate=True), "needs a cafile")
    expect_error(lambda: tls(pki, use_identity_as_username=True), "needs a cafile")
    expect_error(lambda: tls(pki, crlfile=pki.crl), "needs a cafile")
    expect_error(
        lambda: mtls(pki, use_identity_as_username=True, use_subject_as_username=True), "choose one"
    )


def test_broken_files_stop_the_holder_at_start(pki: Pki, tmp_path: Path) -> None:
    expect_error(
        lambda: TlsContextHolder(replace(tls(pki), keyfile=pki.good.keyfile)), "does not match"
    )


# --- against real clients ----------------------------------------------------------------


@pytest.mark.mosquitto
def test_mosquitto_pub_with_client_certificate(pki: Pki, mosquitto_tools: dict[str, Path]) -> None:
    """mosquitto_pub's TLS options against our context: good cert in, none refused."""
    from tls_mqtt_server import OneShotTlsServer, run_mosquitto_pub

    ca = write_ca(pki.server_ca, pki.dir, "server-ca")
    context = build_server_context(mtls(pki, use_identity_as_username=True))
    with OneShotTlsServer(context) as server:
        proc = run_mosquitto_pub(
            mosquitto_tools["mosquitto_pub"], server.port, ca, pki.good.certfile, pki.good.keyfile
        )
        outcome = server.result()
    assert proc.returncode == 0, proc.stderr
    assert outcome.error is None and outcome.certificate is not None
    assert outcome.certificate.common_name == "dev1"
    assert outcome.first_bytes[:1] == b"\x10"  # a CONNECT came through the TLS tunnel
    with OneShotTlsServer(context) as server:
        proc = run_mosquitto_pub(mosquitto_tools["mosquitto_pub"], server.port, ca, None, None)
        outcome = server.result()
    assert proc.returncode != 0
    assert outcome.error is not None and outcome.certificate is None


def test_identity_is_the_same_from_pem_and_handshake(pki: Pki) -> None:
    result = handshake(build_server_context(mtls(pki)), client_context(pki.server_ca, pki.good))
    from_handshake = certificate_from_ssl_object(result.server)
    pem = (
        Path(pki.good.certfile).read_text().split("-----END CERTIFICATE-----")[0]
        + "-----END CERTIFICATE-----\n"
    )
    assert from_handshake == ClientCertificate.from_der(ssl.PEM_cert_to_DER_cert(pem))
