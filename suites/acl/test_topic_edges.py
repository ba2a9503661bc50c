"""ACL scenarios: topic names at the edges of the grammar, judged in both directions.

Topic names are compared level by level, byte for byte: ``/a``, ``a//b`` and ``a/`` are
three other topics than ``a`` and ``a/b`` [MQTT-4.7.3-1..4]; ``a／b`` (full-width solidus)
is one level, not two; ``café`` and ``cafe\u0301`` are two names. A topic may be up to 65535
bytes long [MQTT-1.5.3-1] and have as many levels as fit. Each variant here is judged
against the profile for every user, publishing and receiving: it must get exactly the
permission of *its own* name, not that of the name it resembles, in either direction.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest

from mqttsec.fixtures.plugin import deviation
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab, Tally
from ._support import Actor, MqttClientFactory, probe_topics

MAX_TOPIC = 65535
"""The longest topic an MQTT string can carry (a 16-bit length) [MQTT-1.5.3-1]."""


def _samples(lab: Lab, actor: Actor, per_side: int = 2) -> list[str]:
    """A few probe topics *actor* has some access to and a few it has none to."""
    topics = probe_topics(lab.profile, actor.client_id)
    some = [t for t in topics if actor.may_publish(t) or actor.may_receive(t)]
    none = [t for t in topics if t not in some]
    return some[:per_side] + none[:per_side]


def _judge_variants(lab: Lab, make: Callable[[str], list[str]], *, lenient: bool = False) -> Tally:
    """Every user is judged on every variant of its sample topics. With *lenient*, an
    allowed message the broker did not deliver is a deviation (a size limit refusing it
    leaks nothing), not a failure."""
    tally = Tally()
    for user in lab.users:
        actor = lab.actor(user)
        variants = [v for topic in _samples(lab, actor) for v in make(topic)]
        if not lenient:
            lab.judge(actor, variants, tally)
            continue
        for variant in variants:  # one at a time, so a refused size hides nothing else
            try:
                lab.judge(actor, [variant], tally)
            except AssertionError as exc:
                if not str(exc).startswith("NOT DELIVERED"):
                    raise
                deviation(f"{len(variant)}-byte topic not delivered: {str(exc)[:120]}")
                tally.refused += 1
    return tally


def empty_level_variants(topic: str) -> list[str]:
    """``/t``, ``t/``, ``a//b`` (an empty level after each level) and ``/t/``."""
    levels = topic.split("/")
    doubled = ["/".join([*levels[:i], "", *levels[i:]]) for i in range(1, len(levels))]
    return list(dict.fromkeys(["/" + topic, topic + "/", "/" + topic + "/", *doubled]))


