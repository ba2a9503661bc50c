"""One immutable class per MQTT control packet, named as in the specification.

Packets carry only what is on the wire. Session state (inflight windows, acknowledgement
progress, aliases in force) belongs to the session, never to a packet. A field that only
exists in MQTT 5.0 (properties, reason codes) is ignored when encoding for 3.1.1 and takes its
default when decoding 3.1.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .enums import ConnectReturnCode, PacketType, ProtocolVersion, QoS, ReasonCode, RetainHandling
from .properties import NO_PROPERTIES, Properties

__all__ = [
    "Auth",
    "Connack",
    "Connect",
    "Disconnect",
    "Packet",
    "Pingreq",
    "Pingresp",
    "Puback",
    "Pubcomp",
    "Publish",
    "Pubrec",
    "Pubrel",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "Will",
]


@dataclass(frozen=True, slots=True)
class Will:
    """The will message carried in CONNECT (MQTT 5.0 section 3.1.3.2)."""

    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Subscription:
    """One topic filter of SUBSCRIBE with its options (MQTT 5.0 section 3.8.3.1)."""

    topic_filter: str
    qos: QoS = QoS.AT_MOST_ONCE
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Connack:
    type: ClassVar[PacketType] = PacketType.CONNACK
    reason_code: ReasonCode | ConnectReturnCode = ReasonCode.SUCCESS
    session_present: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True, init=False)
class Publish:
    """PUBLISH; its ``__init__`` is hand-written because it is built for every message."""

    type: ClassVar[PacketType] = PacketType.PUBLISH
    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = NO_PROPERTIES

    def __init__(
        self,
        topic: str,
        payload: bytes = b"",
        qos: QoS = QoS.AT_MOST_ONCE,
        retain: bool = False,
        dup: bool = False,
        packet_id: int | None = None,
        properties: Properties = NO_PROPERTIES,
    ) -> None:
        # Writing the slots directly is about twice as fast as the frozen dataclass __init__,
        # which goes through object.__setattr__ by name for every field.
        _set_topic(self, topic)
        _set_payload(self, payload)
        _set_qos(self, qos)
        _set_retain(self, retain)
        _set_dup(self, dup)
        _set_packet_id(self, packet_id)
        _set_properties(self, properties)


def _slot_setter(name: str) -> Callable[[Publish, object], None]:
    setter: Callable[[Publish, object], None] = vars(Publish)[name].__set__
    return setter


_set_topic = _slot_setter("topic")
_set_payload = _slot_setter("payload")
_set_qos = _slot_setter("qos")
_set_retain = _slot_setter("retain")
_set_dup = _slot_setter("dup")
_set_packet_id = _slot_setter("packet_id")
_set_properties = _slot_setter("properties")


@dataclass(frozen=True, slots=True)
class Puback:
    type: ClassVar[PacketType] = PacketType.PUBACK
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Pubrec:
    type: ClassVar[PacketType] = PacketType.PUBREC
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Pubrel:
    type: ClassVar[PacketType] = PacketType.PUBREL
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Pubcomp:
    type: ClassVar[PacketType] = PacketType.PUBCOMP
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Subscribe:
    type: ClassVar[PacketType] = PacketType.SUBSCRIBE
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Suback:
    """SUBACK; in 3.1.1 the return codes are ReasonCode GRANTED_QOS_0..2 or UNSPECIFIED_ERROR."""

    type: ClassVar[PacketType] = PacketType.SUBACK
    packet_id: int
    reason_codes: tuple[ReasonCode, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    type: ClassVar[PacketType] = PacketType.UNSUBSCRIBE
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Unsuback:
    """UNSUBACK; 3.1.1 has no reason codes, so ``reason_codes`` is empty there."""

    type: ClassVar[PacketType] = PacketType.UNSUBACK
    packet_id: int
    reason_codes: tuple[ReasonCode, ...] = ()
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Pingreq:
    type: ClassVar[PacketType] = PacketType.PINGREQ


@dataclass(frozen=True, slots=True)
class Pingresp:
    type: ClassVar[PacketType] = PacketType.PINGRESP


@dataclass(frozen=True, slots=True)
class Disconnect:
    type: ClassVar[PacketType] = PacketType.DISCONNECT
    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH exists in MQTT 5.0 only (enhanced authentication, section 4.12)."""

    type: ClassVar[PacketType] = PacketType.AUTH
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


Packet = (
    Connect
    | Connack
    | Publish
    | Puback
    | Pubrec
    | Pubrel
    | Pubcomp
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
    | Auth
)
