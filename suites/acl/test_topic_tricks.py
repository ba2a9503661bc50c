"""ACL scenarios: topic names that look like, but are not, a protected topic.

MQTT topics are compared byte for byte after UTF-8 decoding: ``/a``, ``a//b``, ``a/b/``,
``A/B`` and ``а/b`` (Cyrillic а) are all different topics [MQTT-4.7.3-1..4]. A broker (or an
ACL plugin) that normalises names in one place (case folding, Unicode NFKC, collapsing
empty levels, trimming) and not in another turns an allowed name into a forbidden one.
"""

from __future__ import annotations

import unicodedata

import pytest

from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab
from ._support import (
    MqttClientFactory,
    barred_from_sending,
    find_sentinel,
    gets,
    narrow_readers,
    plan_leak,
    probe_topics,
    read_until,
    unique,
)

SPEC = ["MQTT-4.7.3-1", "MQTT-4.7.3-4", "MQTT-1.5.3-1"]

_LOOKALIKE = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "s": "\u0455"})


def variants(topic: str) -> list[str]:
    """Names a careless normaliser maps to *topic*; none of them equals it."""
    head, _, tail = topic.partition("/")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and c != "/" else c for c in topic)
    out = [
        "/" + topic,
        f"{head}//{tail}" if tail else topic + "//",
        topic + "/",
        topic.upper(),
        topic.translate(_LOOKALIKE),
        fullwidth,
        f"{head}\u200b/{tail}",
        f"{head} /{tail}",
        unicodedata.normalize("NFD", "\u00e9") + topic,  # a combining sequence in front
    ]
    return [v for v in dict.fromkeys(out) if v != topic]


@pytest.mark.scenario(id="ACL-TOPIC-TRICKS-SUBSCRIBE", family="acl", severity="medium", spec=SPEC)
def test_lookalike_filters_do_not_match(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes to look-alikes of topics it may not read (leading ``/``, empty
    level, trailing ``/``, upper case, Cyrillic and full-width letters, zero-width space,
    trailing space), and to the same with ``/#``; a message on the real topic never
    arrives.

    Weakness class: topic normalisation on the subscription side (case folding, NFKC,
    collapsing ``//``) that makes a filter granted for a harmless-looking name match the
    protected one.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for name in lab.users:
        reader = lab.actor(name)
        if not narrow_readers(mqtt_profile, [reader]):
            continue
        leak = plan_leak(mqtt_profile, lab.standing.values(), reader)
        if leak is None:
            continue
        granted: list[str] = []
        for real in leak.forbidden[:4]:
            tricks = variants(real)
            filters = [*tricks, *(t + "/#" for t in tricks if not t.endswith("/"))]
            codes = reader.subscribe(*filters)
            granted += [f for f, c in zip(filters, codes, strict=True) if c < 0x80]
        kept = lab.beyond_limits(reader, granted, leak.forbidden[:4])
        if not kept:
            continue
        assert reader.subscribe(leak.sentinel)[0] < 0x80
        forbidden = {unique(f"trick-{name}").encode(): t for t in kept}
        for payload, topic in forbidden.items():
            leak.writer.publish(topic, payload)
        token = unique("trick-sentinel").encode()
        leak.writer.publish(leak.sentinel, token)
        read_until(reader, token, forbidden)
        checked += 1
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")


@pytest.mark.scenario(id="ACL-TOPIC-TRICKS-PUBLISH", family="acl", severity="medium", spec=SPEC)
def test_lookalike_topics_do_not_reach_the_real_one(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user publishes to look-alikes of topics it may not write (whether the profile
    allows the look-alike or not); a reader subscribed to the real topic receives nothing
    on it. A look-alike is a different topic: delivering it as the real one is forging.

    Weakness class: topic normalisation on the publish side, after the write ACL check
    (mosquitto's open issues on plugins that rewrite topics without an ACL re-check).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for author in [lab.actor(u) for u in lab.users]:
        for real in probe_topics(mqtt_profile, author.client_id):
            if not barred_from_sending(author, real):
                continue
            plans = [
                (o, s)
                for o in lab.standing.values()
                if gets(o, real) and (s := find_sentinel(mqtt_profile, author, o))
            ]
            if not plans:
                continue
            observer, sentinel = plans[0]
            assert observer.subscribe(real, sentinel)[0] < 0x80
            forbidden: dict[bytes, str] = {}
            for trick in variants(real):
                payload = unique("lookalike").encode()
                forbidden[payload] = real
                author.try_publish(trick, payload)  # refused by closing: reconnects
            token = unique("trick-sentinel").encode()
            author.send_sentinel(sentinel, token)
            for message in read_until(observer, token, {}):
                assert message.payload not in forbidden or message.topic != real, (
                    f"LEAK: {author.user!r} published to a look-alike of {real!r} and it "
                    f"was delivered as {real!r}"
                )
            checked += 1
            break
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r}: no observable forbidden topic")
