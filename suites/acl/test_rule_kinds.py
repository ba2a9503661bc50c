"""ACL scenarios: each kind of rule, probed from both sides.

One scenario per kind of rule the profile can hold: read-only, write-only, readwrite, deny,
``%u`` patterns, ``%c`` patterns, and the reach of ``#`` and ``+`` in a rule. For every
password user and every rule of that kind, a fresh topic the rule matches is published to
and subscribed to; the profile says whether each must get through. A rule kind is only
judged when the profile lets both an allowed and a denied probe be observed, since a broker
that denies everything passes every denial and one that allows everything every grant.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.security.acl import Grant

from ._judge import Lab, Tally, concrete
from ._support import VICTIM_CLIENT_ID, Actor, MqttClientFactory, unique

SPEC = ["MQTT-3.3.5-2", "MQTT-3.8.4-3", "MQTT-3.9.3-1"]


def _rule_topics(lab: Lab, rule: AclEntry, actor: Actor) -> list[str]:
    """Fresh topics *rule* matches: a pattern's as every identity (``%u``) and as the
    actor's own and a victim's client id (``%c``), so both sides are in the list."""
    if not rule.pattern:
        return [concrete(rule.topic, rule.user or "", actor.client_id)]
    owners = sorted(lab.profile.identities()) if "%u" in rule.topic else [actor.user]
    ids = [actor.client_id, VICTIM_CLIENT_ID] if "%c" in rule.topic else [actor.client_id]
    return [concrete(rule.topic, owner, cid) for owner in owners for cid in ids]


def _probe(
    lab: Lab,
    rules: list[AclEntry],
    extra: Callable[[AclEntry, Actor], list[str]] | None = None,
) -> Tally:
    """Every user publishes to, and subscribes to, the topics of every rule in *rules*
    (and *extra*'s topics for it); each result is judged against the profile."""
    tally = Tally()
    for user in lab.users:
        actor = lab.actor(user)
        for rule in rules:
            topics = _rule_topics(lab, rule, actor) + (extra(rule, actor) if extra else [])
            lab.judge(actor, topics, tally)
    return tally


def _user_rules(lab: Lab, grant: Grant) -> list[AclEntry]:
    return [r for r in lab.rules() if not r.pattern and r.user is not None and r.access is grant]


@pytest.mark.scenario(id="ACL-RULE-READ-ONLY", family="acl", severity="high", spec=SPEC)
def test_read_only_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics of every ``read`` rule (``alice: sensors/#``): its user receives what is
    published there but cannot publish there itself; other users get what the profile
    grants them, no more.

    Weakness classes: ``read`` treated as ``readwrite`` (one access bit checked for both
    directions), so a read-only dashboard account can inject commands.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _probe(lab, _user_rules(lab, Grant.READ)).require_both(mqtt_profile, "read rules")


@pytest.mark.scenario(id="ACL-RULE-WRITE-ONLY", family="acl", severity="high", spec=SPEC)
def test_write_only_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics of every ``write`` rule (``bob: sensors/bob/#``): its user's messages are
    delivered to readers, but it never receives the topic back when it subscribes.

    Weakness classes: write access implying read access (a sensor account that can read
    back the whole tree it writes into), SUBSCRIBE judged with the write bit.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _probe(lab, _user_rules(lab, Grant.WRITE)).require_both(mqtt_profile, "write rules")


@pytest.mark.scenario(id="ACL-RULE-READWRITE", family="acl", severity="medium", spec=SPEC)
def test_readwrite_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics of every ``readwrite`` user rule: its user may publish and receive there;
    the users without such a rule get only what their own rules give.

    Weakness classes: a user's rules applied to every user (rules keyed on the wrong
    identity), ``readwrite`` parsed as one of its halves.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    _probe(lab, _user_rules(lab, Grant.READWRITE)).require_both(mqtt_profile, "readwrite rules")


def _outside_deny(rule: AclEntry, actor: Actor) -> list[str]:
    """A sibling of the denied sub-tree (``sensors/<fresh>/x`` for ``sensors/private/#``):
    the broader grant still holds there, so the deny rule is seen from its allowed side."""
    levels = rule.topic.replace("%u", actor.user).replace("%c", actor.client_id).split("/")
    literal = [i for i, level in enumerate(levels) if level not in ("+", "#")]
    if not literal:
        return []
    levels[literal[-1]] = unique("beside")
    return [concrete("/".join(levels), actor.user, actor.client_id)]


@pytest.mark.scenario(id="ACL-RULE-DENY", family="acl", severity="high", spec=SPEC)
def test_deny_rules(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Topics inside every ``deny`` sub-tree (``alice: sensors/private/#`` under her
    ``sensors/#``) are neither readable nor writable by that user, while the sibling
    topics right beside the sub-tree stay as the broader rule grants.

    Weakness classes: deny rules ignored when a broader grant also matches (first match
    wins in the wrong order), deny applied to the whole parent tree (over-blocking).
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    rules = [r for r in lab.rules() if r.access is Grant.DENY]
    _probe(lab, rules, _outside_deny).require_both(mqtt_profile, "deny rules")


@pytest.mark.scenario(
    id="ACL-RULE-PATTERN-USERNAME", family="acl", severity="high", spec=["MQTT-3.1.3-5", *SPEC]
)
def test_username_patterns(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Every ``%u`` pattern (``users/%u/#``) made concrete for every identity: each user
    reads and writes its own sub-tree and nobody else's, in both directions.

    Weakness classes: ``%u`` expanded with the wrong identity or matched as a wildcard,
    pattern rules evaluated once per broker instead of per client.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    rules = [r for r in lab.rules() if r.pattern and "%u" in r.topic]
    _probe(lab, rules).require_both(mqtt_profile, "%u patterns")


@pytest.mark.scenario(
    id="ACL-RULE-PATTERN-CLIENTID", family="acl", severity="high", spec=["MQTT-3.1.3-5", *SPEC]
)
def test_client_id_patterns(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Every ``%c`` pattern (``devices/%c/telemetry`` write, ``devices/%c/commands/#``
    read) made concrete with the probing client's own id and another client's: each
    client has exactly the access the pattern gives to its own id, none to another's.

    Weakness classes: ``%c`` substituted with the username (or a stale client id after a
    reconnect), so devices share one sub-tree.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    rules = [r for r in lab.rules() if r.pattern and "%c" in r.topic and "%u" not in r.topic]
    _probe(lab, rules).require_both(mqtt_profile, "%c patterns")


def _extent(rule: AclEntry, actor: Actor) -> list[str]:
    """Topics at the edge of a wildcard rule: for ``p/#`` the parent ``p`` itself (which
    ``#`` matches [MQTT-4.7.1-2]), a deep topic, and siblings sharing ``p`` as a string
    prefix (``px/a``, ``px``); for ``+`` an empty level, no level and two levels."""
    topic = rule.topic.replace("%u", actor.user).replace("%c", actor.client_id)
    out: list[str] = []
    if topic.endswith("/#"):
        parent = topic[:-2]
        out += [concrete(parent, "", ""), concrete(parent + "/+/+/+/#", "", "")]
        if "+" not in parent:
            out += [parent + unique("x") + "/a", parent + unique("x")]
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if level != "+":
            continue
        for repl in ([""], [], [unique("a"), unique("b")]):
            out.append(concrete("/".join([*levels[:i], *repl, *levels[i + 1 :]]), "", ""))
    return [t for t in out if t and not t.startswith("$")]


@pytest.mark.scenario(
    id="ACL-RULE-WILDCARD-EXTENT",
    family="acl",
    severity="high",
    spec=["MQTT-4.7.1-2", "MQTT-4.7.1-3", *SPEC],
)
def test_wildcard_rule_extent(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """The reach of ``#`` and ``+`` inside rules, at their edges: ``sensors/#`` covers
    ``sensors`` and ``sensors/a/b/c/d`` but not ``sensorsX/a`` or ``sensorsX``; a ``+``
    covers one level (an empty one too) but not zero or two. Each edge topic is judged
    against the profile for every user, publishing and receiving.

    Weakness classes: ACL rules matched as string prefixes (``startswith("sensors")``
    grants ``sensors-admin/...``), ``+`` matching several levels, ``#`` not matching its
    parent level (over-blocking) or matching it for deny rules only.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    rules = [r for r in lab.rules() if "#" in r.topic or "+" in r.topic]
    tally = Tally()
    for user in lab.users:
        actor = lab.actor(user)
        lab.judge(actor, [t for rule in rules for t in _extent(rule, actor)], tally)
    tally.require_both(mqtt_profile, "wildcard rule edges")