@pytest.mark.scenario(
    id="ACL-TOPIC-EMPTY-LEVELS",
    family="acl",
    severity="medium",
    spec=["MQTT-4.7.3-1", "MQTT-4.7.1-2", "MQTT-3.3.5-2"],
)
def test_empty_levels(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics with a leading ``/``, a trailing ``/`` and an empty level inside
    (``sensors//x``) are published and subscribed to by every user; each gets the
    permission of that exact name (``/sensors/x`` is not under ``sensors/#``;
    ``sensors//x`` is).

    Weakness class: ACL engines that strip or collapse slashes before matching while the
    broker routes the raw name (or the reverse), so ``/secret/x`` slips past a
    ``secret/#`` deny, or ``a//b`` is judged as ``a/b``.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _judge_variants(lab, empty_level_variants).require_both(mqtt_profile, "empty levels")


def padded(topic: str, size: int) -> str:
    """*topic* with one more level of ``x`` making it exactly *size* bytes long."""
    return f"{topic}/{'x' * (size - len(topic.encode()) - 1)}"


@pytest.mark.scenario(
    id="ACL-TOPIC-LONG",
    family="acl",
    severity="medium",
    spec=["MQTT-1.5.3-1", "MQTT-4.7.3-3", "MQTT-3.3.5-2"],
)
def test_very_long_topics(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics of exactly 65535 bytes (the sample topic plus one long level) are published
    and subscribed to by every user; each gets the permission of its prefix. A broker
    may refuse such sizes (a deviation, not a leak), never grant more.

    Weakness class: fixed-size buffers or truncation in the ACL matcher (the check sees
    the first N bytes, routing sees all), or a length limit that fails open.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = _judge_variants(lab, lambda t: [padded(t, MAX_TOPIC)], lenient=True)
    if not tally.refused:  # a broker refusing every such topic ends as a deviation
        tally.require_both(mqtt_profile, "65535-byte topics")


LEVEL_LIMIT = 200
"""Levels a topic may have on mosquitto (``TOPIC_HIERARCHY_LIMIT``) and in the reference
ACL engine; deeper topics are refused outright, so the edge is probed, not beyond it."""


def deep(topic: str, levels: int = LEVEL_LIMIT) -> str:
    """*topic* followed by one-byte levels up to *levels* levels in all."""
    return topic + "/a" * (levels - len(topic.split("/")))


@pytest.mark.scenario(
    id="ACL-TOPIC-MANY-LEVELS",
    family="acl",
    severity="medium",
    spec=["MQTT-4.7.1-2", "MQTT-4.7.3-3", "MQTT-3.3.5-2"],
)
def test_many_levels(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics of 200 levels (the common broker limit) below each sample topic are
    published and subscribed to by every user; each gets the permission of its prefix,
    and the broker keeps serving (a recursive matcher must not blow its stack). Refusing
    the depth is a deviation, never a grant.

    Weakness class: recursive topic matchers that crash or give up (and then allow) on
    deep topics; level-count limits that fail open.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = _judge_variants(lab, lambda t: [deep(t)], lenient=True)
    if not tally.refused:  # a broker refusing every such topic ends as a deviation
        tally.require_both(mqtt_profile, "deep topics")


_HOMOGLYPHS = str.maketrans(
    {"a": "\u0430", "e": "\u0435", "o": "\u043e", "s": "\u0455", "c": "\u0441"}
)


def unicode_variants(topic: str) -> list[str]:
    """Look-alikes of *topic*: full-width and division slashes for ``/``, Cyrillic
    homoglyphs, full-width letters (NFKC folds them back), a BOM in front, and an
    accented level in NFC and in NFD."""
    head, _, tail = topic.partition("/")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and c != "/" else c for c in topic)
    accented = unicodedata.normalize("NFC", "caf\u00e9")
    out = [
        topic.replace("/", "\uff0f"),
        topic.replace("/", "\u2215"),
        head.translate(_HOMOGLYPHS) + ("/" + tail if tail else ""),
        fullwidth,
        "\ufeff" + topic,
        f"{topic}/{accented}",
        f"{topic}/{unicodedata.normalize('NFD', accented)}",
    ]
    return [v for v in dict.fromkeys(out) if v != topic]


@pytest.mark.scenario(
    id="ACL-TOPIC-UNICODE-LOOKALIKE",
    family="acl",
    severity="medium",
    spec=["MQTT-1.5.4-3", "MQTT-4.7.3-4", "MQTT-3.3.5-2"],
)
def test_unicode_lookalikes(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Unicode look-alikes of topics (full-width solidus ``／`` and division slash ``∕``
    in place of ``/``, Cyrillic homoglyphs, full-width letters, a leading BOM, an accented
    level in NFC and NFD) are published and subscribed to by every user: each gets the
    permission of its own name, so ``sensors／private／x`` is one level that
    ``sensors/#`` does not cover, and a BOM is part of the name [MQTT-1.5.4-3].

    Weakness class: Unicode normalisation (NFKC folds ``／`` into ``/``) or homoglyph
    folding applied on one side of the ACL check only, reaching a different permission
    than the one judged.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _judge_variants(lab, unicode_variants).require_both(mqtt_profile, "unicode look-alikes")
