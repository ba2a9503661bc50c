"""Sans-IO MQTT 3.1.1 and 5.0 codec: bytes in, packet objects out, and back.

Nothing in this package touches a socket, a clock or an event loop.
"""

from .enums import ConnectReturnCode, PacketType, ProtocolVersion, QoS, ReasonCode, RetainHandling
from .errors import (
    MalformedPacket,
    PacketTooLarge,
    ProtocolError,
    ProtocolViolation,
    UnsupportedProtocolVersion,
)
from .packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from .properties import NO_PROPERTIES, Properties, PropertyId

__all__ = [
    "Auth",
    "Connack",
    "Connect",
    "ConnectReturnCode",
    "Disconnect",
    "MalformedPacket",
    "NO_PROPERTIES",
    "Packet",
    "PacketTooLarge",
    "PacketType",
    "Pingreq",
    "Pingresp",
    "Properties",
    "PropertyId",
    "ProtocolError",
    "ProtocolVersion",
    "ProtocolViolation",
    "Puback",
    "Pubcomp",
    "Publish",
    "Pubrec",
    "Pubrel",
    "QoS",
    "ReasonCode",
    "RetainHandling",
    "Suback",
    "Subscribe",
    "Subscription",
    "Unsuback",
    "Unsubscribe",
    "UnsupportedProtocolVersion",
    "Will",
]
