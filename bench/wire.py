"""The few MQTT 3.1.1 packets the load generator sends, as bytes, made once by our codec.

The generator never encodes in its hot loop: it asks this module for the bytes of one
CONNECT, one SUBSCRIBE and a large buffer of PUBLISH packets up front, then only slices and
sends. Every delivered PUBLISH of a run has the same size (one topic, one payload size, one
QoS), which is what lets the subscribers count and acknowledge messages at fixed offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mqttsec.reference_broker.protocol import (
    Connect,
    Disconnect,
    ProtocolVersion,
    Publish,
    QoS,
    Subscribe,
    Subscription,
    encode,
)

__all__ = [
    "CONNACK_OK",
    "PUBACK",
    "TOPIC",
    "Shape",
    "connect_bytes",
    "disconnect_bytes",
    "publish_buffer",
    "shape_of",
    "subscribe_bytes",
]

V311 = ProtocolVersion.V311
TOPIC = "bench/t"
PUBACK = 0x40
"""First byte of PUBACK; a 3.1.1 PUBACK is always 4 bytes: 0x40 0x02 id-high id-low."""
CONNACK_OK = b"\x20\x02\x00\x00"
"""CONNACK, no session present, return code 0 (clean session always starts without one)."""


@dataclass(frozen=True)
class Shape:
    """The wire layout of every PUBLISH in one run.

    Attributes:
        size: bytes of one whole PUBLISH packet, fixed header included.
        first_byte: the fixed header's first byte (type, QoS and flags).
        id_offset: offset of the packet identifier inside the packet (QoS 1), else -1.
    """

    size: int
    first_byte: int
    id_offset: int


def shape_of(qos: int, payload_size: int, topic: str = TOPIC) -> Shape:
    """Derive the layout by encoding one sample packet with the codec (no hand arithmetic).

    Args:
        qos: 0 or 1.
        payload_size: bytes of application payload.
        topic: the topic name.

    Returns:
        The :class:`Shape` of every PUBLISH of that kind.
    """
    sample = _publish(topic, b"\0" * payload_size, qos, 0x1234 if qos else None)
    id_offset = -1
    if qos:
        id_offset = sample.index(b"\x12\x34", 2 + 2 + len(topic.encode()))
    if sample[1] & 0x80:
        raise RuntimeError("bench PUBLISH needs a one-byte remaining length (< 128)")
    return Shape(size=len(sample), first_byte=sample[0], id_offset=id_offset)


def connect_bytes(client_id: str) -> bytes:
    """CONNECT for MQTT 3.1.1: clean session, keep-alive 0 (no PINGREQ in the byte stream)."""
    return _encode(
        Connect(client_id=client_id, protocol_version=V311, clean_start=True, keep_alive=0),
        V311,
    )


def disconnect_bytes() -> bytes:
    """DISCONNECT (3.1.1: no body), so the broker sees a clean end of the session."""
    return _encode(Disconnect(), V311)


def subscribe_bytes(qos: int, topic: str = TOPIC) -> bytes:
    """SUBSCRIBE with packet id 1 to ``topic`` at ``qos``."""
    return _encode(Subscribe(packet_id=1, subscriptions=(Subscription(topic, QoS(qos)),)), V311)


def publish_buffer(count: int, qos: int, payload_size: int, topic: str = TOPIC) -> bytes:
    """``count`` back-to-back PUBLISH packets; at QoS 1 with packet ids 1, 2, ... 65535, 1, ...

    Args:
        count: packets in the buffer (at QoS 1, 65535 makes the buffer cyclic in ids).
        qos: 0 or 1.
        payload_size: bytes of payload per message.
        topic: the topic name.

    Returns:
        The concatenated encoded packets.
    """
    payload = bytes(range(256)) * (payload_size // 256 + 1)
    payload = payload[:payload_size]
    if qos == 0:
        return _publish(topic, payload, 0, None) * count
    return b"".join(_publish(topic, payload, 1, (i % 65535) + 1) for i in range(count))


def _encode(packet: Any, version: ProtocolVersion) -> bytes:
    return bytes(encode(packet, version))


def _publish(topic: str, payload: bytes, qos: int, packet_id: int | None) -> bytes:
    return _encode(Publish(topic=topic, payload=payload, qos=QoS(qos), packet_id=packet_id), V311)
