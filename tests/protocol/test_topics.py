"""Topic names, filters, shared subscriptions and the one matching rule."""

from __future__ import annotations

import pytest
from hypothesis import given

from mqttsec.reference_broker.protocol import (
    ProtocolViolation,
    is_wildcard_filter,
    parse_shared,
    topic_matches,
    validate_topic_filter,
    validate_topic_name,
)

from .strategies import SETTINGS, topic_filters, topic_names


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("#", "sport/tennis", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("+/tennis/#", "sport/tennis", True),
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("a/b", "A/b", False),
        # [MQTT-4.7.2-1]: a leading wildcard never matches a $ topic
        ("#", "$SYS/uptime", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        # shared subscriptions match by their inner filter
        ("$share/g/sport/#", "sport/tennis", True),
        ("$share/g/+", "$SYS", False),
    ],
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@SETTINGS
@given(topic=topic_names)
def test_every_name_matches_itself_and_hash(topic: str) -> None:
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic) is (not topic.startswith("$"))


@SETTINGS
@given(topic_filter=topic_filters)
def test_generated_filters_are_valid(topic_filter: str) -> None:
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic_filter", "spec"),
    [
        ("", "MQTT-4.7.3-1"),
        ("a/#/b", "MQTT-4.7.1-1"),
        ("a#", "MQTT-4.7.1-1"),
        ("a/b#", "MQTT-4.7.1-1"),
        ("a+", "MQTT-4.7.1-2"),
        ("a/+b/c", "MQTT-4.7.1-2"),
        ("$share/", "MQTT-4.8.2-1"),
        ("$share//a", "MQTT-4.8.2-1"),
        ("$share/g", "MQTT-4.8.2-2"),
        ("$share/g/", "MQTT-4.8.2-2"),
        ("$share/#/a", "MQTT-4.8.2-2"),
        ("$share/g/a/#/b", "MQTT-4.7.1-1"),
        ("a\x00", "MQTT-4.7.3-2"),
        ("a" * 65536, "MQTT-4.7.3-3"),
    ],
)
def test_invalid_filters(topic_filter: str, spec: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        validate_topic_filter(topic_filter)
    assert info.value.spec == spec


@pytest.mark.parametrize(
    "topic_filter", ["#", "+", "+/+", "/", "a//b", "$share/g/#", "$share", "$SYS/#"]
)
def test_valid_filters(topic_filter: str) -> None:
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic", "spec"), [("", "MQTT-4.7.3-1"), ("a/+", "MQTT-4.7.0-1"), ("#", "MQTT-4.7.0-1")]
)
def test_invalid_names(topic: str, spec: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        validate_topic_name(topic)
    assert info.value.spec == spec


def test_empty_name_allowed_with_alias() -> None:
    validate_topic_name("", allow_empty=True)


def test_parse_shared() -> None:
    assert parse_shared("$share/grp/a/+") == ("grp", "a/+")
    assert parse_shared("a/b") == (None, "a/b")
    assert parse_shared("$share") == (None, "$share")
    assert is_wildcard_filter("$share/g/a/#")
    assert not is_wildcard_filter("$share/g/a")
