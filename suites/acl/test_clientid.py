"""ACL scenarios: ``%c`` patterns with a client id chosen by an attacker.

A pattern such as ``devices/%c/commands/#`` gives each client its own sub-tree, named by the
client id, which the client picks itself. A client id of ``+`` or ``#`` turns the rule into
a wildcard over every device; one containing ``/`` reaches into another device's tree
(``v/commands`` reads ``devices/v/commands/commands/...``, which belongs to ``v``). The
same holds for ``%u`` with such usernames (mosquitto CVE-2017-7650); usernames come from
the profile, so the client id is the part an attacker controls here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mqttsec.fixtures.clients import ClientError
from mqttsec.fixtures.expect import expect_not_delivered
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab
from ._support import (
    VICTIM_CLIENT_ID,
    Actor,
    MqttClientFactory,
    barred_from_getting,
    barred_from_sending,
    find_sentinel,
    gets,
    sends,
    unique,
)

SPEC = ["MQTT-3.1.3-5", "MQTT-4.7.1-1"]


def _evil_ids(pattern: str) -> list[str]:
    """Client ids that widen *pattern* when substituted for ``%c``."""
    rest = pattern.split("%c", 1)[1].strip("/")
    ids = ["+", "#", "+/+"]
    if rest.endswith("#") and rest[:-1].strip("/"):
        ids.append(f"{VICTIM_CLIENT_ID}/{rest[:-1].strip('/')}")
    return ids


def _victim_topic(pattern: str, evil: str) -> str:
    """A topic of another client that *pattern* with client id *evil* would match."""
    if evil.startswith(VICTIM_CLIENT_ID + "/"):
        owner = evil
    elif evil == "+/+":
        owner = f"{VICTIM_CLIENT_ID}/x"  # a client whose id has one '/'
    else:
        owner = VICTIM_CLIENT_ID
    topic = pattern.replace("%c", owner)
    return "/".join(unique("x") if lvl in ("+", "#") else lvl for lvl in topic.split("/"))


def _connect(actor: Actor) -> bool:
    """Whether the broker accepts the client id (refusing it is safe)."""
    try:
        return actor.client.connected
    except ClientError:
        return False


def _labelled(name: str, evil: str) -> Callable[..., object]:
    """expect_not_delivered, with the user and the client id in a leak's message."""

    def check(*args: Any, **kwargs: Any) -> object:
        try:
            return expect_not_delivered(*args, **kwargs)
        except AssertionError as exc:
            raise AssertionError(f"{name!r} with client id {evil!r}: {exc}") from None

    return check


def _patterns(profile: SecurityProfile, access: str) -> list[str]:
    return [
        r.topic
        for r in profile.acl
        if r.pattern and "%c" in r.topic and "%u" not in r.topic and access in r.access.value
    ]


@pytest.mark.scenario(id="ACL-CLIENTID-WILDCARD-READ", family="acl", severity="critical", spec=SPEC)
def test_client_id_does_not_widen_read(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """For every ``%c`` read pattern, a user connects with a client id of ``+``, ``#``,
    ``+/+`` or ``<victim>/<rest of the pattern>`` and subscribes to a topic of another
    client's sub-tree; a message published there never reaches it. A broker may refuse
    such client ids.

    Weakness class: placeholder injection in pattern ACLs (mosquitto CVE-2017-7650,
    NanoMQ); client ids put unescaped into a permission regex (RabbitMQ).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for pattern in _patterns(mqtt_profile, "read"):
        for evil in _evil_ids(pattern):
            topic = _victim_topic(pattern, evil)
            for name in lab.users:
                attacker = lab.actor(name, client_id=evil)
                if not barred_from_getting(attacker, topic):
                    continue
                plans = [
                    (w, s)
                    for w in lab.standing.values()
                    if sends(w, topic) and (s := find_sentinel(mqtt_profile, w, attacker))
                ]
                if not plans or not _connect(attacker):
                    continue
                writer, sentinel = plans[0]
                attacker.subscribe(topic)
                assert attacker.subscribe(sentinel)[0] < 0x80
                payload = unique("victim-command").encode()
                try:
                    expect_not_delivered(attacker, writer, topic, payload, sentinel_topic=sentinel)
                except AssertionError as exc:
                    raise AssertionError(f"{name!r} with client id {evil!r}: {exc}") from None
                checked += 1
                break
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no observable %c read pattern")


@pytest.mark.scenario(
    id="ACL-CLIENTID-WILDCARD-WRITE", family="acl", severity="critical", spec=SPEC
)
def test_client_id_does_not_widen_write(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """For every ``%c`` write pattern, a user with a client id of ``+``, ``#`` or ``+/+``
    publishes to another client's topic (``devices/<victim>/telemetry``); a user who may
    read it never receives it.

    Weakness class: as ACL-CLIENTID-WILDCARD-READ, on the write side: forged telemetry in
    the name of any device (mosquitto CVE-2017-7650).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = 0
    for pattern in _patterns(mqtt_profile, "write"):
        for evil in _evil_ids(pattern):
            topic = _victim_topic(pattern, evil)
            for name in lab.users:
                attacker = lab.actor(name, client_id=evil)
                if not barred_from_sending(attacker, topic):
                    continue
                plans = [
                    (o, s)
                    for o in lab.standing.values()
                    if gets(o, topic) and (s := find_sentinel(mqtt_profile, attacker, o))
                ]
                if not plans or not _connect(attacker):
                    continue
                observer, sentinel = plans[0]
                assert observer.subscribe(topic, sentinel)[0] < 0x80
                payload = unique("forged").encode()
                _expect_not_delivered = _labelled(name, evil)
                _expect_not_delivered(
                    observer,
                    attacker,
                    topic,
                    payload,
                    sentinel_topic=sentinel,
                    sentinel_publisher=attacker,
                )
                checked += 1
                break
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no observable %c write pattern")
