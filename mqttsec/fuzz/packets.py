"""Hypothesis strategies for every valid MQTT 3.1.1 and 5.0 control packet.

Every factory is cached (building a composite strategy is far slower than drawing from it), so
calling one inside a draw costs nothing. Everything drawn here is built from the codec's own types (:mod:`mqttsec.reference_broker.
protocol`) and is valid, so ``decode(encode(p)) == p`` holds for all of it; the malformed
strategies (:mod:`mqttsec.fuzz.mutations`) start from these packets and break one rule each.

``broker_safe=True`` (used when the packets go to a real broker) keeps a long fuzz run from
filling the broker with state that would slow every later example: retained messages carry
an empty payload (which deletes instead of stores), wills are not retained, and CONNECT
never asks for a session that outlives the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Final

from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import (
    CLIENT_PACKET_TYPES,
    NO_PROPERTIES,
    PROPERTY_SPECS,
    REASON_CODES,
    SERVER_PACKET_TYPES,
    SUBACK_RETURN_CODES_V311,
    WILL_PROPERTIES,
    Auth,
    Connack,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
    PropertyId,
    PropertyValue,
    ProtocolVersion,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    QoS,
    ReasonCode,
    RetainHandling,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttsec.reference_broker.protocol.properties import PropertyContext, PropertyType

__all__ = [
    "PACKET_STRATEGIES",
    "VERSIONS",
    "connects",
    "packet_ids",
    "packets",
    "properties",
    "publishes",
    "subscribes",
    "texts",
    "topic_filters",
    "topic_names",
    "wills",
]

V311: Final = ProtocolVersion.V311
V5: Final = ProtocolVersion.V5
VERSIONS: Final = (V311, V5)

_chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
texts: st.SearchStrategy[str] = st.text(_chars, max_size=12)
"""Valid MQTT UTF-8 strings: no surrogates, no U+0000 (U+FEFF allowed) [MQTT-1.5.4]."""

_level = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00/+#"), max_size=6
)
topic_names: st.SearchStrategy[str] = (
    st.lists(_level, min_size=1, max_size=4).map("/".join).filter(bool)
)
"""Valid topic names: not empty, no wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2]."""

_plain_filters = st.builds(
    lambda levels, hash_: "/".join(levels + (["#"] if hash_ else [])),
    st.lists(st.one_of(_level, st.just("+")), min_size=0, max_size=4),
    st.booleans(),
).filter(bool)
_share_names = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00/+#"),
    min_size=1,
    max_size=5,
)
topic_filters: st.SearchStrategy[str] = st.one_of(
    _plain_filters,
    st.builds(lambda g, f: f"$share/{g}/{f}", _share_names, _plain_filters),
)
"""Valid topic filters, shared subscriptions included."""

packet_ids: st.SearchStrategy[int] = st.integers(1, 0xFFFF)
"""Packet identifiers: never 0 [MQTT-2.3.1-1]."""

_binary = st.binary(max_size=16)

_ZERO_ONE: Final = frozenset(
    {
        PropertyId.PAYLOAD_FORMAT_INDICATOR,
        PropertyId.REQUEST_PROBLEM_INFORMATION,
        PropertyId.REQUEST_RESPONSE_INFORMATION,
        PropertyId.MAXIMUM_QOS,
        PropertyId.RETAIN_AVAILABLE,
        PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE,
        PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        PropertyId.SHARED_SUBSCRIPTION_AVAILABLE,
    }
)
_BY_TYPE: Final[dict[PropertyType, st.SearchStrategy[Any]]] = {
    PropertyType.BYTE: st.integers(0, 255),
    PropertyType.TWO_BYTE_INTEGER: st.integers(0, 0xFFFF),
    PropertyType.FOUR_BYTE_INTEGER: st.integers(0, 0xFFFFFFFF),
    PropertyType.VARIABLE_BYTE_INTEGER: st.integers(0, 268_435_455),
    PropertyType.UTF8_STRING: texts,
    PropertyType.BINARY_DATA: _binary,
    PropertyType.UTF8_STRING_PAIR: st.tuples(texts, texts),
}


@cache
def property_values(pid: PropertyId) -> st.SearchStrategy[Any]:
    """A valid value for the property *pid* (ranges as MQTT 5.0 section 3 requires)."""
    if pid in _ZERO_ONE:
        return st.integers(0, 1)
    if pid in (PropertyId.RECEIVE_MAXIMUM, PropertyId.TOPIC_ALIAS):
        return st.integers(1, 0xFFFF)
    if pid is PropertyId.MAXIMUM_PACKET_SIZE:
        return st.integers(1, 0xFFFFFFFF)
    if pid is PropertyId.SUBSCRIPTION_IDENTIFIER:
        return st.integers(1, 268_435_455)
    if pid is PropertyId.RESPONSE_TOPIC:
        return topic_names
    return _BY_TYPE[PROPERTY_SPECS[pid].type]


@cache
def properties(
    context: PropertyContext,
    *,
    exclude: frozenset[PropertyId] = frozenset(),
    max_size: int = 4,
) -> st.SearchStrategy[Properties]:
    """Valid properties for *context* (a packet type or ``WILL_PROPERTIES``).

    Repeats only where the specification allows them; authentication data always comes
    with an authentication method.
    """
    allowed = [
        pid
        for pid, spec in PROPERTY_SPECS.items()
        if context in spec.contexts and pid not in exclude
    ]
    repeatable = {PropertyId.USER_PROPERTY}
    if context is PacketType.PUBLISH:
        repeatable.add(PropertyId.SUBSCRIPTION_IDENTIFIER)

    @st.composite
    def build(draw: st.DrawFn) -> Properties:
        chosen = draw(st.lists(st.sampled_from(allowed), max_size=max_size)) if allowed else []
        items: list[tuple[PropertyId, PropertyValue]] = []
        seen: set[PropertyId] = set()
        for pid in chosen:
            if pid in seen and pid not in repeatable:
                continue
            seen.add(pid)
            items.append((pid, draw(property_values(pid))))
        if PropertyId.AUTHENTICATION_DATA in seen and PropertyId.AUTHENTICATION_METHOD not in seen:
            items.append((PropertyId.AUTHENTICATION_METHOD, draw(texts)))
        return Properties(items)

    return build()


def _codes(ptype: PacketType) -> st.SearchStrategy[ReasonCode]:
    return st.sampled_from(sorted(REASON_CODES[ptype])).map(ReasonCode)


@cache
def _props(
    version: ProtocolVersion,
    context: PropertyContext,
    exclude: frozenset[PropertyId] = frozenset(),
) -> st.SearchStrategy[Properties]:
    return properties(context, exclude=exclude) if version is V5 else st.just(NO_PROPERTIES)


# Client-side properties that make a broker keep state, or that a broker may refuse
# depending on what it announced (topic alias maximum, authentication methods).
_SAFE_CONNECT: Final = frozenset(
    {
        PropertyId.SESSION_EXPIRY_INTERVAL,
        PropertyId.AUTHENTICATION_METHOD,
        PropertyId.AUTHENTICATION_DATA,
    }
)
_SAFE_PUBLISH: Final = frozenset({PropertyId.TOPIC_ALIAS, PropertyId.SUBSCRIPTION_IDENTIFIER})


@cache
def wills(version: ProtocolVersion, *, broker_safe: bool = False) -> st.SearchStrategy[Will]:
    """Will messages for CONNECT; never retained when *broker_safe*."""
    return st.builds(
        Will,
        topic=topic_names,
        payload=_binary,
        qos=st.sampled_from(QoS),
        retain=st.just(False) if broker_safe else st.booleans(),
        properties=_props(version, WILL_PROPERTIES),
    )


@cache
def connects(version: ProtocolVersion, *, broker_safe: bool = False) -> st.SearchStrategy[Connect]:
    """CONNECT of *version*; with *broker_safe* always a clean start without session expiry."""

    @st.composite
    def build(draw: st.DrawFn) -> Connect:
        username = draw(st.none() | texts)
        password = draw(st.none() | _binary)
        if version is V311 and username is None:
            password = None  # [MQTT-3.1.2-22]
        exclude = _SAFE_CONNECT if broker_safe else frozenset()
        return Connect(
            client_id=draw(texts),
            protocol_version=version,
            clean_start=True if broker_safe else draw(st.booleans()),
            keep_alive=draw(st.integers(0, 0xFFFF)),
            username=username,
            password=password,
            will=draw(st.none() | wills(version, broker_safe=broker_safe)),
            properties=draw(_props(version, PacketType.CONNECT, exclude)),
        )

    return build()


@cache
def connacks(version: ProtocolVersion) -> st.SearchStrategy[Connack]:
    """CONNACK of *version* (3.1.1 return codes, 5.0 reason codes)."""

    @st.composite
    def build(draw: st.DrawFn) -> Connack:
        code: ReasonCode | ConnectReturnCode
        if version is V311:
            code = draw(st.sampled_from(ConnectReturnCode))
        else:
            code = draw(_codes(PacketType.CONNACK))
        present = draw(st.booleans()) if code == 0 else False
        return Connack(code, present, draw(_props(version, PacketType.CONNACK)))

    return build()


@cache
def publishes(version: ProtocolVersion, *, broker_safe: bool = False) -> st.SearchStrategy[Publish]:
    """PUBLISH of *version*; with *broker_safe* a retained one deletes (empty payload) and no
    topic alias or subscription identifier is sent (the broker may refuse them by policy)."""

    @st.composite
    def build(draw: st.DrawFn) -> Publish:
        qos = draw(st.sampled_from(QoS))
        exclude = _SAFE_PUBLISH if broker_safe else frozenset()
        props = draw(_props(version, PacketType.PUBLISH, exclude))
        topic = draw(topic_names)
        if PropertyId.TOPIC_ALIAS in props and draw(st.booleans()):
            topic = ""
        retain = draw(st.booleans())
        payload = b"" if broker_safe and retain else draw(st.binary(max_size=64))
        return Publish(
            topic=topic,
            payload=payload,
            qos=qos,
            retain=retain,
            dup=draw(st.booleans()) if qos else False,
            packet_id=draw(packet_ids) if qos else None,
            properties=props,
        )

    return build()


@cache
def _acks(
    cls: type[Puback | Pubrec | Pubrel | Pubcomp], version: ProtocolVersion
) -> st.SearchStrategy[Packet]:
    if version is V311:
        return st.builds(cls, packet_ids)
    return st.builds(cls, packet_ids, _codes(cls.type), properties(cls.type))


@cache
def subscriptions(version: ProtocolVersion) -> st.SearchStrategy[Subscription]:
    """One topic filter with options (no local never on a shared subscription)."""
    if version is V311:
        return st.builds(Subscription, topic_filters, st.sampled_from(QoS))

    @st.composite
    def build(draw: st.DrawFn) -> Subscription:
        topic_filter = draw(topic_filters)
        shared = topic_filter.startswith("$share/")
        return Subscription(
            topic_filter,
            draw(st.sampled_from(QoS)),
            False if shared else draw(st.booleans()),  # [MQTT-3.8.3-4]
            draw(st.booleans()),
            draw(st.sampled_from(RetainHandling)),
        )

    return build()


@cache
def subscribes(version: ProtocolVersion) -> st.SearchStrategy[Subscribe]:
    """SUBSCRIBE with one to three filters."""
    return st.builds(
        Subscribe,
        packet_ids,
        st.lists(subscriptions(version), min_size=1, max_size=3).map(tuple),
        _props(version, PacketType.SUBSCRIBE),
    )


@cache
def subacks(version: ProtocolVersion) -> st.SearchStrategy[Suback]:
    codes = (
        st.sampled_from(sorted(SUBACK_RETURN_CODES_V311)).map(ReasonCode)
        if version is V311
        else _codes(PacketType.SUBACK)
    )
    return st.builds(
        Suback,
        packet_ids,
        st.lists(codes, min_size=1, max_size=4).map(tuple),
        _props(version, PacketType.SUBACK),
    )


@cache
def unsubscribes(version: ProtocolVersion) -> st.SearchStrategy[Unsubscribe]:
    return st.builds(
        Unsubscribe,
        packet_ids,
        st.lists(topic_filters, min_size=1, max_size=3).map(tuple),
        _props(version, PacketType.UNSUBSCRIBE),
    )


@cache
def unsubacks(version: ProtocolVersion) -> st.SearchStrategy[Unsuback]:
    if version is V311:
        return st.builds(Unsuback, packet_ids)
    return st.builds(
        Unsuback,
        packet_ids,
        st.lists(_codes(PacketType.UNSUBACK), min_size=1, max_size=4).map(tuple),
        properties(PacketType.UNSUBACK),
    )


@cache
def disconnects(version: ProtocolVersion) -> st.SearchStrategy[Disconnect]:
    if version is V311:
        return st.just(Disconnect())
    return st.builds(Disconnect, _codes(PacketType.DISCONNECT), properties(PacketType.DISCONNECT))


@cache
def auths() -> st.SearchStrategy[Auth]:
    """AUTH (MQTT 5.0 only)."""
    return st.builds(Auth, _codes(PacketType.AUTH), properties(PacketType.AUTH))


PACKET_STRATEGIES: Final[dict[str, Callable[[ProtocolVersion], st.SearchStrategy[Any]]]] = {
    "CONNECT": connects,
    "CONNACK": connacks,
    "PUBLISH": publishes,
    "PUBACK": lambda v: _acks(Puback, v),
    "PUBREC": lambda v: _acks(Pubrec, v),
    "PUBREL": lambda v: _acks(Pubrel, v),
    "PUBCOMP": lambda v: _acks(Pubcomp, v),
    "SUBSCRIBE": subscribes,
    "SUBACK": subacks,
    "UNSUBSCRIBE": unsubscribes,
    "UNSUBACK": unsubacks,
    "PINGREQ": lambda v: st.just(Pingreq()),
    "PINGRESP": lambda v: st.just(Pingresp()),
    "DISCONNECT": disconnects,
    "AUTH": lambda v: auths(),
}
"""Packet name -> strategy factory taking the version (AUTH exists in 5.0 only)."""


@cache
def packets(
    version: ProtocolVersion, sender: str | None = None, *, broker_safe: bool = False
) -> st.SearchStrategy[Packet]:
    """Any valid packet of *version*; only the types *sender* (``"client"``/``"server"``)
    may send when given. *broker_safe* as for :func:`publishes` and :func:`connects`."""
    allowed = {
        None: set(PacketType),
        "client": CLIENT_PACKET_TYPES[version],
        "server": SERVER_PACKET_TYPES[version],
    }[sender]
    factories: dict[str, Callable[[ProtocolVersion], st.SearchStrategy[Any]]] = dict(
        PACKET_STRATEGIES
    )
    if broker_safe:
        factories["CONNECT"] = lambda v: connects(v, broker_safe=True)
        factories["PUBLISH"] = lambda v: publishes(v, broker_safe=True)
    return st.one_of(
        [
            factory(version)
            for name, factory in factories.items()
            if PacketType[name] in allowed and not (name == "AUTH" and version is V311)
        ]
    )
