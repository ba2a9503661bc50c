"""The connection state machine of the broker: every legal transition in one table.

A connection starts AWAITING_CONNECT, where CONNECT is the only packet accepted
[MQTT-3.1.0-1]; after a successful CONNACK it is CONNECTED, where a second CONNECT is a
protocol violation [MQTT-3.1.0-2]; CLOSED is final, and bytes arriving then are ignored.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from .protocol import PacketType

__all__ = ["ACCEPTED_PACKETS", "TRANSITIONS", "ConnectionState", "check_transition"]


class ConnectionState(Enum):
    AWAITING_CONNECT = "awaiting CONNECT"
    CONNECTED = "connected"
    CLOSED = "closed"


TRANSITIONS: Final[dict[ConnectionState, frozenset[ConnectionState]]] = {
    ConnectionState.AWAITING_CONNECT: frozenset(
        {ConnectionState.CONNECTED, ConnectionState.CLOSED}
    ),
    ConnectionState.CONNECTED: frozenset({ConnectionState.CLOSED}),
    ConnectionState.CLOSED: frozenset(),
}
"""state -> the states it may move to."""

_P = PacketType

ACCEPTED_PACKETS: Final[dict[ConnectionState, frozenset[PacketType]]] = {
    ConnectionState.AWAITING_CONNECT: frozenset({_P.CONNECT}),
    ConnectionState.CONNECTED: frozenset(
        {
            _P.PUBLISH,
            _P.PUBACK,
            _P.PUBREC,
            _P.PUBREL,
            _P.PUBCOMP,
            _P.SUBSCRIBE,
            _P.UNSUBSCRIBE,
            _P.PINGREQ,
            _P.DISCONNECT,
            _P.AUTH,
        }
    ),
    ConnectionState.CLOSED: frozenset(),
}
"""state -> the client packet types handled in it; anything else closes the connection."""


def check_transition(current: ConnectionState, new: ConnectionState) -> None:
    """Raise RuntimeError (a bug in the broker) on a transition the table does not allow."""
    if new not in TRANSITIONS[current]:
        raise RuntimeError(f"illegal connection state transition {current.name} -> {new.name}")
