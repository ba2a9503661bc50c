"""Fast outbound encoding for the publish path.

A PUBLISH differs between subscribers only in its packet id when everything else (version,
QoS, RETAIN, subscription identifiers, remaining expiry) is equal. :func:`publish_parts`
encodes such a variant once with the codec and splits it around the packet id, so each
further subscriber costs a two-byte integer and a join. Acknowledgements without reason
code or properties are built from constant prefixes.
"""

from __future__ import annotations

from .message import Message
from .protocol import Properties, PropertyId, ProtocolVersion, Publish, QoS, encode
from .protocol.primitives import encode_vbi
from .protocol.properties import PropertyValue

__all__ = ["PINGRESP", "PUBACK", "PUBCOMP", "PUBREC", "PUBREL", "ack", "publish_parts", "with_dup"]

PINGRESP = b"\xd0\x00"
PUBACK = 0x40
PUBREC = 0x50
PUBREL = 0x62
PUBCOMP = 0x70

_MAX_CACHED_VARIANTS = 32


def ack(first_byte: int, packet_id: int) -> bytes:
    """A success acknowledgement (PUBACK/PUBREC/PUBREL/PUBCOMP) with no properties."""
    return bytes((first_byte, 2, packet_id >> 8, packet_id & 0xFF))


def publish_parts(
    message: Message,
    version: ProtocolVersion,
    qos: int,
    retain: bool,
    sub_ids: tuple[int, ...],
    expiry: int | None,
) -> tuple[bytes, bytes]:
    """The encoded PUBLISH split around its packet id: ``(head, tail)``.

    For QoS 0 ``head`` is the whole packet and ``tail`` is empty; for QoS 1/2 the packet is
    ``head + packet_id.to_bytes(2) + tail``. The last variant is kept on the message (and a
    few more in a small dict), so subscribers that get the same packet share one encoding.
    """
    key = (version, qos, retain, sub_ids, expiry)
    if message.wire_key == key:
        return message.wire_parts
    cache = message.wire
    if cache is not None:
        parts = cache.get(key)
        if parts is not None:
            return parts
    if version is ProtocolVersion.V311 or not (message.properties or sub_ids or expiry is not None):
        parts = _plain_parts(message, version is ProtocolVersion.V5, qos, retain)
    else:
        parts = _codec_parts(message, version, qos, retain, sub_ids, expiry)
    if message.wire_key is not None:
        if cache is None:
            cache = message.wire = {}
        elif len(cache) >= _MAX_CACHED_VARIANTS:
            cache.clear()
        cache[message.wire_key] = message.wire_parts
    message.wire_key = key
    message.wire_parts = parts
    return parts


def _plain_parts(message: Message, v5: bool, qos: int, retain: bool) -> tuple[bytes, bytes]:
    """A PUBLISH without properties, encoded directly (the topic was validated on receipt)."""
    topic = message.topic.encode()
    payload = message.payload
    tail = b"\x00" + payload if v5 else payload
    length = 2 + len(topic) + (2 if qos else 0) + len(tail)
    header = bytearray((0x30 | (qos << 1) | retain,))
    header += encode_vbi(length)
    header += len(topic).to_bytes(2, "big")
    header += topic
    if qos:
        return bytes(header), tail
    header += tail
    return bytes(header), b""


def _codec_parts(
    message: Message,
    version: ProtocolVersion,
    qos: int,
    retain: bool,
    sub_ids: tuple[int, ...],
    expiry: int | None,
) -> tuple[bytes, bytes]:
    """A PUBLISH with 5.0 properties, encoded by the codec and split around the packet id."""
    properties = message.properties
    if expiry is not None or sub_ids:
        items: list[tuple[PropertyId, PropertyValue]] = list(properties.items())
        if expiry is not None:
            items.append((PropertyId.MESSAGE_EXPIRY_INTERVAL, expiry))
        items.extend((PropertyId.SUBSCRIPTION_IDENTIFIER, i) for i in sub_ids)
        properties = Properties(items)
    packet = Publish(
        topic=message.topic,
        payload=message.payload,
        qos=QoS(qos),
        retain=retain,
        packet_id=1 if qos else None,
        properties=properties,
    )
    data = encode(packet, version)
    if not qos:
        return data, b""
    pos = 1
    while data[pos] & 0x80:
        pos += 1
    pos += 1
    pos += 2 + ((data[pos] << 8) | data[pos + 1])
    return data[:pos], data[pos + 2 :]


def with_dup(head: bytes) -> bytes:
    """The same PUBLISH head with the DUP flag set, for redelivery [MQTT-4.4.0-1]."""
    return bytes((head[0] | 0x08,)) + head[1:]
