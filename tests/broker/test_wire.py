"""The publish-path encoder agrees byte for byte with the codec, for every variant."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.message import Message
from mqttsec.reference_broker.protocol import Properties, ProtocolVersion, Publish, QoS, encode
from mqttsec.reference_broker.wire import publish_parts, with_dup


@pytest.mark.parametrize("version", list(ProtocolVersion))
@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("size", [0, 64, 200, 20000])
@pytest.mark.parametrize("with_props", [False, True])
def test_parts_match_codec(
    version: ProtocolVersion, qos: int, retain: bool, size: int, with_props: bool
) -> None:
    payload = b"x" * size
    props = (
        Properties.of(content_type="t", user_property=[("a", "b")]) if with_props else Properties()
    )
    message = Message("a/tópic", payload, qos, retain, props)
    for sub_ids, expiry in (((), None), ((3, 400), 17)):
        head, tail = publish_parts(message, version, qos, retain, sub_ids, expiry)
        wire_props = props
        if version is ProtocolVersion.V5:
            items = list(props.items())
            if expiry is not None:
                items.append((Properties.of(message_expiry_interval=1).items()[0][0], expiry))
            items += [(Properties.of(subscription_identifier=1).items()[0][0], i) for i in sub_ids]
            wire_props = Properties(items)
        expected = encode(
            Publish("a/tópic", payload, QoS(qos), retain, False, 513 if qos else None, wire_props),
            version,
        )
        assert (head + (b"\x02\x01" if qos else b"") + tail) == expected
        assert publish_parts(message, version, qos, retain, sub_ids, expiry) == (head, tail)
        if qos:
            dup = encode(
                Publish("a/tópic", payload, QoS(qos), retain, True, 513, wire_props), version
            )
            assert with_dup(head) + b"\x02\x01" + tail == dup
