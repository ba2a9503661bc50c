"""Plumbing every scenario family shares: fresh names, the profile's password users, and
packets built by hand.

Hand-built packets exist because a security suite must send what a well-behaved encoder
refuses to produce: ill-formed UTF-8, U+0000, a password without a username under 3.1.1,
another protocol name, reserved bits set, an empty topic. Everything a valid packet can
express is sent through the project's codec or paho instead.
"""

from __future__ import annotations

import time
import uuid

from mqttsec.fixtures.clients import ClientError, Received
from mqttsec.fixtures.expect import Publisher, SentinelLost, Subscriber
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.reference_broker.protocol.primitives import encode_vbi

__all__ = [
    "PROBE_CLIENT_ID",
    "answer_bytes",
    "connect_bytes",
    "delivers_fresh",
    "password_users",
    "publish_bytes",
    "read_until_sentinel",
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
    level: int | None = None,
    reserved: bool = False,
    will: tuple[bytes, bytes] | None = None,
    will_bits: int = 0,
) -> bytes:
    """A CONNECT built byte by byte; under 5.0 without properties (nor will properties).

    It can carry ill-formed UTF-8 and U+0000 in the credentials, a password without a
    username, another protocol *name* or *level*, the *reserved* flag bit set, and will
    flag bits that contradict each other: *will* is (topic, payload) and sets the Will Flag;
    *will_bits* is or-ed into the flags as is (Will QoS 0x08/0x10, Will Retain 0x20). A
    fresh client id is used when none is given.
    """
    user = username.encode() if isinstance(username, str) else username
    secret = password.encode() if isinstance(password, str) else password
    flags = (0x02 if clean else 0) | (0x01 if reserved else 0) | (0x04 if will else 0)
    flags |= (0x80 if user is not None else 0) | (0x40 if secret is not None else 0)
    flags |= will_bits
    protocol_level = int(version) if level is None else level
    body = string(name) + bytes([protocol_level, flags]) + keep_alive.to_bytes(2, "big")
    if version is ProtocolVersion.V5:
        body += b"\x00"  # property length 0
    body += string(unique().encode() if client_id is None else client_id)
    if will is not None:
        body += (b"\x00" if version is ProtocolVersion.V5 else b"") + string(will[0])
        body += string(will[1])
    if user is not None:
        body += string(user)
    if secret is not None:
        body += string(secret)
    return b"\x10" + remaining_length(len(body)) + body


def publish_bytes(
    version: ProtocolVersion,
    topic: bytes,
    payload: bytes,
    *,
    qos: int = 0,
    packet_id: int = 1,
    properties: bytes = b"",
) -> bytes:
    """A PUBLISH built by hand, so that the topic can be empty or ill-formed UTF-8, the QoS
    3, the packet id 0, and the 5.0 *properties* (encoded property bytes, without their
    length) anything at all.

    Without *properties* a 5.0 PUBLISH has none: in particular no Topic Alias, so an empty
    topic is a protocol error rather than an alias lookup.
    """
    body = string(topic) + (packet_id.to_bytes(2, "big") if qos else b"")
    if version is ProtocolVersion.V5:
        body += remaining_length(len(properties)) + properties
    body += payload
    return bytes([0x30 | (qos << 1)]) + remaining_length(len(body)) + body


def answer_bytes(raw: RawClient, wait: float) -> tuple[bytes, bool]:
    """What the broker sends on *raw*, as bytes, and whether it then closed the connection.

    For answers no version-bound decoder can be trusted with: a broker that does not know a
    CONNECT's protocol level answers in a format of its choosing (a 3.1.1 CONNACK to a
    level-6 CONNECT is as likely as a 5.0 one). Reads until the broker closes, *wait*
    seconds pass, or an accepting CONNACK is complete (there is no close to wait for then).
    """
    deadline = time.monotonic() + wait
    data = b""
    while (remaining := deadline - time.monotonic()) > 0:
        raw.sock.settimeout(remaining)
        try:
            chunk = raw.sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            chunk = b""
        if not chunk:
            return data, True
        data += chunk
        if len(data) >= 4 and data[0] == 0x20 and data[3] == 0:
            break  # accepted: no close to wait for
    return data, False


def read_until_sentinel(
    subscriber: Subscriber, token: bytes, forbidden: bytes, *, leak: str, lost: str
) -> None:
    """Read *subscriber*'s messages until the one carrying *token*; none before it may
    carry *forbidden* (the sentinel method, for a sentinel already published).

    Raises:
        AssertionError: *forbidden* arrived (``LEAK: <leak>``).
        SentinelLost: *token* never came (*lost*, and what came instead), so nothing is
            proven.
    """
    seen: list[Received] = []
    while True:
        try:
            message = subscriber.next_message()
        except TimeoutError:
            raise SentinelLost(f"{lost}; seen {seen!r}") from None
        assert message.payload != forbidden, f"LEAK: {leak}"
        if message.payload == token:
            return
        seen.append(message)


def delivers_fresh(
    client: RawClient, writer: Publisher, topic: str, forbidden: bytes | None = None
) -> bool:
    """Whether *client* still receives anything: it subscribes to *topic* itself, *writer*
    publishes a fresh sentinel there, and every message up to it is read (none may carry
    *forbidden*).

    For a sentinel lost on a resumed session: if this one arrives, the connection works, so
    the first was lost because the session held no subscription for it (nothing was
    inherited); if it does not, the broker delivers nothing on this connection at all.

    Raises:
        AssertionError: *forbidden* arrived after all (``LEAK``).
    """
    try:
        granted = client.subscribe(topic).reason_codes[0]
    except (TimeoutError, ClientError):
        return False
    if int(granted) >= 0x80:
        return False
    token = unique("mqttsec-fresh-sentinel").encode()
    writer.publish(topic, token, qos=1)
    while True:
        try:
            message = client.next_message()
        except (TimeoutError, ClientError):
            return False
        leaked = forbidden is not None and message.payload == forbidden
        assert not leaked, f"LEAK: {forbidden!r} arrived on {message.topic!r}"
        if message.payload == token:
            return True
