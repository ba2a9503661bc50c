"""ACL scenarios: identities chosen by an attacker must not widen ``%u``/``%c`` patterns.

A pattern rule is a template: ``users/%u/#`` and ``devices/%c/commands/#`` are filled in
with the client's username and client id. Anything in those strings that means something
to the matcher (``#``, ``+``, ``/``, an empty string, another placeholder, a different
Unicode spelling of someone else's id) turns one client's rule into a rule over others
(mosquitto CVE-2017-7650; NanoMQ placeholder injection; RabbitMQ's unescaped client id in
a permission regex). The usernames come from the profile, so for them the first line of
defence is that such names cannot log in at all; the client id is the attacker's choice.
"""

from __future__ import annotations

import unicodedata

import pytest

from mqttsec.fixtures.clients import ClientError
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab, Tally, concrete
from ._support import LISTENER, VICTIM_CLIENT_ID, Actor, MqttClientFactory

SPEC = ["MQTT-3.1.3-5", "MQTT-4.7.1-1", "MQTT-3.8.4-3"]

EVIL_USERNAMES = ("#", "+", "+/+", "{victim}/#", "{victim}/x", "")


def _connects(actor: Actor) -> bool:
    """Whether the broker accepts *actor*'s identity (refusing it is always safe)."""
    try:
        return actor.client.connected
    except ClientError:
        return False


def _patterns(lab: Lab, placeholder: str) -> list[str]:
    return [r.topic for r in lab.rules() if r.pattern and placeholder in r.topic]


