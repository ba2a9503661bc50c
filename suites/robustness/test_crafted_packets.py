"""Robustness scenarios: crafted packets from one client close that client only.

Each scenario connects an ordinary *probe* client first, lets a second client send bytes
that once crashed a broker or got passed on, requires the broker to close the attacker
(bounded wait, no sleep), and then requires the probe to round-trip a message.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import RawClientFactory
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.reference_broker.protocol import (
    Connack,
    ProtocolVersion,
    Publish,
)
from mqttsec.suites.helpers import answer_bytes, unique

from ._support import (
    MqttClientFactory,
    attacker,
    closed_or_refused,
    connect_bytes,
    open_probe,
    prove_not_forwarded,
    publish_bytes,
    watched_attack,
)


@pytest.mark.scenario(
    id="ROB-CLIENT-CONNACK",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.8.0-1", "MQTT-3.2.0-1"],
)
def test_connack_from_a_client(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A logged-in client sends a CONNACK (a server-only packet): the broker closes that
    connection and keeps serving everyone else.

    Weakness class: mosquitto CVE-2021-28166 (a client's CONNACK dereferenced a NULL
    pointer and crashed the broker).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    raw.send_bytes(
        b"\x20\x02\x00\x00" if mqtt_version is ProtocolVersion.V311 else b"\x20\x03\x00\x00\x00"
    )
    closed_or_refused(raw, "a CONNACK sent by a client")
    probe.check("after another client sent a CONNACK")


@pytest.mark.scenario(
    id="ROB-EMPTY-TOPIC",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-4.7.3-1", "MQTT-3.3.2-8"],
)
def test_zero_length_topic(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH with a zero-length topic and no Topic Alias is malformed (3.1.1: topics
    are at least one character; 5.0: an empty topic needs an alias): the broker closes the
    sender, and the probe keeps working.

    Weakness class: mosquitto CVE-2021-34432 (a zero-length topic crashed the broker).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = attacker(mqtt_raw_client, mqtt_profile, probe.user)
    raw.send_bytes(publish_bytes(mqtt_version, b"", unique("empty").encode(), qos=1))
    closed_or_refused(raw, "a PUBLISH with a zero-length topic and no alias")
    probe.check("after another client published to a zero-length topic")


_INVALID_UTF8 = (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00")
"""Not UTF-8 at all, an overlong '/', a lone surrogate, U+0000 ([MQTT-1.5.3-1/2])."""


@pytest.mark.scenario(
    id="ROB-INVALID-UTF8-TOPIC",
    family="robustness",
    severity="high",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-1.5.3-1", "MQTT-1.5.3-2", "MQTT-1.5.4-1", "MQTT-1.5.4-2"],
)
@pytest.mark.parametrize("bad", _INVALID_UTF8, ids=["ff", "overlong", "surrogate", "nul"])
def test_invalid_utf8_topic_not_forwarded(
    bad: bytes,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A PUBLISH whose topic is ill-formed UTF-8 is never delivered (to a ``#`` subscriber
    and to one on the topic's own branch) and the sender is closed.

    Weakness class: mosquitto CVE-2017-7653 (invalid UTF-8 topics passed on to other
    clients, which then crashed or disconnected). The sentinel proves non-delivery.
    """
    attack = watched_attack(mqtt_client, mqtt_raw_client, mqtt_profile)
    marker = unique("bad-topic").encode()
    topic = attack.probe.stem.encode() + marker + bad
    attack.raw.send_bytes(publish_bytes(mqtt_version, topic, marker, qos=1))
    got = closed_or_refused(attack.raw, f"a PUBLISH to the ill-formed topic {topic!r}")
    assert not any(isinstance(p, Publish) for p in got)
    prove_not_forwarded(attack.watch, attack.probe, marker, f"a PUBLISH to {topic!r}")
    attack.probe.check("after another client published to an ill-formed topic")


CONNECT_ANSWER_WAIT = 5.0
"""How long a broker gets to refuse and close a CONNECT of an unknown protocol (seconds)."""


@pytest.mark.scenario(
    id="ROB-CONNECT-HEADER",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.2-1", "MQTT-3.1.2-3"],
)
@pytest.mark.parametrize("variant", ["reserved-flag", "protocol-name"])
def test_malformed_connect_header(
    variant: str,
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """A CONNECT with the reserved flag bit set, or with another protocol name, carrying
    valid credentials, is refused (closed, or a non-zero CONNACK) and the probe keeps working.

    Weakness class: lenient CONNECT parsing (the header checks skipped once credentials
    look right), the first step of many parser DoS bugs (RabbitMQ CVE-2021-22116 class).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = mqtt_raw_client()
    data = connect_bytes(
        mqtt_version,
        username=probe.user,
        password=probe.password,
        reserved=variant == "reserved-flag",
        name=b"MQTX" if variant == "protocol-name" else b"MQTT",
    )
    raw.send_bytes(data)
    what = f"a CONNECT with a bad header ({variant})"
    if variant == "protocol-name":
        # A broker that does not know the protocol answers in a format of its choosing
        # (a 3.1.1 CONNACK 0x01 to a 5.0 CONNECT is common): judge the bytes, not a decode.
        answer, closed = answer_bytes(raw, CONNECT_ANSWER_WAIT)
        accepted = answer[:1] == b"\x20" and len(answer) >= 4 and answer[3] == 0
        assert not accepted, f"ACCEPTED: {what} got CONNACK 0x00 ({answer.hex()})"
        assert closed, f"NOT CLOSED after {what} within {CONNECT_ANSWER_WAIT}s; got {answer.hex()}"
    else:
        closed_or_refused(raw, what)
    probe.check(f"after a malformed CONNECT ({variant})")


@pytest.mark.scenario(
    id="ROB-GARBAGE-BEFORE-CONNECT",
    family="robustness",
    severity="medium",
    versions=("3.1.1", "5.0"),
    spec=["MQTT-3.1.0-1", "MQTT-2.2.2-2"],
)
def test_garbage_before_connect(
    mqtt_client: MqttClientFactory,
    mqtt_raw_client: RawClientFactory,
    mqtt_profile: SecurityProfile,
    mqtt_version: ProtocolVersion,
) -> None:
    """Bytes that are no packet, followed by a valid CONNECT: the broker closes the
    connection (the first packet must be a CONNECT) without letting the client in, and
    the probe keeps working.

    Weakness class: parsers that resynchronise on garbage, or crash on a reserved packet
    type (VerneMQ/EMQX crafted-packet DoS class).
    """
    probe = open_probe(mqtt_client, mqtt_profile)
    raw = mqtt_raw_client()
    garbage = b"\x00\xffGET / HTTP/1.1\r\n\r\n"
    connect = connect_bytes(mqtt_version, username=probe.user, password=probe.password)
    raw.send_bytes(garbage + connect)
    got = closed_or_refused(raw, "garbage before a valid CONNECT")
    assert not [p for p in got if not isinstance(p, Connack)], f"answered garbage with {got!r}"
    probe.check("after another client sent garbage")
