"""What broker plugins see and return: immutable client, connect and message views.

A plugin is any object built by a factory named in ``broker.toml``; it implements some of
these hooks (each may be a plain or an ``async`` method)::

    authenticate(connect: ConnectInfo) -> AuthResult | bool | None
    authorize_publish(client: ClientInfo, message: PluginMessage) -> bool | None
    authorize_subscribe(client: ClientInfo, topic_filter: str, qos: int) -> bool | None
    on_message(client: ClientInfo, message: PluginMessage) -> PluginMessage | None
    close() -> None

``None`` from ``authenticate`` or an ``authorize_*`` hook means "no opinion"; from
``on_message`` it means "drop the message". See :mod:`.plugins` for how several plugins
combine. Everything passed in is immutable: a plugin changes a message by returning a new
one (``message.replace(payload=...)``), never by mutating shared broker state.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Protocol

from ..protocol import NO_PROPERTIES, Properties, ProtocolVersion
from .identity import ClientCertificate

__all__ = [
    "AuthResult",
    "ClientInfo",
    "ConnectInfo",
    "Decision",
    "PluginMessage",
    "PluginProtocol",
]

_MAX_MQTT_STRING = 65535


class Decision(enum.Enum):
    """A plugin's answer to an authentication or authorization question."""

    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """An authentication answer with details for the CONNACK and the log.

    Attributes:
        decision: allow, deny, or no opinion (leave it to the broker's own checks).
        reason_code: an MQTT 5.0 CONNACK reason code for a denial (e.g. 0x8A Banned); the
            broker maps it to 3.1.1 (0x04 for 0x86, else 0x05). None: 0x87 / 0x05.
        reason: why, for the broker log (never sent to the client, never a secret).
    """

    decision: Decision
    reason_code: int | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        """A denial code must be a failure code; an allowed result carries none."""
        if self.reason_code is not None and (
            self.decision is not Decision.DENY or not 0x80 <= self.reason_code <= 0xFF
        ):
            raise ValueError("reason_code is only for a DENY and must be 0x80..0xFF")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A connected (or connecting) client as hooks see it.

    Attributes:
        client_id: the client identifier in use (assigned one, if the broker assigned it).
        username: the username the broker authenticates: the certificate CN/subject on a
            listener with ``use_identity_as_username``/``use_subject_as_username``, else the
            CONNECT username; None for none.
        protocol_version: MQTT 3.1.1 or 5.0.
        peer_address: (host, port) of the client's socket, or None if unknown.
        listener: the listener's name from ``broker.toml``.
        certificate: the verified TLS client certificate, or None.
    """

    client_id: str
    username: str | None
    protocol_version: ProtocolVersion
    peer_address: tuple[str, int] | None
    listener: str
    certificate: ClientCertificate | None = None


@dataclass(frozen=True, slots=True)
class ConnectInfo:
    """A CONNECT being authenticated.

    Attributes:
        client: who connects (``client.username`` as described on :class:`ClientInfo`).
        password: the CONNECT password bytes, or None. Never log it.
        clean_start: the Clean Start (3.1.1: Clean Session) flag.
        properties: the CONNECT properties (5.0), empty for 3.1.1.
    """

    client: ClientInfo
    password: bytes | None
    clean_start: bool
    properties: Properties = NO_PROPERTIES

    def __repr__(self) -> str:
        """Keep the password out of logs and tracebacks."""
        hidden = None if self.password is None else "<hidden>"
        return f"ConnectInfo(client={self.client!r}, password={hidden}, clean_start={self.clean_start})"


def check_topic_name(topic: str) -> None:
    """Raise ValueError unless *topic* is a valid PUBLISH topic name [MQTT-4.7.3]."""
    if not isinstance(topic, str) or not topic:
        raise ValueError("a topic name is a non-empty string")
    if "+" in topic or "#" in topic:
        raise ValueError(f"a topic name has no wildcards: {topic!r}")
    if "\x00" in topic or len(topic.encode("utf-8", "strict")) > _MAX_MQTT_STRING:
        raise ValueError("a topic name has no U+0000 and fits an MQTT string")


@dataclass(frozen=True, slots=True)
class PluginMessage:
    """An application message as ``authorize_publish`` and ``on_message`` see it.

    Attributes:
        topic: the topic name (aliases resolved).
        payload: the payload bytes.
        qos: 0, 1 or 2.
        retain: the RETAIN flag.
        user_properties: MQTT 5.0 user properties, in order (empty from 3.1.1 clients; a
            3.1.1 subscriber never receives them).
        will: True when this is a client's will message.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    user_properties: tuple[tuple[str, str], ...] = ()
    will: bool = False

    def __post_init__(self) -> None:
        """Refuse what the broker could not forward: a plugin's bug must not reach the wire."""
        check_topic_name(self.topic)
        if not isinstance(self.payload, bytes):
            raise TypeError("payload must be bytes")
        if self.qos not in (0, 1, 2) or not isinstance(self.retain, bool):
            raise ValueError("qos must be 0, 1 or 2 and retain a bool")
        for pair in self.user_properties:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not all(isinstance(s, str) and "\x00" not in s for s in pair)
            ):
                raise ValueError("user properties are (str, str) pairs without U+0000")

    def replace(self, **changes: Any) -> PluginMessage:
        """A copy with *changes* applied (validated like a new message)."""
        return dataclasses.replace(self, **changes)

    def with_user_property(self, name: str, value: str) -> PluginMessage:
        """A copy with one more user property appended."""
        return self.replace(user_properties=(*self.user_properties, (name, value)))

    def user_property(self, name: str) -> list[str]:
        """Every value of user property *name*, in order."""
        return [value for key, value in self.user_properties if key == name]


class PluginProtocol(Protocol):
    """Documentation of the hook signatures; a plugin implements any subset.

    It is not a base class to inherit from: the loader looks the hooks up by name.
    """

    def authenticate(self, connect: ConnectInfo) -> AuthResult | bool | None: ...

    def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool | None: ...

    def authorize_subscribe(
        self, client: ClientInfo, topic_filter: str, qos: int
    ) -> bool | None: ...

    def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage | None: ...
