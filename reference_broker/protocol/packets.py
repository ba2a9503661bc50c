"""One immutable class per MQTT control packet, named as in the specification.

Packets carry only what is on the wire. Session state (inflight windows, acknowledgement
progress, aliases in force) belongs to the session, never to a packet. A field that only
exists in MQTT 5.0 (properties, reason codes) is ignored when encoding for 3.1.1 and takes its
default when decoding 3.1.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from .enums import ConnectReturnCode, PacketType, ProtocolVersion, QoS, ReasonCode, RetainHandling
from .properties import NO_PROPERTIES, Properties

__all__ = [
    "Will",
    "Subscription",
    "Connect",
    "Connack",
    "Publish",
    "Puback",
    "Pubrec",
    "Pubrel",
    "Pubcomp",
    "Subscribe",
    "Suback",
    "Unsubscribe",
    "Unsuback",
    "Pingreq",
    "Pingresp",
    "Disconnect",
    "Auth",
    "Packet",
]

_frozen = dataclass(frozen=True, slots=True)


@_frozen
class Will:
    """The will message carried in CONNECT (MQTT 5.0 section 3.1.3.2)."""

    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@_frozen
class Subscription:
    """One topic filter of SUBSCRIBE with its options (MQTT 5.0 section 3.8.3.1)."""

    topic_filter: str
    qos: QoS = QoS.AT_MOST_ONCE
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE


@_frozen
class Connect:
    type: ClassVar[PacketType] = PacketType.CONNECT
    client_id: str = ""
    protocol_version: ProtocolVersion = ProtocolVersion.V5
    clean_start: bool = True
    keep_alive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = NO_PROPERTIES
    protocol_name: str = "MQTT"


@_frozen
class Connack:
    type: ClassVar[PacketType] = PacketType.CONNACK
    reason_code: ReasonCode | ConnectReturnCode = ReasonCode.SUCCESS
    session_present: bool = False
    properties: Properties = NO_PROPERTIES


@_frozen
class Publish:
    type: ClassVar[PacketType] = PacketType.PUBLISH
    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = NO_PROPERTIES


@_frozen
class Puback:
    type: ClassVar[PacketType] = PacketType.PUBACK
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@_frozen
class Pubrec:
    type: ClassVar[PacketType] = PacketType.PUBREC
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@_frozen
class Pubrel:
    type: ClassVar[PacketType] = PacketType.PUBREL
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@_frozen
class Pubcomp:
    type: ClassVar[PacketType] = PacketType.PUBCOMP
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@_frozen
class Subscribe:
    type: ClassVar[PacketType] = PacketType.SUBSCRIBE
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES


@_frozen
class Suback:
    """SUBACK; in 3.1.1 the return codes are ReasonCode GRANTED_QOS_0..2 or UNSPECIFIED_ERROR."""

    type: ClassVar[PacketType] = PacketType.SUBACK
    packet_id: int
    reason_codes: tuple[ReasonCode, ...]
    properties: Properties = NO_PROPERTIES


@_frozen
class Unsubscribe:
    type: ClassVar[PacketType] = PacketType.UNSUBSCRIBE
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES


@_frozen
class Unsuback:
    """UNSUBACK; 3.1.1 has no reason codes, so ``reason_codes`` is empty there."""

    type: ClassVar[PacketType] = PacketType.UNSUBACK
    packet_id: int
    reason_codes: tuple[ReasonCode, ...] = ()
    properties: Properties = NO_PROPERTIES


@_frozen
class Pingreq:
    type: ClassVar[PacketType] = PacketType.PINGREQ


@_frozen
class Pingresp:
    type: ClassVar[PacketType] = PacketType.PINGRESP


@_frozen
class Disconnect:
    type: ClassVar[PacketType] = PacketType.DISCONNECT
    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    properties: Properties = NO_PROPERTIES


@_frozen
class Auth:
    """AUTH exists in MQTT 5.0 only (enhanced authentication, section 4.12)."""

    type: ClassVar[PacketType] = PacketType.AUTH
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


Packet = Union[
    Connect,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Pingreq,
    Pingresp,
    Disconnect,
    Auth,
]

