"""What a target declares it cannot enforce of the profile's ACL, so that a probe whose
verdict depends on it is left out (and a scenario left with nothing to judge ends as
*unsupported*, with the target's reason) instead of failing or erroring.

Targets list their limits in :attr:`~mqttsec.fixtures.targets.base.RunningTarget.unsupported`
(keys in ``fixtures/targets/_unsupported.py`` and the target modules). Those that change
*what* the broker grants are turned into the profile the broker really enforces (the
profile without the rules it cannot express); a probe is *settled* when the profile and
that enforced profile give the same verdict, and only settled probes are judged. So on
ActiveMQ (no deny rules) ``sensors/private/x`` is not probed for alice, while her
``sensors/x`` still is, and so are the deny rules' neighbours and every other user.

Two limits change *how* the broker answers rather than what it grants:

- ``subscribe-denied-closes``: a denied SUBSCRIBE or PUBLISH closes the connection. That is
  a legal refusal; :class:`~._actor.Actor` reconnects and carries on. Only a check that
  needs the same connection to go on (one SUBSCRIBE with allowed and denied filters) is
  unsupported then.
- ``acl-read-at-delivery``: read access is checked against the SUBSCRIBE filter only, so a
  deny sub-tree under a granted wildcard is delivered. Forbidden topics a granted wildcard
  covers are then not judged (see :meth:`Limits.read_at_subscribe_only`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.reference_broker.security.acl import Grant

__all__ = ["CLOSES", "READ_AT_SUBSCRIBE", "RETAIN_WILDCARD", "Limits"]

CLOSES = "subscribe-denied-closes"
READ_AT_SUBSCRIBE = "acl-read-at-delivery"
RETAIN_WILDCARD = "retain-wildcard"
"""Retained messages come only for a SUBSCRIBE of their exact topic (a feature limit: a
scenario about retained messages through a granted wildcard has nothing to observe)."""

LISTENER = "plain"


def _lost(rule: AclEntry, unsupported: Mapping[str, str]) -> str | None:
    """The key of the limit that keeps *rule* out of the broker's ACL, or None."""
    if "acl-deny" in unsupported and rule.access is Grant.DENY:
        return "acl-deny"
    if "acl-patterns" in unsupported and "%c" in rule.topic:
        return "acl-patterns"
    if "per-listener-acl" in unsupported and rule.listeners:
        return "per-listener-acl"
    if "acl-anonymous" in unsupported and rule.anonymous:
        return "acl-anonymous"
    return None


@dataclass(frozen=True)
class Limits:
    """The profile, what the target enforces of it, and the target's reasons.

    Attributes:
        profile: the profile under test (what must happen).
        enforced: the profile without the rules the target cannot express.
        reasons: limit key -> the target's reason, for the limits that matter here.
    """

    profile: SecurityProfile
    enforced: SecurityProfile
    reasons: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str, str, str], bool] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, unsupported: Mapping[str, str], profile: SecurityProfile) -> Limits:
        """The limits of a target whose ``unsupported`` map is *unsupported*."""
        # A rule not in force on the probed listener changes no verdict there.
        lost = {r: _lost(r, unsupported) if r.holds_on(LISTENER) else None for r in profile.acl}
        kept = tuple(rule for rule, key in lost.items() if key is None)
        keys = {key for key in lost.values() if key is not None}
        keys |= {key for key in (CLOSES, READ_AT_SUBSCRIBE) if key in unsupported}
        enforced = (
            profile if len(kept) == len(profile.acl) else dataclasses.replace(profile, acl=kept)
        )
        return cls(profile, enforced, {key: unsupported[key] for key in sorted(keys)})

    @classmethod
    def none(cls, profile: SecurityProfile) -> Limits:
        """No limits: the target enforces the whole profile."""
        return cls(profile, profile, {})

    def settled_publish(self, user: str, client_id: str, topic: str) -> bool:
        """Whether the target must answer a PUBLISH of *user* to *topic* as the profile says."""
        return self._settled("publish", user, client_id, topic)

    def settled_receive(self, user: str, client_id: str, topic: str) -> bool:
        """Whether the target must deliver *topic* to *user* exactly as the profile says."""
        return self._settled("receive", user, client_id, topic)

    def _settled(self, what: str, user: str, client_id: str, topic: str) -> bool:
        if self.enforced is self.profile:
            return True
        key = (what, user, client_id, topic)
        if key not in self._cache:
            ask = "may_publish" if what == "publish" else "may_receive"
            full = getattr(self.profile, ask)(user, topic, LISTENER, client_id=client_id)
            mine = getattr(self.enforced, ask)(user, topic, LISTENER, client_id=client_id)
            self._cache[key] = full == mine
        return self._cache[key]

    def settled_subscribe(self, user: str, client_id: str, topic_filter: str) -> bool:
        """Whether the target must answer a SUBSCRIBE to *topic_filter* as the profile says."""
        if self.enforced is self.profile:
            return True
        full = self.profile.may_subscribe(user, topic_filter, LISTENER, client_id=client_id)
        mine = self.enforced.may_subscribe(user, topic_filter, LISTENER, client_id=client_id)
        return full == mine

    @property
    def closes(self) -> str | None:
        """Why the broker closes the connection on a denied SUBSCRIBE/PUBLISH, if it does."""
        return self.reasons.get(CLOSES)

    def read_at_subscribe_only(self, filters: Iterable[str], topic: str) -> bool:
        """Whether delivering *topic* through one of the wildcard *filters* (granted to the
        reader) is the declared ``acl-read-at-delivery`` limit rather than a leak."""
        from ._support import matches  # the matcher lives with the probe plumbing

        if READ_AT_SUBSCRIBE not in self.reasons:
            return False
        inner = [
            f.split("/", 2)[2] if f.startswith("$share/") and f.count("/") > 1 else f
            for f in filters
        ]
        return any(("+" in f or "#" in f) and matches(f, topic) for f in inner)

    def why(self, *keys: str) -> str:
        """The target's reasons (for *keys*, or for every ACL limit), for an unsupported."""
        wanted = keys or tuple(k for k in self.reasons if k not in (CLOSES,))
        found = [f"{k}: {self.reasons[k]}" for k in wanted if k in self.reasons]
        return "; ".join(found) or "the target declares no limit here"
