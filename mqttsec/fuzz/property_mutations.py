"""Hypothesis building blocks for malformed MQTT 5.0 properties: each builder draws one
PUBLISH, SUBSCRIBE or UNSUBSCRIBE whose property block breaks one rule (an unknown or
duplicated identifier, a property not allowed in that packet, a bad value, a length that
runs past the data).

Builders return bytes; :func:`mqttsec.fuzz.mutations.mutation_strategies` labels them
(``"property:..."``) and sends them only to MQTT 5.0 targets, as properties exist only there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Final

from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import (
    PROPERTY_SPECS,
    Packet,
    PacketType,
    PropertyId,
    ProtocolVersion,
    Publish,
    QoS,
    Subscribe,
    Subscription,
    Unsubscribe,
    encode,
)

from ._draws import binaries, ints, pick, topic_names
from .packets import packet_ids
from .pool import values_for
from .wire import frame, raw_property, split, vbi

__all__ = [
    "prop_bad_value",
    "prop_duplicate",
    "prop_length",
    "prop_length_vbi",
    "prop_not_allowed",
    "prop_unknown",
]

V5: Final = ProtocolVersion.V5

_UNKNOWN_IDS: Final = sorted(set(range(0x80)) - {int(p) for p in PROPERTY_SPECS})
_CONTEXTS: Final = (PacketType.PUBLISH, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE)


def _with_property_block(
    draw: st.DrawFn,
    make_block: Callable[[PacketType], bytes],
    contexts: tuple[PacketType, ...] = _CONTEXTS,
) -> bytes:
    """A v5 PUBLISH/SUBSCRIBE/UNSUBSCRIBE whose property block is *make_block(context)*."""
    context = draw(pick(*contexts))
    topic = draw(topic_names)
    if context is PacketType.PUBLISH:
        qos = QoS(draw(ints(0, 2)))
        p: Packet = Publish(topic, b"pl", qos, packet_id=draw(packet_ids) if qos else None)
        b0, body = split(encode(p, V5))
        at = 2 + len(topic.encode()) + (2 if qos else 0)
    else:
        p = (
            Subscribe(1, (Subscription(topic),))
            if context is PacketType.SUBSCRIBE
            else Unsubscribe(1, (topic,))
        )
        b0, body = split(encode(p, V5))
        at = 2
    assert body[at] == 0
    block = make_block(context)
    return frame(b0, body[:at] + vbi(len(block)) + block + body[at + 1 :])


def _allowed(context: PacketType, repeatable: bool | None = None) -> list[PropertyId]:
    return [
        pid
        for pid, spec in PROPERTY_SPECS.items()
        if context in spec.contexts
        and (repeatable is None or (pid is PropertyId.USER_PROPERTY) == repeatable)
    ]


def _value(draw: st.DrawFn, pid: PropertyId) -> object:
    return draw(_values(pid))


@cache
def _values(pid: PropertyId) -> st.SearchStrategy[object]:
    return st.sampled_from(values_for(pid))


def prop_unknown(draw: st.DrawFn) -> bytes:
    def block(context: PacketType) -> bytes:
        pid = draw(pick(*_UNKNOWN_IDS))
        return vbi(pid) + draw(binaries(0, 4))

    return _with_property_block(draw, block)


def prop_duplicate(draw: st.DrawFn) -> bytes:
    def block(context: PacketType) -> bytes:
        pid = draw(
            pick(
                *[
                    p
                    for p in _allowed(context, repeatable=False)
                    if not (
                        context is PacketType.PUBLISH and p is PropertyId.SUBSCRIPTION_IDENTIFIER
                    )
                ]
            )
        )
        return b"".join(raw_property(pid, _value(draw, pid)) for _ in range(2))  # type: ignore[arg-type]

    return _with_property_block(draw, block, _CONTEXTS[:2])  # UNSUBSCRIBE: user props only


def prop_not_allowed(draw: st.DrawFn) -> bytes:
    def block(context: PacketType) -> bytes:
        pid = draw(pick(*[p for p in PROPERTY_SPECS if context not in PROPERTY_SPECS[p].contexts]))
        return raw_property(pid, _value(draw, pid))  # type: ignore[arg-type]

    return _with_property_block(draw, block)


def prop_bad_value(draw: st.DrawFn) -> bytes:
    choices = {
        PacketType.PUBLISH: [
            raw_property(PropertyId.TOPIC_ALIAS, 0),
            raw_property(PropertyId.PAYLOAD_FORMAT_INDICATOR, 2),
            raw_property(PropertyId.SUBSCRIPTION_IDENTIFIER, 1),  # client may not send it
            raw_property(PropertyId.RESPONSE_TOPIC, "a/+/b"),
            raw_property(PropertyId.CONTENT_TYPE, "\ud800x"),
        ],
        PacketType.SUBSCRIBE: [raw_property(PropertyId.SUBSCRIPTION_IDENTIFIER, 0)],
        PacketType.UNSUBSCRIBE: [raw_property(PropertyId.USER_PROPERTY, ("a\x00", "b"))],
    }
    return _with_property_block(draw, lambda c: draw(pick(*choices[c])))


def prop_length(draw: st.DrawFn) -> bytes:
    """A property block whose length or last value runs past what is there."""

    def block(context: PacketType) -> bytes:
        pid = draw(pick(*_allowed(context)))
        item = raw_property(pid, _value(draw, pid))  # type: ignore[arg-type]
        return item[: draw(ints(1, len(item) - 1))] if len(item) > 1 else item

    return _with_property_block(draw, block)


def prop_length_vbi(draw: st.DrawFn) -> bytes:
    """The property length itself overlong or longer than four bytes."""
    raw = encode(Publish(draw(topic_names), b"x"), V5)
    b0, body = split(raw)
    at = 2 + int.from_bytes(body[:2], "big")
    bad = draw(pick(b"\x80\x00", b"\x80\x80\x00", b"\xff\xff\xff\xff\x01", b"\x80"))
    return frame(b0, body[:at] + bad + body[at + 1 :])
