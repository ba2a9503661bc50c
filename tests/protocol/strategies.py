"""Hypothesis strategies for every valid MQTT 3.1.1 and 5.0 packet.

Everything generated here is valid, so ``decode(encode(p)) == p`` must hold for all of it.
Reusable by other test packages: ``from tests.protocol.strategies import packets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
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

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
VERSIONS = (V311, V5)

SETTINGS = settings(
    max_examples=int(os.environ.get("MQTTSEC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Keep the protocol tests fast; raise MQTTSEC_HYPOTHESIS_EXAMPLES for a fuzzing run."""

_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
texts = st.text(_chars, max_size=12)
"""Valid MQTT UTF-8 strings: no surrogates, no U+0000 (U+FEFF allowed)."""

_level = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/+#"), max_size=6
)
topic_names = st.lists(_level, min_size=1, max_size=4).map("/".join).filter(bool)
"""Valid topic names: no wildcards, not empty."""

_plain_filters = st.builds(
    lambda levels, hash_: "/".join(levels + (["#"] if hash_ else [])),
    st.lists(st.one_of(_level, st.just("+")), min_size=0, max_size=4),
    st.booleans(),
).filter(bool)
_share_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/+#"),
    min_size=1,
    max_size=5,
)
topic_filters = st.one_of(
    _plain_filters,
    st.builds(lambda g, f: f"$share/{g}/{f}", _share_names, _plain_filters),
)
"""Valid topic filters, shared ones included."""

packet_ids = st.integers(1, 0xFFFF)
_binary = st.binary(max_size=16)


def _value(pid: PropertyId) -> st.SearchStrategy[object]:
    """A valid value for one property."""
    if pid in (
        PropertyId.PAYLOAD_FORMAT_INDICATOR,
        PropertyId.REQUEST_PROBLEM_INFORMATION,
        PropertyId.REQUEST_RESPONSE_INFORMATION,
        PropertyId.MAXIMUM_QOS,
        PropertyId.RETAIN_AVAILABLE,
        PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE,
        PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        PropertyId.SHARED_SUBSCRIPTION_AVAILABLE,
    ):
        return st.integers(0, 1)
    if pid in (PropertyId.RECEIVE_MAXIMUM, PropertyId.TOPIC_ALIAS):
        return st.integers(1, 0xFFFF)
    if pid is PropertyId.MAXIMUM_PACKET_SIZE:
        return st.integers(1, 0xFFFFFFFF)
    if pid is PropertyId.SUBSCRIPTION_IDENTIFIER:
        return st.integers(1, 268_435_455)
    if pid is PropertyId.RESPONSE_TOPIC:
        return topic_names
    kind = PROPERTY_SPECS[pid].type
    return {
        PropertyType.BYTE: st.integers(0, 255),
        PropertyType.TWO_BYTE_INTEGER: st.integers(0, 0xFFFF),
        PropertyType.FOUR_BYTE_INTEGER: st.integers(0, 0xFFFFFFFF),
        PropertyType.VARIABLE_BYTE_INTEGER: st.integers(0, 268_435_455),
        PropertyType.UTF8_STRING: texts,
        PropertyType.BINARY_DATA: _binary,
        PropertyType.UTF8_STRING_PAIR: st.tuples(texts, texts),
    }[kind]


def properties(
    context: PropertyContext, *, exclude: frozenset[PropertyId] = frozenset()
) -> st.SearchStrategy[Properties]:
    """Valid properties for *context*: repeats only where allowed, auth data with a method."""
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
        chosen = draw(st.lists(st.sampled_from(allowed), max_size=4)) if allowed else []
        items: list[tuple[PropertyId, object]] = []
        seen: set[PropertyId] = set()
        for pid in chosen:
            if pid in seen and pid not in repeatable:
                continue
            seen.add(pid)
            items.append((pid, draw(_value(pid))))
        if PropertyId.AUTHENTICATION_DATA in seen and PropertyId.AUTHENTICATION_METHOD not in seen:
            items.append((PropertyId.AUTHENTICATION_METHOD, draw(texts)))
        return Properties(items)  # type: ignore[arg-type]

    return build()


def _codes(ptype: PacketType) -> st.SearchStrategy[ReasonCode]:
    return st.sampled_from(sorted(REASON_CODES[ptype])).map(ReasonCode)


def _props(version: ProtocolVersion, context: PropertyContext) -> st.SearchStrategy[Properties]:
    return properties(context) if version is V5 else st.just(NO_PROPERTIES)


