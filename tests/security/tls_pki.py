"""Test PKI and a sans-IO TLS pair for the TLS tests: everything in memory, per run.

:func:`handshake` passes bytes between a server and a client :class:`ssl.SSLObject` through
memory BIOs, so a handshake needs no socket, thread or sleep, and says which side failed.
"""

from __future__ import annotations

import datetime
import os
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


@dataclass
class Pair:
    """A certificate chain and key written to files."""

    certfile: str
    keyfile: str


def write_leaf(leaf: trustme.LeafCert, directory: Path, name: str) -> Pair:
    """Write *leaf*'s chain and key as ``name.crt`` / ``name.key`` in *directory*."""
    cert = directory / f"{name}.crt"
    key = directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return Pair(str(cert), str(key))


def write_ca(ca: trustme.CA, directory: Path, name: str = "ca") -> str:
    path = directory / f"{name}.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def ca_key_and_cert(ca: trustme.CA) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, x509.load_pem_x509_certificate(ca.cert_pem.bytes())


def make_crl(
    ca: trustme.CA, revoked: list[int], *, next_update: datetime.datetime | None = None
) -> bytes:
    """A PEM CRL from *ca* revoking the given serial numbers."""
    key, cert = ca_key_and_cert(ca)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert.subject)
        .last_update(NOW - DAY)
        .next_update(next_update or NOW + DAY)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - DAY)
            .build()
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def serial_of(leaf: trustme.LeafCert) -> int:
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number


def self_signed(directory: Path, common_name: str = "selfie") -> Pair:
    """A self-signed client certificate (its own CA), written to files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile = directory / f"{common_name}.crt"
    keyfile = directory / f"{common_name}.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pair(str(certfile), str(keyfile))


def client_context(
    server_ca: trustme.CA,
    client: Pair | None = None,
    *,
    maximum: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A client context trusting *server_ca*, optionally presenting *client*."""
    context = ssl.create_default_context(cadata=server_ca.cert_pem.bytes().decode())
    if maximum is not None:
        context.maximum_version = maximum
    if client is not None:
        context.load_cert_chain(client.certfile, client.keyfile)
    return context


@dataclass
class Handshake:
    """The outcome of :func:`handshake`: each side's SSLObject and error (None if it finished)."""

    server: ssl.SSLObject
    client: ssl.SSLObject
    server_error: ssl.SSLError | None
    client_error: ssl.SSLError | None

    @property
    def ok(self) -> bool:
        return self.server_error is None and self.client_error is None


def handshake(
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    server_hostname: str | None = "localhost",
    rounds: int = 20,
) -> Handshake:
    """Run a full handshake in memory; stop at completion or at the first error of a side."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    client = client_context.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    errors: dict[str, ssl.SSLError | None] = {"server": None, "client": None}
    done = {"server": False, "client": False}
    for _ in range(rounds):
        for side, obj in (("client", client), ("server", server)):
            if done[side] or errors[side] is not None:
                continue
            try:
                obj.do_handshake()
                done[side] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                errors[side] = exc
        moved = c_out.pending + s_out.pending
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if not moved and (all(done.values()) or any(errors.values())):
            break
    else:
        raise AssertionError(f"handshake did not settle in {rounds} rounds")
    if done["client"] and errors["server"] is not None:
        # TLS 1.3: the client finishes before the server checks its certificate; the
        # server's alert arrives with the first read.
        try:
            client.read(1)
        except ssl.SSLError as exc:
            errors["client"] = exc
    return Handshake(server, client, errors["server"], errors["client"])


def raw_client_hello(version: int) -> bytes:
    """A minimal ClientHello record offering only *version* (e.g. 0x0301 for TLS 1.0).

    Built by hand because the local OpenSSL (Debian: MinProtocol TLSv1.2) may refuse to
    even send a TLS 1.0/1.1 hello, which would prove nothing about the server.
    """
    ciphers = [0xC02B, 0xC02F, 0xC009, 0xC013, 0x002F, 0x0035]
    groups = struct.pack("!HH", 0x0017, 0x001D)
    algorithms = struct.pack("!HHHH", 0x0403, 0x0804, 0x0401, 0x0503)
    extensions = (
        struct.pack("!HHH", 10, len(groups) + 2, len(groups))
        + groups
        + struct.pack("!HHB", 11, 2, 1)
        + b"\x00"
        + struct.pack("!HHH", 13, len(algorithms) + 2, len(algorithms))
        + algorithms
    )
    body = (
        struct.pack("!H", version)
        + os.urandom(32)
        + b"\x00"
        + struct.pack("!H", 2 * len(ciphers))
        + b"".join(struct.pack("!H", c) for c in ciphers)
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(message)) + message


def server_answer_to(
    server_context: ssl.SSLContext, hello: bytes
) -> tuple[bytes, Exception | None]:
    """What the server writes back to a raw ClientHello, and the error it raised if any."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(hello)
    error: Exception | None = None
    try:
        server.do_handshake()
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError as exc:
        error = exc
    return outgoing.read(), error


def write_file(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def env_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
