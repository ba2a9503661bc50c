"""MQTT 5.0 properties: their identifiers, wire types, where each may appear, and a container.

The table follows MQTT 5.0 section 2.2.2.2. The codec consults it to refuse a property in a
packet that may not carry it, a wrong value, or a property given twice where only
User Property and Subscription Identifier may repeat [MQTT-2.2.2-?].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from .enums import PacketType

__all__ = [
    "NO_PROPERTIES",
    "PROPERTY_SPECS",
    "WILL_PROPERTIES",
    "Properties",
    "PropertyId",
    "PropertySpec",
    "PropertyType",
    "PropertyValue",
]


class PropertyType(Enum):
    """How a property's value is written on the wire (MQTT 5.0 section 1.5)."""

    BYTE = "byte"
    TWO_BYTE_INTEGER = "two byte integer"
    FOUR_BYTE_INTEGER = "four byte integer"
    VARIABLE_BYTE_INTEGER = "variable byte integer"
    UTF8_STRING = "utf-8 encoded string"
    BINARY_DATA = "binary data"
    UTF8_STRING_PAIR = "utf-8 string pair"


class PropertyId(IntEnum):
    PAYLOAD_FORMAT_INDICATOR = 0x01
    MESSAGE_EXPIRY_INTERVAL = 0x02
    CONTENT_TYPE = 0x03
    RESPONSE_TOPIC = 0x08
    CORRELATION_DATA = 0x09
    SUBSCRIPTION_IDENTIFIER = 0x0B
    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    AUTHENTICATION_METHOD = 0x15
    AUTHENTICATION_DATA = 0x16
    REQUEST_PROBLEM_INFORMATION = 0x17
    WILL_DELAY_INTERVAL = 0x18
    REQUEST_RESPONSE_INFORMATION = 0x19
    RESPONSE_INFORMATION = 0x1A
    SERVER_REFERENCE = 0x1C
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A


class _WillContext(Enum):
    """The will properties inside CONNECT are a context of their own."""

    WILL = "will"


WILL_PROPERTIES: Final = _WillContext.WILL
PropertyContext = PacketType | _WillContext


@dataclass(frozen=True, slots=True)
class PropertySpec:
    id: PropertyId
    type: PropertyType
    contexts: frozenset[PropertyContext]
    repeatable: bool = False


def _spec(
    pid: PropertyId, ptype: PropertyType, *contexts: PropertyContext, repeatable: bool = False
) -> tuple[PropertyId, PropertySpec]:
    return pid, PropertySpec(pid, ptype, frozenset(contexts), repeatable)


_P = PacketType
_T = PropertyType
_W = WILL_PROPERTIES

