"""Distinguished names printed exactly as OpenSSL's ``X509_NAME_print_ex(..., XN_FLAG_RFC2253)``.

mosquitto's ``use_subject_as_username`` takes the username from that function, so an ACL file
written for mosquitto names users like ``CN=dev1,OU=fleet,O=Example``. cryptography's
``Name.rfc4514_string()`` differs from it (non-ASCII kept raw, ``emailAddress`` printed as an
OID, different escaping), so the name is re-printed here from its DER bytes.

The rules reproduced (OpenSSL ``crypto/asn1/a_strex.c``):

* RDNs in reverse order of the DER, separated by ``,``; values of one multi-valued RDN by ``+``
  (also reversed, as OpenSSL walks the flat entry list backwards).
* Attribute names by OpenSSL's short name (``CN``, ``emailAddress``, ...); an OID unknown to
  OpenSSL is printed numerically and its value dumped as ``#`` + the DER in upper-case hex.
* String values as UTF-8 bytes; every byte above 0x7F and every control byte as ``\\XX``;
  ``, + " \\ < > ;`` escaped with a backslash, as are a leading ``#`` or space and a trailing
  space. Values that are not strings are dumped as ``#`` + DER hex.
"""

from __future__ import annotations

import ssl

__all__ = ["der_name_to_openssl_rfc2253", "tbs_subject_and_issuer_der"]

# Universal tags of ASN.1 string types and how OpenSSL reads their bytes.
_ONE_BYTE_TAGS = frozenset({18, 19, 20, 21, 22, 23, 24, 25, 26, 27})  # latin-1 per byte
_UTF8_TAG = 12
_BMP_TAG = 30
_UNIVERSAL_TAG = 28
_BACKSLASH_ESCAPED = frozenset(b',+"\\<>;')


class DerError(ValueError):
    """The bytes are not the DER this module expects (a bug or a corrupt certificate)."""


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """One TLV at *pos*: (tag byte, start of value, end of value, start of TLV)."""
    if pos + 2 > len(data):
        raise DerError("truncated TLV")
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise DerError("DER value runs past its container")
    return tag, start, end, pos


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tlv = _read_tlv(data, pos)
        out.append(tlv)
        pos = tlv[2]
    return out


def tbs_subject_and_issuer_der(tbs: bytes) -> tuple[bytes, bytes]:
    """The DER of (subject, issuer) Names inside a TBSCertificate, exactly as signed."""
    tag, start, end, _ = _read_tlv(tbs, 0)
    if tag != 0x30:
        raise DerError("TBSCertificate is not a SEQUENCE")
    fields = _children(tbs, start, end)
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5:
        raise DerError("TBSCertificate has too few fields")
    issuer, subject = fields[2], fields[4]
    return tbs[subject[3] : subject[2]], tbs[issuer[3] : issuer[2]]


def _short_name(oid_der: bytes) -> str | None:
    dotted = _decode_oid(oid_der)
    try:
        return ssl._ASN1Object(dotted).shortname
    except ValueError:
        return None


def _decode_oid(body: bytes) -> str:
    if not body:
        raise DerError("empty OID")
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(arc) for arc in head + arcs[1:])


def _escape(raw: bytes) -> str:
    out: list[str] = []
    last = len(raw) - 1
    for i, byte in enumerate(raw):
        if byte in _BACKSLASH_ESCAPED or (i == 0 and byte in b"# ") or (i == last and byte == 32):
            out.append("\\" + chr(byte))
        elif byte < 0x20 or byte > 0x7E:
            out.append(f"\\{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _value_text(tag: int, body: bytes, tlv: bytes) -> str:
    if tag == _UTF8_TAG:
        return _escape(body)  # OpenSSL prints UTF8String bytes as they are, then escapes
    if tag in _ONE_BYTE_TAGS:
        return _escape(body.decode("latin-1").encode("utf-8"))
    if tag == _BMP_TAG:
        return _escape(body.decode("utf-16-be").encode("utf-8"))
    if tag == _UNIVERSAL_TAG:
        return _escape(body.decode("utf-32-be").encode("utf-8"))
    return "#" + tlv.hex().upper()


def der_name_to_openssl_rfc2253(name_der: bytes) -> str:
    """Print a DER ``Name`` the way ``X509_NAME_print_ex(XN_FLAG_RFC2253)`` does.

    Args:
        name_der: the DER of an X.501 Name (SEQUENCE OF SET OF AttributeTypeAndValue).

    Returns:
        The string mosquitto uses as username with ``use_subject_as_username``.

    Raises:
        DerError: the bytes are not a DER Name.
    """
    tag, start, end, _ = _read_tlv(name_der, 0)
    if tag != 0x30:
        raise DerError("Name is not a SEQUENCE")
    entries: list[tuple[int, str]] = []  # (RDN index, "type=value"), in DER order
    for index, (set_tag, set_start, set_end, _) in enumerate(_children(name_der, start, end)):
        if set_tag != 0x31:
            raise DerError("RDN is not a SET")
        for atv_tag, atv_start, atv_end, _ in _children(name_der, set_start, set_end):
            if atv_tag != 0x30:
                raise DerError("AttributeTypeAndValue is not a SEQUENCE")
            parts = _children(name_der, atv_start, atv_end)
            if len(parts) != 2 or parts[0][0] != 0x06:
                raise DerError("AttributeTypeAndValue needs an OID and a value")
            (_, oid_start, oid_end, _), (v_tag, v_start, v_end, v_tlv) = parts
            oid_body = name_der[oid_start:oid_end]
            short = _short_name(oid_body)
            tlv = name_der[v_tlv:v_end]
            if short is None:
                text = f"{_decode_oid(oid_body)}=#{tlv.hex().upper()}"
            else:
                text = f"{short}={_value_text(v_tag, name_der[v_start:v_end], tlv)}"
            entries.append((index, text))
    out: list[str] = []
    previous: int | None = None
    for index, text in reversed(entries):
        if previous is not None:
            out.append("+" if index == previous else ",")
        out.append(text)
        previous = index
    return "".join(out)
