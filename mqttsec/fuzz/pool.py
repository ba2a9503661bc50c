"""Precomputed valid pieces for broker fuzzing: each malformed example costs a few draws.

Against a broker, hypothesis's per-draw cost dominates: a rich :func:`~mqttsec.fuzz.packets.
packets` draw takes dozens of choices (every character of every string), about 5 ms on a
loaded core, so a run could not reach hundreds of examples per second. The mutation
strategies (:mod:`mqttsec.fuzz.mutations`) therefore start from pools built here once per
process: valid client packets, CONNECTs and wills of both versions, topic names, filters and
property values, assembled from the codec's types by a fixed-seed :class:`random.Random`
(so every run and every replay sees the same pools) and checked by a decode round trip.

Each pool is sorted by encoded length, so hypothesis, which shrinks a ``sampled_from`` index
toward 0, shrinks a failing example toward the shortest packet. The rich strategies in
:mod:`mqttsec.fuzz.packets` stay the public ones for codec property tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import (
    CLIENT_PACKET_TYPES,
    NO_PROPERTIES,
    PROPERTY_SPECS,
    REASON_CODES,
    WILL_PROPERTIES,
    Auth,
    Connect,
    Disconnect,
    Packet,
    PacketType,
    Pingreq,
    Properties,
    PropertyId,
    ProtocolVersion,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    QoS,
    ReasonCode,
    RetainHandling,
    Subscribe,
    Subscription,
    Unsubscribe,
    Will,
    decode,
    encode,
)
from mqttsec.reference_broker.protocol.properties import PropertyContext, PropertyType

__all__ = ["FILTERS", "TEXTS", "TOPICS", "Pools", "pools", "sampled_topics", "values_for"]

V5: Final = ProtocolVersion.V5

TEXTS: Final = (
    "", "a", "mqttsec", "client-1", " ", "ü", "\ufeff", "日本語", "😀", "a b", "\x01", "\x7f",
    "\u0080\u00ff", "$x", "#", "+", "/", "x" * 100, "é" * 50, "\U0010fffd",
)  # fmt: skip
"""Valid MQTT strings: ASCII, multi-byte, U+FEFF, controls other than U+0000, long ones."""

_LEVELS: Final = ("a", "b", "c", "x", "sensor", "", "ü", "日本", "😀", " ", "$x", "y" * 40)
_FIXED_TOPICS: Final = ("a", "a/b", "/", "//", "a/", "/a", "$x/y", "ü/日本/😀", "z" * 200)
_FIXED_FILTERS: Final = (
    "#", "+", "a/#", "a/+/b", "+/+", "/#", "a//b", "+/#", "$share/g/a/#", "$share/g/+",
    "日本/#", "$x/#",
)  # fmt: skip


def _topics(rnd: random.Random, count: int) -> tuple[str, ...]:
    made = {"/".join(rnd.choices(_LEVELS, k=rnd.randint(1, 4))) for _ in range(count)}
    made |= set(_FIXED_TOPICS)
    return tuple(sorted((t for t in made if t and not t.startswith("mqttsec/")), key=len))


def _filters(rnd: random.Random, topics: tuple[str, ...], count: int) -> tuple[str, ...]:
    made = set(_FIXED_FILTERS)
    for _ in range(count):
        levels = [rnd.choice(("+", *_LEVELS)) for _ in range(rnd.randint(1, 4))]
        if rnd.random() < 0.3:
            levels.append("#")
        made.add("/".join(levels))
    return tuple(sorted((f for f in made if f), key=len))


TOPICS: Final = _topics(random.Random(1), 48)
"""Valid topic names (no wildcards, none under the harness's ``mqttsec/`` probe topics)."""
FILTERS: Final = _filters(random.Random(2), TOPICS, 40)
"""Valid topic filters, shared subscriptions and wildcards included."""

_ZERO_ONE: Final = (0, 1)
_SPECIAL: Final[dict[PropertyId, tuple[Any, ...]]] = {
    PropertyId.RECEIVE_MAXIMUM: (1, 10, 0xFFFF),
    PropertyId.TOPIC_ALIAS: (1, 2, 0xFFFF),
    PropertyId.MAXIMUM_PACKET_SIZE: (1, 128, 0xFFFFFFFF),
    PropertyId.SUBSCRIPTION_IDENTIFIER: (1, 127, 128, 16384, 268_435_455),
    PropertyId.RESPONSE_TOPIC: TOPICS[:12],
}
_BY_TYPE: Final[dict[PropertyType, tuple[Any, ...]]] = {
    PropertyType.BYTE: _ZERO_ONE,
    PropertyType.TWO_BYTE_INTEGER: (0, 1, 10, 0xFFFF),
    PropertyType.FOUR_BYTE_INTEGER: (0, 1, 60, 0xFFFFFFFF),
    PropertyType.VARIABLE_BYTE_INTEGER: (1, 127, 128, 268_435_455),
    PropertyType.UTF8_STRING: TEXTS,
    PropertyType.BINARY_DATA: (b"", b"\x00", b"abc", bytes(range(16))),
    PropertyType.UTF8_STRING_PAIR: (("a", "b"), ("", ""), ("k", "日本語"), ("\ufeff", "x" * 40)),
}


def values_for(pid: PropertyId) -> tuple[Any, ...]:
    """Valid values of property *pid*, boundaries first (as MQTT 5.0 section 3 bounds them)."""
    if pid in _SPECIAL:
        return _SPECIAL[pid]
    return _BY_TYPE[PROPERTY_SPECS[pid].type]


def _properties(
    rnd: random.Random, context: PropertyContext, exclude: frozenset[PropertyId], count: int
) -> tuple[Properties, ...]:
    """*count* valid property sets for *context*, the empty one first."""
    allowed = [p for p, s in PROPERTY_SPECS.items() if context in s.contexts and p not in exclude]
    out = [NO_PROPERTIES]
    for _ in range(count if allowed else 0):
        chosen = rnd.sample(allowed, k=min(len(allowed), rnd.randint(1, 4)))
        if PropertyId.USER_PROPERTY in allowed and rnd.random() < 0.3:
            chosen += [PropertyId.USER_PROPERTY] * rnd.randint(1, 3)
        if (
            PropertyId.AUTHENTICATION_DATA in chosen
            and PropertyId.AUTHENTICATION_METHOD not in chosen
        ):
            chosen.append(PropertyId.AUTHENTICATION_METHOD)
        out.append(Properties([(pid, rnd.choice(values_for(pid))) for pid in chosen]))
    return tuple(out)


# Client-side properties that make a broker keep state or that it may refuse by policy
# (as in mqttsec.fuzz.packets: broker_safe).
_UNSAFE: Final = frozenset(
    {
        PropertyId.SESSION_EXPIRY_INTERVAL,
        PropertyId.AUTHENTICATION_METHOD,
        PropertyId.AUTHENTICATION_DATA,
        PropertyId.TOPIC_ALIAS,
        PropertyId.SUBSCRIPTION_IDENTIFIER,
    }
)
_PAYLOADS: Final = (b"", b"x", b"\x00\xff", bytes(range(8)), b"p" * 64, b"\xa5" * 300)
_IDS: Final = (1, 2, 0x7FFF, 0x8000, 0xFFFF)


@dataclass(frozen=True)
class Pools:
    """The valid pieces of one MQTT version, each tuple sorted by encoded length.

    Attributes:
        client: client packets a logged-in client may send (no CONNECT), broker safe.
        connects: CONNECTs (clean start, no session expiry, no auth method, wills not retained).
        wills: will messages (never retained).
        publishes: the PUBLISH packets of *client*; qos0: those at QoS 0.
        long: client packets longer than two bytes; not_publish, with_id: as named.
        props: property sets per packet type (5.0; only the empty set in 3.1.1).
    """

    version: ProtocolVersion
    client: tuple[Packet, ...]
    connects: tuple[Connect, ...]
    wills: tuple[Will, ...]
    props: dict[PacketType, tuple[Properties, ...]]
    encoded: dict[int, bytes]

    def raw(self, packet: Packet) -> bytes:
        """The packet's encoding (cached for pool members)."""
        found = self.encoded.get(id(packet))
        return found if found is not None else encode(packet, self.version)

    @property
    def publishes(self) -> tuple[Publish, ...]:
        return tuple(p for p in self.client if isinstance(p, Publish))

    @property
    def qos0(self) -> tuple[Publish, ...]:
        return tuple(p for p in self.publishes if p.qos == 0)

    @property
    def long(self) -> tuple[Packet, ...]:
        return tuple(p for p in self.client if len(self.raw(p)) > 2)

    @property
    def not_publish(self) -> tuple[Packet, ...]:
        return tuple(p for p in self.client if not isinstance(p, Publish))

    @property
    def with_id(self) -> tuple[Packet, ...]:
        return tuple(
            p
            for p in self.client
            if p.type not in (PacketType.PINGREQ, PacketType.DISCONNECT, PacketType.AUTH)
            and not (isinstance(p, Publish) and p.qos == 0)
        )


def _builders(
    v: ProtocolVersion, rnd: random.Random, props: dict[PacketType, tuple[Properties, ...]]
) -> dict[PacketType, Callable[[], Packet]]:
    five = v is V5

    def code(ptype: PacketType) -> ReasonCode:
        return ReasonCode(rnd.choice(sorted(REASON_CODES[ptype])))

    def publish() -> Packet:
        qos = QoS(rnd.randint(0, 2))
        retain = rnd.random() < 0.2
        return Publish(
            rnd.choice(TOPICS),
            b"" if retain else rnd.choice(_PAYLOADS),
            qos,
            retain,
            qos > 0 and rnd.random() < 0.3,
            rnd.choice(_IDS) if qos else None,
            rnd.choice(props[PacketType.PUBLISH]),
        )

    def ack(cls: type[Puback | Pubrec | Pubrel | Pubcomp]) -> Callable[[], Packet]:
        if not five:
            return lambda: cls(rnd.choice(_IDS))
        return lambda: cls(rnd.choice(_IDS), code(cls.type), rnd.choice(props[cls.type]))

    def subscription() -> Subscription:
        topic = rnd.choice(FILTERS)
        if not five:
            return Subscription(topic, QoS(rnd.randint(0, 2)))
        no_local = not topic.startswith("$share/") and rnd.random() < 0.3
        handling = RetainHandling(rnd.randint(0, 2))
        return Subscription(topic, QoS(rnd.randint(0, 2)), no_local, rnd.random() < 0.3, handling)

    def subscribe() -> Packet:
        subs = tuple(subscription() for _ in range(rnd.randint(1, 3)))
        return Subscribe(rnd.choice(_IDS), subs, rnd.choice(props[PacketType.SUBSCRIBE]))

    def unsubscribe() -> Packet:
        filters = tuple(rnd.choice(FILTERS) for _ in range(rnd.randint(1, 3)))
        return Unsubscribe(rnd.choice(_IDS), filters, rnd.choice(props[PacketType.UNSUBSCRIBE]))

    def disconnect() -> Packet:
        if not five:
            return Disconnect()
        return Disconnect(code(PacketType.DISCONNECT), rnd.choice(props[PacketType.DISCONNECT]))

    return {
        PacketType.PUBLISH: publish,
        PacketType.PUBACK: ack(Puback),
        PacketType.PUBREC: ack(Pubrec),
        PacketType.PUBREL: ack(Pubrel),
        PacketType.PUBCOMP: ack(Pubcomp),
        PacketType.SUBSCRIBE: subscribe,
        PacketType.UNSUBSCRIBE: unsubscribe,
        PacketType.PINGREQ: Pingreq,
        PacketType.DISCONNECT: disconnect,
        PacketType.AUTH: lambda: Auth(code(PacketType.AUTH), rnd.choice(props[PacketType.AUTH])),
    }


def _connect(
    v: ProtocolVersion, rnd: random.Random, wills: tuple[Will, ...], props: tuple[Properties, ...]
) -> Connect:
    username = rnd.choice((None, *TEXTS[:8]))
    password = rnd.choice((None, b"", b"pw", b"\x00\xff"))
    if v is not V5 and username is None:
        password = None  # [MQTT-3.1.2-22]
    return Connect(
        client_id=rnd.choice(TEXTS),
        protocol_version=v,
        clean_start=True,
        keep_alive=rnd.choice((0, 1, 60, 0xFFFF)),
        username=username,
        password=password,
        will=rnd.choice(wills) if rnd.random() < 0.4 else None,
        properties=rnd.choice(props),
    )


@cache
def pools(version: ProtocolVersion, size: int = 400) -> Pools:
    """The pools of *version* (built once per process from a fixed seed)."""
    rnd = random.Random(5 if version is V5 else 3)
    five = version is V5
    contexts = [*PacketType, WILL_PROPERTIES]
    props: dict[Any, tuple[Properties, ...]] = {
        c: _properties(rnd, c, _UNSAFE, 12) if five else (NO_PROPERTIES,) for c in contexts
    }
    wills = tuple(
        Will(rnd.choice(TOPICS), rnd.choice(_PAYLOADS[:4]), QoS(rnd.randint(0, 2)), False,
             rnd.choice(props[WILL_PROPERTIES]))
        for _ in range(24)
    )  # fmt: skip
    builders = _builders(version, rnd, props)
    allowed = [t for t in builders if t in CLIENT_PACKET_TYPES[version]]
    client = [builders[rnd.choice(allowed)]() for _ in range(size)]
    client += [builders[t]() for t in allowed]  # every type at least once
    connects = [_connect(version, rnd, wills, props[PacketType.CONNECT]) for _ in range(64)]
    encoded: dict[int, bytes] = {}

    def checked(items: list[Any]) -> tuple[Any, ...]:
        kept = []
        for packet in items:
            raw = encode(packet, version)
            if decode(raw, version) == (packet, len(raw)):
                encoded[id(packet)] = raw
                kept.append(packet)
        return tuple(sorted(kept, key=lambda p: len(encoded[id(p)])))

    return Pools(version, checked(client), checked(connects), wills, props, encoded)


@cache
def sampled_topics() -> st.SearchStrategy[str]:
    """One draw: a valid topic name from :data:`TOPICS`."""
    return st.sampled_from(TOPICS)
