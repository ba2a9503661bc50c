"""Plumbing every scenario family shares: fresh names, the profile's password users, and
packets built by hand.

Hand-built packets exist because a security suite must send what a well-behaved encoder
refuses to produce: ill-formed UTF-8, U+0000, a password without a username under 3.1.1,
another protocol name, reserved bits set, an empty topic. Everything a valid packet can
express is sent through the project's codec or paho instead.
"""

from __future__ import annotations

import uuid

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.reference_broker.protocol.primitives import encode_vbi

__all__ = [
    "PROBE_CLIENT_ID",
    "connect_bytes",
    "password_users",
    "publish_bytes",
    "remaining_length",
    "string",
    "unique",
]

PROBE_CLIENT_ID = "mqttsec-probe"
"""The client id ``%c`` rules are evaluated with when a scenario looks for a route: our
clients use random ids, so a topic is only chosen if it does not depend on the client id."""


def unique(prefix: str = "mqttsec") -> str:
    """A name no other test (or earlier run) uses: topics, payloads, client ids."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def password_users(profile: SecurityProfile, listener: str = "plain") -> list[str]:
    """The password users who may connect on *listener*, sorted; unsupported if none."""
    users = sorted(u for u in profile.users if profile.may_connect(u, listener))
    if not users:
        mqttsec_unsupported(f"profile {profile.name!r} has no password user on {listener!r}")
    return users


def string(data: bytes) -> bytes:
    """An MQTT length-prefixed string or binary field, whatever the bytes are."""
    return len(data).to_bytes(2, "big") + data


def remaining_length(size: int) -> bytes:
    """The variable byte integer of a fixed header."""
    return encode_vbi(size, "remaining length")


def connect_bytes(
    version: ProtocolVersion,
    *,
    client_id: bytes | None = None,
    username: bytes | str | None = None,
    password: bytes | str | None = None,
    clean: bool = True,
    keep_alive: int = 30,
    name: bytes = b"MQTT",
    reserved: bool = False,
) -> bytes:
    """A CONNECT built byte by byte, without will and (under 5.0) without properties.

    It can carry ill-formed UTF-8 and U+0000 in the credentials, a password without a
    username, another protocol *name*, or the *reserved* flag bit set. A fresh client id is
    used when none is given.
    """
    user = username.encode() if isinstance(username, str) else username
    secret = password.encode() if isinstance(password, str) else password
    flags = (0x02 if clean else 0) | (0x01 if reserved else 0)
    flags |= (0x80 if user is not None else 0) | (0x40 if secret is not None else 0)
    body = string(name) + bytes([int(version), flags]) + keep_alive.to_bytes(2, "big")
    if version is ProtocolVersion.V5:
        body += b"\x00"  # property length 0
    body += string(unique().encode() if client_id is None else client_id)
    if user is not None:
        body += string(user)
    if secret is not None:
        body += string(secret)
    return b"\x10" + remaining_length(len(body)) + body


def publish_bytes(version: ProtocolVersion, topic: bytes, payload: bytes, *, qos: int = 0) -> bytes:
    """A PUBLISH built by hand, so that the topic can be empty or ill-formed UTF-8.

    QoS 1 and 2 use packet id 1; under 5.0 there are no properties (in particular no Topic
    Alias, so an empty topic is a protocol error rather than an alias lookup).
    """
    body = string(topic) + (b"\x00\x01" if qos else b"")
    if version is ProtocolVersion.V5:
        body += b"\x00"
    body += payload
    return bytes([0x30 | (qos << 1)]) + remaining_length(len(body)) + body
