"""Who plays which part in the multi-user auth scenarios, chosen from the profile's ACL.

Each plan names users and fresh concrete topics whose permissions differ in exactly the way
a scenario needs (a topic one user may read and another may not, one user may write and
another may not). A profile without such a pair makes the scenario *unsupported*.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqttsec.fixtures.clients import MqttClient
from mqttsec.fixtures.plugin import RawClientFactory, mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import ProtocolVersion

from ._support import (
    PROBE_CLIENT_ID,
    MqttClientFactory,
    password_users,
    persistent_login,
    unique,
)

__all__ = [
    "Escalation",
    "Takeover",
    "connect_victim",
    "escalation_plan",
    "take_over",
    "takeover_plan",
]


@dataclass(frozen=True, slots=True)
class Takeover:
    """Two users and two topics for a client-id takeover.

    Attributes:
        victim: owns the client id first.
        attacker: another user who logs in with the victim's client id.
        publisher: may write both topics.
        secret: the victim may read it, the attacker may not.
        shared: both may read it (the sentinel's topic).
    """

    victim: str
    attacker: str
    publisher: str
    secret: str
    shared: str


@dataclass(frozen=True, slots=True)
class Escalation:
    """A user and a more privileged one, for "does this connection gain privileges".

    Attributes:
        low: the user a connection is logged in as.
        high: a user who may write *forbidden*, which *low* may not.
        reader: may receive *forbidden* and *sentinel*.
        forbidden: a fresh topic *high* may write and *low* may not.
        sentinel: a fresh topic *high* may write (the sentinel's topic).
    """

    low: str
    high: str
    reader: str
    forbidden: str
    sentinel: str


def _candidates(profile: SecurityProfile, user: str) -> list[str]:
    """Fresh concrete topics under each ACL rule (``%u`` filled in for *user*)."""
    out = []
    for rule in profile.acl:
        if "%c" in rule.topic or rule.topic.startswith("$"):
            continue
        base = rule.topic.replace("%u", user)
        out.append(base[:-1] + unique() if base.endswith("#") else base)
    return [t.replace("+", "x") for t in out]


def takeover_plan(profile: SecurityProfile) -> Takeover:
    """Two users and two topics for a takeover scenario, chosen from the profile's ACL."""
    users = password_users(profile)
    cid = PROBE_CLIENT_ID

    def reads(user: str, topic: str) -> bool:
        return profile.may_receive(user, topic, "plain", client_id=cid)

    def writes(user: str, topic: str) -> bool:
        return profile.may_publish(user, topic, "plain", client_id=cid)

    topics = [t for u in users for t in _candidates(profile, u)]
    for victim in users:
        for attacker in users:
            if attacker == victim:
                continue
            secret = [t for t in topics if reads(victim, t) and not reads(attacker, t)]
            shared = [t for t in topics if reads(victim, t) and reads(attacker, t)]
            for s in secret:
                for h in shared:
                    for publisher in users:
                        if writes(publisher, s) and writes(publisher, h):
                            return Takeover(victim, attacker, publisher, s, h)
    mqttsec_unsupported(
        f"profile {profile.name!r} has no two users with a topic only one of them may read "
        "and one both may read"
    )
    raise AssertionError("unreachable")


def connect_victim(mqtt_client: MqttClientFactory, plan: Takeover, client_id: str) -> MqttClient:
    """The victim, logged in on *client_id* with a persistent session and subscribed (QoS 1)
    to the secret and the shared topic."""
    victim = mqtt_client(plan.victim, client_id=client_id, clean=False, connect=False)
    assert victim.connect(session_expiry=600) == 0, victim.refusal
    assert all(code < 0x80 for code in victim.subscribe(plan.secret, plan.shared, qos=1))
    return victim


def take_over(
    raw_client: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    plan: Takeover,
    client_id: str,
) -> RawClient | None:
    """The attacker logs in with the victim's *client_id* and asks to resume its session.

    Returns:
        The attacker's connection when the broker resumed the session (Session Present 1);
        None when it refused the attacker or started afresh: then nothing was inherited.
    """
    attacker, answer = persistent_login(raw_client, profile, version, plan.attacker, client_id)
    if int(answer.reason_code) != 0 or not answer.session_present:
        return None
    return attacker


def escalation_plan(profile: SecurityProfile) -> Escalation:
    """A low and a high user and the topics to tell their write rights apart."""
    users = password_users(profile)
    cid = PROBE_CLIENT_ID
    topics = [t for u in users for t in _candidates(profile, u)]
    for high in users:
        for low in users:
            if low == high:
                continue
            for forbidden in topics:
                if not profile.may_publish(high, forbidden, "plain", client_id=cid):
                    continue
                if profile.may_publish(low, forbidden, "plain", client_id=cid):
                    continue
                for reader in users:
                    if not profile.may_receive(reader, forbidden, "plain", client_id=cid):
                        continue
                    for sentinel in topics:
                        if (
                            sentinel != forbidden
                            and profile.may_publish(high, sentinel, "plain", client_id=cid)
                            and profile.may_receive(reader, sentinel, "plain", client_id=cid)
                        ):
                            return Escalation(low, high, reader, forbidden, sentinel)
    mqttsec_unsupported(
        f"profile {profile.name!r} has no topic one user may write and another may not "
        "(with a third that may read it)"
    )
    raise AssertionError("unreachable")
