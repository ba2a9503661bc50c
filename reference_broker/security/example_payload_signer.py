"""Example plugin: the broker signs every message it distributes (Ed25519); subscribers verify.

A subscriber that trusts the broker's public key learns that a message went through the
broker unchanged, on the topic it arrives on (the topic is signed too, so a signed payload
cannot be replayed onto another topic). Replays on the same topic are not prevented.

Two formats, chosen by the ``format`` option because ``on_message`` runs once per message,
not per subscriber:

* ``"user-property"`` (default, MQTT 5.0 subscribers): the payload is unchanged; user
  properties ``mqttsec-key-id`` and ``mqttsec-signature`` (base64) are added, after removing
  any a client sent itself. 3.1.1 subscribers receive no properties: use the envelope.
* ``"envelope"`` (any subscriber, also 3.1.1): the payload is replaced by the UTF-8 JSON
  object ``{"mqttsec-signed": 1, "key_id": ..., "signature": <base64>, "payload": <base64>}``.

The signature is Ed25519 over ``b"mqttsec-signature-v1\\x00" + len(topic) (2 bytes, big
endian) + topic (UTF-8) + payload``. :func:`verify_signed_message` checks either format.

``broker.toml``::

    [[plugins]]
    path = "mqttsec.reference_broker.security.example_payload_signer:PayloadSigner"
    options = { private_key_file = "/etc/mqttsec/signing.key", format = "envelope" }
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mqttsec.errors import MQTTSecError

from .plugin_api import ClientInfo, PluginMessage

__all__ = [
    "KEY_ID_PROPERTY",
    "SIGNATURE_PROPERTY",
    "PayloadSigner",
    "SignatureError",
    "key_id_of",
    "verify_signed_message",
]

SIGNATURE_PROPERTY = "mqttsec-signature"
KEY_ID_PROPERTY = "mqttsec-key-id"
ENVELOPE_MARKER = "mqttsec-signed"
_DOMAIN = b"mqttsec-signature-v1\x00"
_FORMATS = ("user-property", "envelope")


class SignatureError(MQTTSecError):
    """A message is unsigned, malformed, signed by an unknown key, or its signature is wrong."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The default key id: the first 16 hex digits of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_bytes(topic: str, payload: bytes) -> bytes:
    encoded = topic.encode("utf-8")
    return _DOMAIN + len(encoded).to_bytes(2, "big") + encoded + payload


class PayloadSigner:
    """Signs every message in ``on_message``.

    Options:
        private_key_file: PEM (PKCS#8, unencrypted) Ed25519 private key. Keep it 0600.
        private_key_pem: the same key inline (for tests); exactly one of the two.
        key_id: the id subscribers look the public key up by (default :func:`key_id_of`).
        format: ``"user-property"`` or ``"envelope"`` (see the module docstring).
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Load the key and check the options (a problem stops broker start-up)."""
        unknown = set(options) - {"private_key_file", "private_key_pem", "key_id", "format"}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        if ("private_key_file" in options) == ("private_key_pem" in options):
            raise ValueError("give exactly one of private_key_file and private_key_pem")
        if "private_key_file" in options:
            pem = Path(options["private_key_file"]).read_bytes()
        else:
            pem = str(options["private_key_pem"]).encode()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("the signing key must be an Ed25519 private key")
        self._key = key
        self.public_key = key.public_key()
        self.key_id = str(options.get("key_id") or key_id_of(self.public_key))
        self.format = options.get("format", "user-property")
        if self.format not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}")

    def sign(self, topic: str, payload: bytes) -> bytes:
        """The raw 64-byte signature of *payload* on *topic*."""
        return self._key.sign(_signed_bytes(topic, payload))

    def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage:
        """Return the message signed in the configured format."""
        signature = base64.b64encode(self.sign(message.topic, message.payload)).decode("ascii")
        if self.format == "envelope":
            envelope = {
                ENVELOPE_MARKER: 1,
                "key_id": self.key_id,
                "signature": signature,
                "payload": base64.b64encode(message.payload).decode("ascii"),
            }
            return message.replace(payload=json.dumps(envelope, separators=(",", ":")).encode())
        kept = tuple(
            (name, value)
            for name, value in message.user_properties
            if name not in (SIGNATURE_PROPERTY, KEY_ID_PROPERTY)  # a client cannot pre-sign
        )
        return message.replace(
            user_properties=(*kept, (KEY_ID_PROPERTY, self.key_id), (SIGNATURE_PROPERTY, signature))
        )


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise SignatureError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


def _verify(
    keys: Mapping[str, Ed25519PublicKey], key_id: str, signature: bytes, topic: str, payload: bytes
) -> None:
    key = keys.get(key_id)
    if key is None:
        raise SignatureError(f"signed with unknown key id {key_id!r}")
    try:
        key.verify(signature, _signed_bytes(topic, payload))
    except InvalidSignature as exc:
        raise SignatureError(f"bad signature on {topic!r}") from exc


def verify_signed_message(
    topic: str,
    payload: bytes,
    user_properties: Iterable[tuple[str, str]] = (),
    *,
    keys: Mapping[str, Ed25519PublicKey],
) -> bytes:
    """Check a received message signed by :class:`PayloadSigner`; return the original payload.

    Args:
        topic: the topic the message arrived on.
        payload: the payload as received.
        user_properties: the message's user properties (5.0), if any.
        keys: trusted broker public keys by key id.

    Returns:
        The payload the publisher sent (the envelope's inner payload, or *payload*).

    Raises:
        SignatureError: unsigned, ambiguous (several signatures), unknown key or bad signature.
    """
    properties = list(user_properties)
    signatures = [v for k, v in properties if k == SIGNATURE_PROPERTY]
    key_ids = [v for k, v in properties if k == KEY_ID_PROPERTY]
    if signatures or key_ids:
        if len(signatures) != 1 or len(key_ids) != 1:
            raise SignatureError("expected exactly one signature and one key id property")
        _verify(keys, key_ids[0], _b64(signatures[0], "signature"), topic, payload)
        return payload
    try:
        envelope = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(
            "the message is not signed (no signature property, no envelope)"
        ) from exc
    if not isinstance(envelope, dict) or envelope.get(ENVELOPE_MARKER) != 1:
        raise SignatureError("the message is not signed (no signature property, no envelope)")
    key_id = envelope.get("key_id")
    if not isinstance(key_id, str):
        raise SignatureError("the envelope has no key id")
    inner = _b64(envelope.get("payload"), "envelope payload")
    _verify(keys, key_id, _b64(envelope.get("signature"), "signature"), topic, inner)
    return inner
