"""Routes for the certificate-identity scenarios, found in the profile: which device
certificate, which topic its CN may use, which it may not, and which password user can
watch (or feed) both. Nothing is named here; a profile that cannot express the check makes
the scenario *unsupported*.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget
from mqttsec.suites.helpers import unique

from ._support import mtls_listeners

__all__ = ["Route", "identity_listener", "route"]


@dataclass(frozen=True, slots=True)
class Route:
    """Who and where, for one identity check.

    Attributes:
        listener: the mTLS listener that takes the certificate CN as username.
        device: the certificate's CN (the profile user it becomes).
        certificate: the profile certificate entry (PKI item ``client-<certificate>``).
        own: a topic the device may publish to (or read, for a subscribe check).
        foreign: a topic the device may not publish to (or read).
        reader: a password user who may read both topics.
        writer: a password user who may write both topics (and ``foreign`` is "theirs").
        reader_listener: where the password users log in.
    """

    listener: str
    device: str
    certificate: str
    own: str
    foreign: str
    reader: str
    writer: str
    reader_listener: str


def identity_listener(profile: SecurityProfile, target: RunningTarget) -> str:
    """The first mTLS listener whose certificate CN is the username, on this target."""
    if Capability.IDENTITY_AS_USERNAME not in target.capabilities:
        mqttsec_unsupported(f"{target.name} cannot take the certificate as identity")
    names = [
        n
        for n in mtls_listeners(profile, target)
        if profile.listener(n).identity_as_username
        and f"identity-as-username:{n}" not in target.unsupported
    ]
    if not names:
        mqttsec_unsupported("no mTLS listener takes the certificate as identity on this target")
    return names[0]


def _topics(profile: SecurityProfile, users: list[str]) -> list[str]:
    """A fresh concrete topic under every ACL rule, for every user (``%u`` filled in);
    rules on ``%c`` and ``$`` topics are left out (our client ids are random)."""
    out: list[str] = []
    for rule in profile.acl:
        if "%c" in rule.topic or rule.topic.startswith("$"):
            continue
        for user in users if "%u" in rule.topic else [""]:
            topic = rule.topic.replace("%u", user)
            if topic.endswith("#"):
                topic = topic[:-1] + unique()
            out.append(topic.replace("+", unique()))
    return out


def route(profile: SecurityProfile, target: RunningTarget, *, device_reads: bool = False) -> Route:
    """A route for a publish check (default) or a subscribe check (*device_reads*).

    Publish: the device may write ``own`` and not ``foreign``, ``reader`` may read both,
    ``writer`` may write ``foreign``. Subscribe: the device may read ``own`` and not
    ``foreign``, ``writer`` may write both (``reader`` is ``writer`` then).
    """
    listener = identity_listener(profile, target)
    watch = [
        item.name
        for item in profile.listeners
        if not (item.kind is ListenerKind.MTLS and item.identity_as_username)
        and f"listener:{item.name}" not in target.unsupported
    ]
    if not watch:
        mqttsec_unsupported(f"profile {profile.name!r} has no listener for password users")
    watch.sort(key=lambda name: profile.listener(name).kind is not ListenerKind.PLAIN)
    on = watch[0]
    # A target with one ACL for every listener grants only the rules that hold everywhere.
    one_acl = "per-listener-acl" in target.unsupported
    at, at_on = (None, None) if one_acl else (listener, on)
    users = sorted(profile.users)
    for cert in profile.certificates:
        device = cert.common_name
        if cert.revoked or not profile.may_connect(device, listener):
            continue
        topics = _topics(profile, sorted({*users, device}))

        def device_may(topic: str, device: str = device) -> bool:
            if device_reads:
                return profile.may_receive(device, topic, at, client_id=unique())
            return profile.may_publish(device, topic, at, client_id=unique())

        own = [t for t in topics if device_may(t)]
        foreign = [t for t in topics if not device_may(t)]
        for writer in users:
            for reader in [writer] if device_reads else users:
                for mine in own:
                    for theirs in foreign:
                        fits = profile.may_publish(writer, theirs, at_on) and all(
                            profile.may_receive(reader, t, at_on) for t in (mine, theirs)
                        )
                        if device_reads:
                            fits = fits and profile.may_publish(writer, mine, at_on)
                        if fits:
                            return Route(
                                listener, device, cert.name, mine, theirs, reader, writer, on
                            )
    mqttsec_unsupported(
        f"profile {profile.name!r}: no certificate identity with a topic it may and one it may "
        f"not {'read' if device_reads else 'write'}, watched by one password user"
    )
    raise AssertionError("unreachable")  # mqttsec_unsupported raises
