"""Hypothesis strategies for malformed MQTT input, made by targeted mutation of valid packets.

Each example is a :class:`Malformed`: the bytes one connection sends, whether the harness
logs in first, and a *label* naming the kind of malformation (``"remaining-length:long"``,
``"utf8:nul"``, ``"state:second-connect"``, ...), so a failure says what kind of input caused
it. :data:`LABELS` lists them all; :func:`malformed` draws from every kind.

Whether the bytes really break a rule is not assumed from the label: the spec-exact codec
decides (:func:`mqttsec.fuzz.wire.codec_objection`). Some mutations leave a valid stream (a
longer remaining length on PUBLISH just lengthens the payload), and the harness then
accepts any answer.

The MQTT 5.0 property mutations are built in :mod:`mqttsec.fuzz.property_mutations`, the
cached draws all of them share in :mod:`mqttsec.fuzz._draws`; the catalogue of labels is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Final

from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import (
    Connack,
    Pingresp,
    Properties,
    PropertyId,
    ProtocolVersion,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    encode,
)

from ._draws import (
    binaries,
    client_packet,
    encoded,
    ints,
    packet_lists,
    pick,
    pooled_connects,
    pooled_wills,
    topic_names,
)
from .packets import VERSIONS, packet_ids
from .property_mutations import (
    prop_bad_value,
    prop_duplicate,
    prop_length,
    prop_length_vbi,
    prop_not_allowed,
    prop_unknown,
)
from .wire import MARKER, MARKER_BYTES, frame, split, vbi

__all__ = ["LABELS", "Malformed", "malformed", "mutation_strategies"]

V5: Final = ProtocolVersion.V5


@dataclass(frozen=True, slots=True)
class Malformed:
    """What one fuzz connection sends.

    Attributes:
        label: the kind of malformation, ``"<family>:<detail>"``.
        version: the MQTT version of the login and of the mutated packet.
        data: the bytes sent after the login (or first, without one).
        login: whether the harness sends its own valid CONNECT before *data*.
    """

    label: str
    version: ProtocolVersion
    data: bytes
    login: bool = True


_CONTINUED: Final = st.binary(min_size=1, max_size=4).map(lambda b: bytes(x | 0x80 for x in b))
"""1-4 bytes each with the VBI continuation bit set."""


_versions = pick(*VERSIONS)


def _case(
    label: str,
    build: Callable[[st.DrawFn, ProtocolVersion], bytes],
    *,
    login: bool = True,
    versions: st.SearchStrategy[ProtocolVersion] = _versions,
) -> st.SearchStrategy[Malformed]:
    """Malformed input of any of *versions*, built by *build(draw, version)*."""

    @st.composite
    def strategy(draw: st.DrawFn) -> Malformed:
        version = draw(versions)
        return Malformed(label, version, build(draw, version), login)

    return strategy()


def _v5_case(
    label: str, build: Callable[[st.DrawFn], bytes], *, login: bool = True
) -> st.SearchStrategy[Malformed]:
    """Malformed MQTT 5.0 input (properties exist only there)."""

    @st.composite
    def strategy(draw: st.DrawFn) -> Malformed:
        return Malformed(label, V5, build(draw), login)

    return strategy()


# --- framing: remaining length and variable byte integers --------------------------------


def _length_long(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v)), v))
    extra = draw(binaries(1, 8))
    return bytes((b0,)) + vbi(len(body) + len(extra)) + body + extra


def _length_short(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v, "long")), v))
    cut = draw(ints(1, len(body)))
    return bytes((b0,)) + vbi(len(body) - cut) + body


def _vbi_overlong(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v)), v))
    short = bytearray(vbi(len(body)))
    pad = draw(ints(1, 5 - len(short)))
    short[-1] |= 0x80
    long_form = bytes(short) + b"\x80" * (pad - 1) + b"\x00"
    return bytes((b0,)) + long_form + body


def _vbi_truncated(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0 = draw(pick(0x30, 0x82, 0xA2, 0x62, 0x40))
    return bytes((b0,)) + draw(_CONTINUED)


def _vbi_five_bytes(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0 = draw(pick(0x30, 0x82, 0xA2, 0x40, 0xC0))
    return bytes((b0,)) + b"\xff\xff\xff\xff" + draw(binaries(1, 1))


# --- fixed header flags, QoS 3, packet identifier 0 --------------------------------------

_FIXED: Final = {4: 0, 5: 0, 6: 2, 7: 0, 8: 2, 10: 2, 12: 0, 14: 0, 15: 0}


def _reserved_flags(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    packet = draw(client_packet(v, "not-publish"))
    b0, body = split(encoded(packet, v))
    right = _FIXED[b0 >> 4]
    flags = (right + draw(ints(1, 15))) % 16
    return frame((b0 & 0xF0) | flags, body)


def _publish_dup_qos0(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v, "qos0")), v))
    return frame(b0 | 0x08, body)


def _qos3_publish(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v, "publish")), v))
    return frame(b0 | 0x06, body)


def _qos3_subscribe(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    sub = Subscribe(draw(packet_ids), (Subscription(draw(topic_names)),))
    b0, body = split(encode(sub, v))
    return frame(b0, body[:-1] + bytes((body[-1] | 3,)))


def _subscribe_options_reserved(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    sub = Subscribe(draw(packet_ids), (Subscription(draw(topic_names)),))
    b0, body = split(encode(sub, v))
    bits = draw(pick(*[0x40, 0x80, 0xC0, 0x30] if v is V5 else [0x04, 0x40, 0x80]))
    return frame(b0, body[:-1] + bytes((body[-1] | bits,)))


def _packet_id_zero(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    packet = draw(client_packet(v, "with-id"))
    b0, body = split(encoded(packet, v))
    if isinstance(packet, Publish):
        at = 2 + int.from_bytes(body[:2], "big")
        return frame(b0, body[:at] + b"\x00\x00" + body[at + 2 :])
    return frame(b0, b"\x00\x00" + body[2:])


# --- strings: UTF-8, U+0000, wildcards, lengths ------------------------------------------


def _marked(draw: st.DrawFn, v: ProtocolVersion, field: str) -> tuple[bytes, bool]:
    """A valid packet with :data:`MARKER` in one string field; (bytes, is CONNECT)."""
    m = MARKER
    if field == "topic":
        return encode(Publish(m, draw(binaries(0, 8))), v), False
    if field == "filter":
        return encode(Subscribe(draw(packet_ids), (Subscription(m),)), v), False
    if field == "unsubscribe":
        return encode(Unsubscribe(draw(packet_ids), (m,)), v), False
    if field == "user-property":
        props = Properties(
            [(PropertyId.USER_PROPERTY, (m, "v") if draw(st.booleans()) else ("k", m))]
        )
        return encode(Publish(draw(topic_names), b"x", properties=props), V5), False
    if field == "response-topic":
        props = Properties([(PropertyId.RESPONSE_TOPIC, m)])
        return encode(Publish(draw(topic_names), b"x", properties=props), V5), False
    connect = draw(pooled_connects(v))
    if field == "client-id":
        connect = replace(connect, client_id=m)
    elif field == "username":
        connect = replace(connect, username=m)
    else:  # will topic
        will = draw(pooled_wills(v))
        connect = replace(connect, will=replace(will, topic=m))
    return encode(connect, v), True


_BAD_UTF8: Final = {
    "utf8:invalid": [b"ab\xc3\x28cd", b"\xff\xfeabcd", b"abc\x80de", b"ab\xe2\x82cd"],
    "utf8:surrogate": [b"a\xed\xa0\x80bc", b"\xed\xbf\xbfabc"],
    "utf8:overlong": [b"a\xc0\x80bcd", b"\xe0\x80\xafabc", b"\xc1\xbfabcd"],
    "utf8:beyond-unicode": [b"\xf4\x90\x80\x80ab", b"\xf8\x88\x80\x80\x80a"],
    "utf8:nul": [b"ab\x00cde", b"\x00abcde", b"abcde\x00"],
}
_WILDCARD_NAMES: Final = [b"a/+/bc", b"abcd/#", b"+/abcd", b"ab#cde", b"a+bcde", b"######"]
_BAD_FILTERS: Final = [b"a/#/bc", b"ab+/cd", b"abc#de", b"#/abcd", b"a/b+cd"]
_STRING_FIELDS: Final = ["topic", "filter", "unsubscribe", "client-id", "username", "will-topic"]
_V5_FIELDS: Final = ("user-property", "response-topic")


def _bad_string(
    label: str,
    choices: list[bytes],
    fields: list[str],
    v5_fields: tuple[str, ...] = (),
    versions: st.SearchStrategy[ProtocolVersion] = _versions,
) -> st.SearchStrategy[Malformed]:
    """Put one of *choices* (6 bad bytes) where a string field of a valid packet was."""

    @st.composite
    def strategy(draw: st.DrawFn) -> Malformed:
        v = draw(versions)
        pool = fields + list(v5_fields if v is V5 else ())
        raw, is_connect = _marked(draw, v, draw(pick(*pool)))
        bad = raw.replace(MARKER_BYTES, draw(pick(*choices)), 1)
        return Malformed(label, v, bad, login=not is_connect)

    return strategy()


def _string_length_past_end(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    topic = draw(topic_names)
    b0, body = split(encode(Publish(topic, b""), v))
    claimed = draw(ints(len(body) - 1, 0xFFFF))
    return frame(b0, claimed.to_bytes(2, "big") + body[2:])


def _oversize_field(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    size = draw(pick(65535, 65534, 32768))
    return encode(Publish("a" * size, draw(binaries(0, 8))), v)


def _oversize_payload(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    return encode(Publish(draw(topic_names), b"\xa5" * draw(pick(65536, 262144))), v)


# --- CONNECT as the first packet, and the wrong packet for the state ----------------------


def _connect_bad(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    raw = encoded(draw(pooled_connects(v)), v)
    b0, body = split(raw)
    flags_at = 7
    kind = draw(pick("reserved", "will-qos3", "will-bits", "name", "level", "pw-no-user"))
    body_b = bytearray(body)
    if kind == "reserved":
        body_b[flags_at] |= 0x01
    elif kind == "will-qos3":
        body_b[flags_at] |= 0x18 if body_b[flags_at] & 0x04 else 0x00
        body_b[flags_at] |= 0x18
    elif kind == "will-bits" and not body_b[flags_at] & 0x04:
        body_b[flags_at] |= draw(pick(0x08, 0x10, 0x20))
    elif kind == "name":
        body_b[2:6] = draw(pick(b"MQTt", b"MQIs", b"\x00QTT", b"mqtt"))
    elif kind == "level":
        body_b[6] = draw(pick(0, 3, 6, 0xFF))
    elif kind == "pw-no-user":
        body_b[flags_at] = (body_b[flags_at] | 0x40) & 0x7F
    return frame(b0, bytes(body_b))


def _before_connect(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    return encoded(draw(client_packet(v)), v)


def _second_connect(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    return encoded(draw(pooled_connects(v)), v)


def _server_packet(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    choice = draw(pick("connack", "suback", "unsuback", "pingresp", "type0", "type15"))
    if choice == "connack":
        return encode(Connack(), v)
    if choice == "suback":
        return encode(Suback(draw(packet_ids), (0,)), v)  # type: ignore[arg-type]
    if choice == "unsuback":
        return encode(Unsuback(draw(packet_ids), (0,) if v is V5 else ()), v)  # type: ignore[arg-type]
    if choice == "pingresp":
        return encode(Pingresp(), v)
    b0 = 0x00 if choice == "type0" else 0xF0
    return frame(b0, draw(binaries(0, 4)) if v is not V5 or b0 == 0 else b"")


# --- untargeted: flips, truncation, noise, valid traffic ----------------------------------


def _flip(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    raw = bytearray(encoded(draw(client_packet(v)), v))
    for _ in range(draw(ints(1, 3))):
        raw[draw(ints(0, len(raw) - 1))] = draw(ints(0, 255))
    return bytes(raw)


def _truncate_refit(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    b0, body = split(encoded(draw(client_packet(v, "long")), v))
    return frame(b0, body[: draw(ints(0, len(body) - 1))])


def _noise(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    return draw(binaries(1, 64))


def _valid(draw: st.DrawFn, v: ProtocolVersion) -> bytes:
    return b"".join(encoded(p, v) for p in draw(packet_lists(v)))


@cache
def mutation_strategies(
    versions: tuple[ProtocolVersion, ...] = VERSIONS,
) -> dict[str, st.SearchStrategy[Malformed]]:
    """Label -> the strategy for that kind of malformed input, in the MQTT *versions* given
    (every :data:`LABELS` entry; without 5.0, none of the ``property:`` ones)."""
    if not versions or any(v not in VERSIONS for v in versions):
        raise ValueError(f"versions must be some of {VERSIONS}, not {versions!r}")
    vs = pick(*versions)

    def case(
        label: str, build: Callable[[st.DrawFn, ProtocolVersion], bytes], *, login: bool = True
    ) -> st.SearchStrategy[Malformed]:
        return _case(label, build, login=login, versions=vs)

    def bad_string(
        label: str, choices: list[bytes], fields: list[str], v5_fields: tuple[str, ...] = ()
    ) -> st.SearchStrategy[Malformed]:
        return _bad_string(label, choices, fields, v5_fields, versions=vs)

    out: dict[str, st.SearchStrategy[Malformed]] = {
        "remaining-length:long": case("remaining-length:long", _length_long),
        "remaining-length:short": case("remaining-length:short", _length_short),
        "vbi:overlong": case("vbi:overlong", _vbi_overlong),
        "vbi:truncated": case("vbi:truncated", _vbi_truncated),
        "vbi:five-bytes": case("vbi:five-bytes", _vbi_five_bytes),
        "flags:reserved": case("flags:reserved", _reserved_flags),
        "flags:dup-with-qos0": case("flags:dup-with-qos0", _publish_dup_qos0),
        "flags:subscribe-options": case("flags:subscribe-options", _subscribe_options_reserved),
        "qos:3-publish": case("qos:3-publish", _qos3_publish),
        "qos:3-subscribe": case("qos:3-subscribe", _qos3_subscribe),
        "packet-id:0": case("packet-id:0", _packet_id_zero),
        "topic:wildcard-in-name": bad_string(
            "topic:wildcard-in-name", _WILDCARD_NAMES, ["topic", "will-topic"], ("response-topic",)
        ),
        "topic:bad-filter": bad_string("topic:bad-filter", _BAD_FILTERS, ["filter", "unsubscribe"]),
        "oversize:string-length": case("oversize:string-length", _string_length_past_end),
        "oversize:field": case("oversize:field", _oversize_field),
        "oversize:payload": case("oversize:payload", _oversize_payload),
        "property:unknown-id": _v5_case("property:unknown-id", prop_unknown),
        "property:duplicate": _v5_case("property:duplicate", prop_duplicate),
        "property:not-allowed": _v5_case("property:not-allowed", prop_not_allowed),
        "property:bad-value": _v5_case("property:bad-value", prop_bad_value),
        "property:truncated": _v5_case("property:truncated", prop_length),
        "property:length-vbi": _v5_case("property:length-vbi", prop_length_vbi),
        "connect:bad-header": case("connect:bad-header", _connect_bad, login=False),
        "state:before-connect": case("state:before-connect", _before_connect, login=False),
        "state:second-connect": case("state:second-connect", _second_connect),
        "state:server-packet": case("state:server-packet", _server_packet),
        "bytes:flip": case("bytes:flip", _flip),
        "bytes:truncate": case("bytes:truncate", _truncate_refit),
        "bytes:noise": case("bytes:noise", _noise),
        "valid:packets": case("valid:packets", _valid),
    }
    for label, choices in _BAD_UTF8.items():
        out[label] = bad_string(label, choices, _STRING_FIELDS, _V5_FIELDS)
    if V5 not in versions:
        out = {k: v for k, v in out.items() if not k.startswith("property:")}
    return out


LABELS: Final = tuple(mutation_strategies())
"""Every malformation label :func:`malformed` can produce."""


def malformed(
    labels: tuple[str, ...] | None = None, versions: tuple[ProtocolVersion, ...] = VERSIONS
) -> st.SearchStrategy[Malformed]:
    """Malformed input of every kind (or only the given *labels*), in the MQTT *versions*
    given (default both; a broker that speaks only 3.1.1 gets only 3.1.1 input)."""
    table = mutation_strategies(versions)
    chosen = tuple(table) if labels is None else labels
    unknown = [label for label in chosen if label not in table]
    if unknown:
        raise ValueError(f"unknown mutation labels {unknown}; known: {', '.join(LABELS)}")
    return _choose(tuple(table[label] for label in chosen))


def _choose(branches: tuple[st.SearchStrategy[Malformed], ...]) -> st.SearchStrategy[Malformed]:
    """Like ``st.one_of(branches)`` (and shrinking toward the first branch the same way), but
    one cached index draw: hypothesis's one_of builds and labels a new ``sampled_from`` over
    all branches in every draw, which cost more than most branches themselves."""
    index = st.sampled_from(range(len(branches)))

    @st.composite
    def strategy(draw: st.DrawFn) -> Malformed:
        return draw(branches[draw(index)])

    return strategy()
