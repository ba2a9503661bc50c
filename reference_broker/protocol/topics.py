"""Topic names, topic filters and shared subscriptions (MQTT 5.0 sections 4.7 and 4.8.2).

Validation raises :class:`ProtocolViolation` naming the rule broken; :func:`topic_matches` is the
one matching rule the whole broker uses, including the ``$`` rule [MQTT-4.7.2-1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .errors import ProtocolViolation

__all__ = [
    "SHARE_PREFIX",
    "is_wildcard_filter",
    "levels_match",
    "parse_shared",
    "topic_matches",
    "validate_topic_filter",
    "validate_topic_name",
]

SHARE_PREFIX: Final = "$share/"
_MAX_BYTES: Final = 65535


def _check_common(text: str, what: str, remote: bool) -> None:
    if "\x00" in text:
        raise ProtocolViolation(f"{what} contains U+0000", spec="MQTT-4.7.3-2", remote=remote)
    if len(text) * 4 > _MAX_BYTES and len(text.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        raise ProtocolViolation(
            f"{what} is longer than 65535 bytes", spec="MQTT-4.7.3-3", remote=remote
        )


def validate_topic_name(
    topic: str, *, allow_empty: bool = False, what: str = "topic name", remote: bool = True
) -> None:
    """Refuse a topic name with wildcards, or an empty one unless *allow_empty*.

    Args:
        topic: the name as decoded.
        allow_empty: True for an MQTT 5.0 PUBLISH that carries a Topic Alias [MQTT-3.3.2-1].
        what: how the message names the field.
        remote: whose fault a violation is.

    Raises:
        ProtocolViolation: the name breaks [MQTT-4.7.3-1] or [MQTT-4.7.0-1].
    """
    if not topic:
        if allow_empty:
            return
        raise ProtocolViolation(f"{what} is empty", spec="MQTT-4.7.3-1", remote=remote)
    if "+" in topic or "#" in topic:
        raise ProtocolViolation(
            f"{what} {topic!r} contains a wildcard", spec="MQTT-4.7.0-1", remote=remote
        )
    _check_common(topic, what, remote)


def _validate_plain_filter(topic_filter: str, what: str, remote: bool) -> None:
    if not topic_filter:
        raise ProtocolViolation(f"{what} is empty", spec="MQTT-4.7.3-1", remote=remote)
    if "+" in topic_filter or "#" in topic_filter:
        levels = topic_filter.split("/")
        last = len(levels) - 1
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != last):
                raise ProtocolViolation(
                    f"{what} {topic_filter!r}: '#' must be alone in the last level",
                    spec="MQTT-4.7.1-1",
                    remote=remote,
                )
            if "+" in level and level != "+":
                raise ProtocolViolation(
                    f"{what} {topic_filter!r}: '+' must occupy a whole level",
                    spec="MQTT-4.7.1-2",
                    remote=remote,
                )
    _check_common(topic_filter, what, remote)


def parse_shared(topic_filter: str, *, remote: bool = True) -> tuple[str | None, str]:
    """Split ``$share/{group}/{filter}`` into ``(group, filter)``; ``(None, filter)`` otherwise.

    Raises:
        ProtocolViolation: empty group [MQTT-4.8.2-1], a group with ``+``/``#`` or no
            filter after the group [MQTT-4.8.2-2].
    """
    if not topic_filter.startswith(SHARE_PREFIX):
        return None, topic_filter
    rest = topic_filter[len(SHARE_PREFIX) :]
    group, sep, inner = rest.partition("/")
    if not group:
        raise ProtocolViolation(
            f"shared subscription {topic_filter!r}: the share name is empty",
            spec="MQTT-4.8.2-1",
            remote=remote,
        )
    if "+" in group or "#" in group:
        raise ProtocolViolation(
            f"shared subscription {topic_filter!r}: the share name contains a wildcard",
            spec="MQTT-4.8.2-2",
            remote=remote,
        )
    if not sep or not inner:
        raise ProtocolViolation(
            f"shared subscription {topic_filter!r}: a topic filter must follow the share name",
            spec="MQTT-4.8.2-2",
            remote=remote,
        )
    return group, inner


def validate_topic_filter(
    topic_filter: str, *, what: str = "topic filter", remote: bool = True
) -> None:
    """Refuse a filter that misplaces ``#`` or ``+``, or a malformed shared subscription.

    Raises:
        ProtocolViolation: the filter breaks [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]
            or [MQTT-4.8.2-1/2].
    """
    if topic_filter.startswith(SHARE_PREFIX):
        _, inner = parse_shared(topic_filter, remote=remote)
        _validate_plain_filter(inner, what, remote)
        _check_common(topic_filter, what, remote)
    else:
        _validate_plain_filter(topic_filter, what, remote)


def is_wildcard_filter(topic_filter: str) -> bool:
    """True when the filter (shared or not) contains ``+`` or ``#``."""
    _, inner = parse_shared(topic_filter)
    return "+" in inner or "#" in inner


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether a valid topic filter matches a valid topic name.

    A shared subscription is matched by its inner filter. A filter that starts with a
    wildcard does not match a topic that starts with ``$`` [MQTT-4.7.2-1]; ``a/#`` also
    matches the parent ``a`` (MQTT 5.0 section 4.7.1.2).
    """
    if topic_filter.startswith(SHARE_PREFIX):
        _, topic_filter = parse_shared(topic_filter)
    if topic_filter == topic:
        return "+" not in topic and "#" not in topic
    if topic[:1] == "$" and topic_filter[:1] in ("+", "#"):
        return False
    if "+" not in topic_filter and "#" not in topic_filter:
        return False
    return levels_match(topic_filter.split("/"), topic.split("/"))


def levels_match(filter_levels: Sequence[str], topic_levels: Sequence[str]) -> bool:
    """:func:`topic_matches` on levels already split at ``/`` (for callers that keep them).

    Applies the same rules: the ``$`` rule [MQTT-4.7.2-1] and ``a/#`` matching ``a``.
    """
    if topic_levels[0][:1] == "$" and filter_levels[0] in ("+", "#"):
        return False
    ntopic = len(topic_levels)
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= ntopic:
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(filter_levels) == ntopic