def wills(version: ProtocolVersion) -> st.SearchStrategy[Will]:
    return st.builds(
        Will,
        topic=topic_names,
        payload=_binary,
        qos=st.sampled_from(QoS),
        retain=st.booleans(),
        properties=_props(version, WILL_PROPERTIES),
    )


def connects(version: ProtocolVersion) -> st.SearchStrategy[Connect]:
    @st.composite
    def build(draw: st.DrawFn) -> Connect:
        username = draw(st.none() | texts)
        password = draw(st.none() | _binary)
        if version is V311 and username is None:
            password = None  # [MQTT-3.1.2-22]
        return Connect(
            client_id=draw(texts),
            protocol_version=version,
            clean_start=draw(st.booleans()),
            keep_alive=draw(st.integers(0, 0xFFFF)),
            username=username,
            password=password,
            will=draw(st.none() | wills(version)),
            properties=draw(_props(version, PacketType.CONNECT)),
        )

    return build()


def connacks(version: ProtocolVersion) -> st.SearchStrategy[Connack]:
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


def publishes(version: ProtocolVersion) -> st.SearchStrategy[Publish]:
    @st.composite
    def build(draw: st.DrawFn) -> Publish:
        qos = draw(st.sampled_from(QoS))
        props = draw(_props(version, PacketType.PUBLISH))
        topic = draw(topic_names)
        if PropertyId.TOPIC_ALIAS in props and draw(st.booleans()):
            topic = ""
        return Publish(
            topic=topic,
            payload=draw(st.binary(max_size=64)),
            qos=qos,
            retain=draw(st.booleans()),
            dup=draw(st.booleans()) if qos else False,
            packet_id=draw(packet_ids) if qos else None,
            properties=props,
        )

    return build()


def _acks(
    cls: type[Puback | Pubrec | Pubrel | Pubcomp], version: ProtocolVersion
) -> st.SearchStrategy[Packet]:
    if version is V311:
        return st.builds(cls, packet_ids)
    return st.builds(cls, packet_ids, _codes(cls.type), properties(cls.type))


def subscriptions(version: ProtocolVersion) -> st.SearchStrategy[Subscription]:
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


def subscribes(version: ProtocolVersion) -> st.SearchStrategy[Subscribe]:
    return st.builds(
        Subscribe,
        packet_ids,
        st.lists(subscriptions(version), min_size=1, max_size=3).map(tuple),
        properties(PacketType.SUBSCRIBE) if version is V5 else st.just(NO_PROPERTIES),
    )


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


def unsubscribes(version: ProtocolVersion) -> st.SearchStrategy[Unsubscribe]:
    return st.builds(
        Unsubscribe,
        packet_ids,
        st.lists(topic_filters, min_size=1, max_size=3).map(tuple),
        _props(version, PacketType.UNSUBSCRIBE),
    )


def unsubacks(version: ProtocolVersion) -> st.SearchStrategy[Unsuback]:
    if version is V311:
        return st.builds(Unsuback, packet_ids)
    return st.builds(
        Unsuback,
        packet_ids,
        st.lists(_codes(PacketType.UNSUBACK), min_size=1, max_size=4).map(tuple),
        properties(PacketType.UNSUBACK),
    )


def disconnects(version: ProtocolVersion) -> st.SearchStrategy[Disconnect]:
    if version is V311:
        return st.just(Disconnect())
    return st.builds(Disconnect, _codes(PacketType.DISCONNECT), properties(PacketType.DISCONNECT))


def auths() -> st.SearchStrategy[Auth]:
    return st.builds(Auth, _codes(PacketType.AUTH), properties(PacketType.AUTH))


def packets(version: ProtocolVersion, sender: str | None = None) -> st.SearchStrategy[Packet]:
    """Any valid packet of *version*; only those *sender* ("client"/"server") may send."""
    allowed = {
        None: set(PacketType),
        "client": CLIENT_PACKET_TYPES[version],
        "server": SERVER_PACKET_TYPES[version],
    }[sender]
    return st.one_of(
        [
            factory(version)
            for name, factory in PACKET_STRATEGIES.items()
            if PacketType[name] in allowed and not (name == "AUTH" and version is V311)
        ]
    )


PACKET_STRATEGIES: dict[str, Callable[[ProtocolVersion], st.SearchStrategy[Any]]] = {
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
"""Packet name -> strategy factory taking the version (AUTH is 5.0 only)."""
