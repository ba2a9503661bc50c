"""Which reason codes each packet may carry, and which packets each side may send.

The reason code sets are the tables in MQTT 5.0 sections 3.2.2.2 (CONNACK), 3.4.2.1 (PUBACK),
3.5.2.1 (PUBREC), 3.6.2.1 (PUBREL), 3.7.2.1 (PUBCOMP), 3.9.3 (SUBACK), 3.11.3 (UNSUBACK),
3.14.2.1 (DISCONNECT) and 3.15.2.1 (AUTH); the 3.1.1 SUBACK return codes are 3.1.1 section 3.9.3.
The direction tables follow the "Direction of flow" column of MQTT 5.0 table 2-1.
"""

from __future__ import annotations

from typing import Final

from .enums import PacketType, ProtocolVersion

__all__ = [
    "CLIENT_PACKET_TYPES",
    "REASON_CODES",
    "SERVER_PACKET_TYPES",
    "SUBACK_RETURN_CODES_V311",
]

_P = PacketType

_PUBACK_CODES: Final = frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99})

REASON_CODES: Final[dict[PacketType, frozenset[int]]] = {
    _P.CONNACK: frozenset(
        {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C}
        | {0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}
    ),
    _P.PUBACK: _PUBACK_CODES,
    _P.PUBREC: _PUBACK_CODES,
    _P.PUBREL: frozenset({0x00, 0x92}),
    _P.PUBCOMP: frozenset({0x00, 0x92}),
    _P.SUBACK: frozenset({0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}),
    _P.UNSUBACK: frozenset({0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}),
    _P.DISCONNECT: frozenset(
        {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90}
        | {0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F}
        | {0xA0, 0xA1, 0xA2}
    ),
    _P.AUTH: frozenset({0x00, 0x18, 0x19}),
}
"""MQTT 5.0: the reason code values each packet type may carry."""

SUBACK_RETURN_CODES_V311: Final = frozenset({0x00, 0x01, 0x02, 0x80})
"""MQTT 3.1.1 SUBACK return codes [MQTT-3.9.3-2]."""

_BOTH_WAYS: Final = frozenset({_P.PUBLISH, _P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP})

CLIENT_PACKET_TYPES: Final[dict[ProtocolVersion, frozenset[PacketType]]] = {
    ProtocolVersion.V311: _BOTH_WAYS
    | {_P.CONNECT, _P.SUBSCRIBE, _P.UNSUBSCRIBE, _P.PINGREQ, _P.DISCONNECT},
    ProtocolVersion.V5: _BOTH_WAYS
    | {_P.CONNECT, _P.SUBSCRIBE, _P.UNSUBSCRIBE, _P.PINGREQ, _P.DISCONNECT, _P.AUTH},
}
"""The packet types a client may send (and so a server may receive), per version."""

SERVER_PACKET_TYPES: Final[dict[ProtocolVersion, frozenset[PacketType]]] = {
    ProtocolVersion.V311: _BOTH_WAYS | {_P.CONNACK, _P.SUBACK, _P.UNSUBACK, _P.PINGRESP},
    ProtocolVersion.V5: _BOTH_WAYS
    | {_P.CONNACK, _P.SUBACK, _P.UNSUBACK, _P.PINGRESP, _P.DISCONNECT, _P.AUTH},
}
"""The packet types a server may send (and so a client may receive), per version."""