@pytest.mark.scenario(id="ACL-USERNAME-WILDCARD", family="acl", severity="critical", spec=SPEC)
def test_wildcard_usernames_do_not_widen(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Usernames ``#``, ``+``, ``+/+``, ``<victim>/#``, ``<victim>/x`` and the empty
    string try to log in, with a profile user's password and with none. Unless the
    profile declares such a user, the broker must refuse each; where it accepts one the
    profile declares, that user gets its own ``%u`` sub-tree and no other user's.

    Weakness class: placeholder injection through the username (mosquitto CVE-2017-7650:
    a username of ``#`` turned ``pattern readwrite users/%u/#`` into ``users/#/#``), and
    the authentication shortcut that lets such a name in at all.
    """
    if getattr(mqtt_profile, "login_throttle", None) is not None:
        mqttsec_unsupported(
            f"profile {mqtt_profile.name!r} throttles logins: a dozen refused logins from "
            "127.0.0.1 would lock the other scenarios out"
        )
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    victim = lab.users[0]
    secrets = [None, mqtt_profile.users[victim].password]
    tally = Tally()
    tried = 0
    for template in EVIL_USERNAMES:
        evil = template.replace("{victim}", victim)
        declared = mqtt_profile.may_connect(evil, LISTENER)
        for secret in secrets:
            client = mqtt_client(evil, password=secret, connect=False)
            code = client.connect()
            tried += 1
            if code != 0:
                continue
            assert declared, (
                f"LEAK: username {evil!r} logged in (password "
                f"{'none' if secret is None else 'of another user'}) though the profile "
                "has no such user"
            )
            client.close()
            actor = lab.actor(evil)
            owners = (evil, *lab.users)
            topics = [concrete(p, o, actor.client_id) for p in _patterns(lab, "%u") for o in owners]
            lab.judge(actor, topics, tally)
    if not tried:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no password user")


def _judge_ids(lab: Lab, attacker_ids: list[tuple[str, list[str]]]) -> Tally:
    """For each (attacker client id, ids of others): the first user with narrow rights
    there who may connect with the attacker id is judged on the ``%c`` topics of its own id and of the others'."""
    tally = Tally()
    for evil, others in attacker_ids:
        for user in lab.users:
            actor = lab.actor(user, client_id=evil)
            topics = [
                concrete(pattern, user, owner)
                for pattern in _patterns(lab, "%c")
                for owner in (evil, *others)
            ]
            if all(actor.may_publish(t) and actor.may_receive(t) for t in topics):
                continue  # a user who may do everything there shows nothing
            if not _connects(actor):
                continue
            lab.judge(actor, topics, tally)
            actor.close()
            break  # %c patterns hold for every user alike: one user per id is enough
    return tally


@pytest.mark.scenario(id="ACL-CLIENTID-EMPTY", family="acl", severity="high", spec=SPEC)
def test_empty_client_id(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A client connects with an empty client id (the broker assigns one, or refuses
    [MQTT-3.1.3-8]) and probes other clients' ``%c`` sub-trees: none is readable or
    writable. An empty ``%c`` must not turn ``devices/%c/commands/#`` into a filter over
    every device.

    Weakness class: placeholder substitution with an empty string (or before the
    assigned id exists) producing ``devices//commands/#`` or, after collapsing ``//``,
    ``devices/commands/#``; rules evaluated with a NULL client id as "match any".
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = Tally()
    for user in lab.users:
        actor = lab.actor(user, client_id="")
        if not _connects(actor):
            continue
        owners = (VICTIM_CLIENT_ID, lab.standing[user].client_id)
        lab.judge(
            actor, [concrete(p, user, o) for p in _patterns(lab, "%c") for o in owners], tally
        )
    if not tally.denied:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r}: no observable %c probe")


@pytest.mark.scenario(id="ACL-CLIENTID-PLACEHOLDER", family="acl", severity="medium", spec=SPEC)
def test_placeholder_client_ids(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Client ids that are placeholders themselves (``%u``, ``%c``, ``%%c``, ``%u%c``):
    the literal id's sub-tree is the client's own, but the sub-tree of the client whose
    id is the username (what a second substitution pass would give) is not.

    Weakness class: substitution applied repeatedly or in the wrong order, so a client id
    of ``%u`` is expanded again to the username and reaches ``devices/<username>/...``.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    ids = [(evil, [VICTIM_CLIENT_ID]) for evil in ("%u", "%c", "%%c", "%u%c")]
    tally = _judge_ids(lab, ids)
    for user in lab.users:  # the sub-trees a second pass would reach
        for evil in ("%u", "%u%c"):
            actor = lab.actor(user, client_id=evil)
            if _connects(actor):
                owners = (user, user + evil)
                topics = [concrete(p, user, o) for p in _patterns(lab, "%c") for o in owners]
                lab.judge(actor, topics, tally)
                actor.close()
    tally.require_both(mqtt_profile, "placeholder client ids")


def _lookalikes(victim: str) -> list[str]:
    """Ids a careless normaliser maps to *victim* (or *victim* to them)."""
    nfd = unicodedata.normalize("NFD", victim)
    nfc = unicodedata.normalize("NFC", victim)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in victim)
    homoglyph = victim.replace("e", "\u0435").replace("a", "\u0430").replace("c", "\u0441")
    out = [nfc, nfd, victim.upper(), fullwidth, homoglyph, victim + " ", "\ufeff" + victim]
    return [v for v in dict.fromkeys(out) if v != victim]


@pytest.mark.scenario(
    id="ACL-CLIENTID-LOOKALIKE", family="acl", severity="high", spec=["MQTT-1.5.4-3", *SPEC]
)
def test_lookalike_client_ids(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """Victim client ids with accents (``café`` decomposed, NFD) and plain ASCII; the
    attacker uses a look-alike: the other normal form, upper case, full-width letters,
    Cyrillic homoglyphs, a trailing space, a leading BOM. The attacker owns the
    look-alike's ``%c`` sub-tree and nothing of the victim's.

    Weakness class: client ids normalised (NFKC, case folding, trimming) before the
    pattern is filled in but not when the victim's tree was named, or the other way
    round, so two distinct ids share one sub-tree.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    victims = [unicodedata.normalize("NFD", "mqttsec-caf\u00e9-device"), "mqttsec-device-ace"]
    ids = [(evil, [victim]) for victim in victims for evil in _lookalikes(victim)]
    _judge_ids(lab, ids).require_both(mqtt_profile, "look-alike client ids")


@pytest.mark.scenario(id="ACL-CLIENTID-OTHER-USERNAME", family="acl", severity="high", spec=SPEC)
def test_client_id_named_like_another_user(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user connects with another user's name as its client id (alice as ``bob``):
    it gets the ``%c`` sub-tree of client ``bob`` (that is what the pattern says) but
    none of user bob's ``%u`` sub-tree.

    Weakness class: ``%u`` filled in from the client id (or the client id used as the
    identity when both are present), so naming the connection after a user is logging
    in as that user as far as the ACL is concerned.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    tally = Tally()
    for user in lab.users:
        for other in lab.users:
            if other == user:
                continue
            actor = lab.actor(user, client_id=other)
            if not _connects(actor):
                continue
            patterns = _patterns(lab, "%u") + _patterns(lab, "%c")
            lab.judge(actor, [concrete(p, other, other) for p in patterns], tally)
            actor.close()
            break
    tally.require_both(mqtt_profile, "client ids named like users")