PROPERTY_SPECS: Final[dict[PropertyId, PropertySpec]] = dict(
    [
        _spec(PropertyId.PAYLOAD_FORMAT_INDICATOR, _T.BYTE, _P.PUBLISH, _W),
        _spec(PropertyId.MESSAGE_EXPIRY_INTERVAL, _T.FOUR_BYTE_INTEGER, _P.PUBLISH, _W),
        _spec(PropertyId.CONTENT_TYPE, _T.UTF8_STRING, _P.PUBLISH, _W),
        _spec(PropertyId.RESPONSE_TOPIC, _T.UTF8_STRING, _P.PUBLISH, _W),
        _spec(PropertyId.CORRELATION_DATA, _T.BINARY_DATA, _P.PUBLISH, _W),
        _spec(
            PropertyId.SUBSCRIPTION_IDENTIFIER,
            _T.VARIABLE_BYTE_INTEGER,
            _P.PUBLISH,
            _P.SUBSCRIBE,
            repeatable=True,  # repeatable in PUBLISH only; the codec checks SUBSCRIBE
        ),
        _spec(
            PropertyId.SESSION_EXPIRY_INTERVAL,
            _T.FOUR_BYTE_INTEGER,
            _P.CONNECT,
            _P.CONNACK,
            _P.DISCONNECT,
        ),
        _spec(PropertyId.ASSIGNED_CLIENT_IDENTIFIER, _T.UTF8_STRING, _P.CONNACK),
        _spec(PropertyId.SERVER_KEEP_ALIVE, _T.TWO_BYTE_INTEGER, _P.CONNACK),
        _spec(PropertyId.AUTHENTICATION_METHOD, _T.UTF8_STRING, _P.CONNECT, _P.CONNACK, _P.AUTH),
        _spec(PropertyId.AUTHENTICATION_DATA, _T.BINARY_DATA, _P.CONNECT, _P.CONNACK, _P.AUTH),
        _spec(PropertyId.REQUEST_PROBLEM_INFORMATION, _T.BYTE, _P.CONNECT),
        _spec(PropertyId.WILL_DELAY_INTERVAL, _T.FOUR_BYTE_INTEGER, _W),
        _spec(PropertyId.REQUEST_RESPONSE_INFORMATION, _T.BYTE, _P.CONNECT),
        _spec(PropertyId.RESPONSE_INFORMATION, _T.UTF8_STRING, _P.CONNACK),
        _spec(PropertyId.SERVER_REFERENCE, _T.UTF8_STRING, _P.CONNACK, _P.DISCONNECT),
        _spec(
            PropertyId.REASON_STRING,
            _T.UTF8_STRING,
            _P.CONNACK,
            _P.PUBACK,
            _P.PUBREC,
            _P.PUBREL,
            _P.PUBCOMP,
            _P.SUBACK,
            _P.UNSUBACK,
            _P.DISCONNECT,
            _P.AUTH,
        ),
        _spec(PropertyId.RECEIVE_MAXIMUM, _T.TWO_BYTE_INTEGER, _P.CONNECT, _P.CONNACK),
        _spec(PropertyId.TOPIC_ALIAS_MAXIMUM, _T.TWO_BYTE_INTEGER, _P.CONNECT, _P.CONNACK),
        _spec(PropertyId.TOPIC_ALIAS, _T.TWO_BYTE_INTEGER, _P.PUBLISH),
        _spec(PropertyId.MAXIMUM_QOS, _T.BYTE, _P.CONNACK),
        _spec(PropertyId.RETAIN_AVAILABLE, _T.BYTE, _P.CONNACK),
        _spec(
            PropertyId.USER_PROPERTY,
            _T.UTF8_STRING_PAIR,
            _P.CONNECT,
            _P.CONNACK,
            _P.PUBLISH,
            _W,
            _P.PUBACK,
            _P.PUBREC,
            _P.PUBREL,
            _P.PUBCOMP,
            _P.SUBSCRIBE,
            _P.SUBACK,
            _P.UNSUBSCRIBE,
            _P.UNSUBACK,
            _P.DISCONNECT,
            _P.AUTH,
            repeatable=True,
        ),
        _spec(PropertyId.MAXIMUM_PACKET_SIZE, _T.FOUR_BYTE_INTEGER, _P.CONNECT, _P.CONNACK),
        _spec(PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE, _T.BYTE, _P.CONNACK),
        _spec(PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE, _T.BYTE, _P.CONNACK),
        _spec(PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, _T.BYTE, _P.CONNACK),
    ]
)

PropertyValue = int | str | bytes | tuple[str, str]


class Properties:
    """An immutable, ordered list of (PropertyId, value) pairs.

    Order and repetition are kept exactly as given, so encoding reproduces the bytes that were
    decoded. Look values up with :meth:`get` (first occurrence) or :meth:`get_all`.
    """

    __slots__ = ("_items",)

    _items: tuple[tuple[PropertyId, PropertyValue], ...]

    def __init__(self, items: Iterable[tuple[PropertyId, PropertyValue]] = ()) -> None:
        object.__setattr__(self, "_items", tuple((PropertyId(k), v) for k, v in items))

    @classmethod
    def of(cls, **values: PropertyValue | list[PropertyValue]) -> Properties:
        """Build from keyword names: ``Properties.of(topic_alias=3, user_property=[("a","b")])``."""
        items: list[tuple[PropertyId, PropertyValue]] = []
        for name, value in values.items():
            pid = PropertyId[name.upper()]
            if isinstance(value, list):
                items.extend((pid, v) for v in value)
            else:
                items.append((pid, value))
        return cls(items)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Properties is immutable")

    def get(self, pid: PropertyId, default: PropertyValue | None = None) -> PropertyValue | None:
        for k, v in self._items:
            if k is pid:
                return v
        return default

    def get_all(self, pid: PropertyId) -> list[PropertyValue]:
        return [v for k, v in self._items if k is pid]

    def __contains__(self, pid: object) -> bool:
        return any(k == pid for k, _ in self._items)

    def items(self) -> tuple[tuple[PropertyId, PropertyValue], ...]:
        return self._items

    def without(self, *pids: PropertyId) -> Properties:
        """A copy with every occurrence of the given properties removed."""
        drop = set(pids)
        return Properties(kv for kv in self._items if kv[0] not in drop)

    def with_(self, pid: PropertyId, value: PropertyValue) -> Properties:
        """A copy with *pid* set to *value* (replacing earlier occurrences)."""
        return Properties((*self.without(pid)._items, (pid, value)))

    def __iter__(self) -> Iterator[tuple[PropertyId, PropertyValue]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Properties) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k.name}={v!r}" for k, v in self._items)
        return f"Properties({inner})"


NO_PROPERTIES: Final = Properties()
