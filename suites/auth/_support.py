"""Helpers shared by the auth scenarios: picking users and topics from the profile, exact
CONNECT bytes, and the verdict on a login attempt.

Nothing here hard-codes a user or a topic: every choice is asked of the
:class:`~mqttsec.fixtures.profile.SecurityProfile`, so the scenarios hold for any profile
that has at least one password user (and say *unsupported* when a profile cannot express a
check, never pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mqttsec.fixtures.clients import ClientTimeout, PeerClosed
from mqttsec.fixtures.plugin import RawClientFactory, deviation, mqttsec_unsupported
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import Connack, ProtocolVersion
from mqttsec.suites.helpers import PROBE_CLIENT_ID, connect_bytes, password_users, unique

__all__ = [
    "PROBE_CLIENT_ID",
    "Route",
    "attempt",
    "connect_bytes",
    "find_route",
    "password_listeners",
    "password_users",
    "refusal_codes",
    "refuse_all",
    "require_refused",
    "still_serves",
    "unique",
    "unknown_username",
    "wait_closed",
]

_V311_REFUSED = frozenset({0x04, 0x05})  # bad user name or password / not authorized
_V5_REFUSED = frozenset({0x86, 0x87})  # bad user name or password / not authorized


def refusal_codes(version: ProtocolVersion) -> frozenset[int]:
    """The CONNACK codes that mean "refused because of the credentials" in *version*."""
    return _V5_REFUSED if version is ProtocolVersion.V5 else _V311_REFUSED


def password_listeners(profile: SecurityProfile) -> list[str]:
    """Listeners where a username and password are the identity (not an mTLS certificate)."""
    return [
        item.name
        for item in profile.listeners
        if not (item.kind is ListenerKind.MTLS and item.identity_as_username)
    ]


def unknown_username(profile: SecurityProfile) -> str:
    """A username that is no identity of the profile."""
    name = unique("mqttsec-nobody")
    assert name not in profile.identities()
    return name


# ---------------------------------------------------------------------- verdicts


def attempt(raw: RawClient, data: bytes) -> Connack | None:
    """Send exact CONNECT bytes; the CONNACK, or None when the broker closed without one.

    A broker that neither answers nor closes within the client's timeout is refusing too
    (it did not let the client in); that is reported as None as well.
    """
    raw.send_bytes(data)
    try:
        return raw.expect(Connack)
    except (PeerClosed, ClientTimeout):
        return None


def wait_closed(raw: RawClient) -> None:
    """Read until the broker closes *raw* (bounded by its timeout), then close it ourselves.

    Once the broker has closed a connection it is done with it: whatever it would publish
    because of it (a will) has been published before the next client's sentinel.
    """
    try:
        while raw.recv_or_closed() is not None:
            pass
    except ClientTimeout:
        pass
    raw.close()


def require_refused(
    answer: Connack | int | None,
    version: ProtocolVersion,
    what: str,
    *,
    malformed: bool = False,
) -> None:
    """The verdict on a login that must not succeed.

    Acceptance fails the scenario. A refusal passes; for a well-formed CONNECT, a code
    other than the version's "bad credentials"/"not authorized" codes, or a close without
    any CONNACK (the spec says the server SHOULD answer), is recorded as a deviation.
    For a *malformed* CONNECT closing the connection is what the spec asks, and any
    non-zero CONNACK is fine too.
    """
    code = int(answer.reason_code) if isinstance(answer, Connack) else answer
    assert code != 0, f"ACCEPTED: {what} was let in (CONNACK 0x00)"
    if malformed:
        return
    if code is None:
        deviation(f"{what}: connection closed without a CONNACK (a refusal SHOULD carry a code)")
    elif code not in refusal_codes(version):
        expected = ", ".join(f"{c:#04x}" for c in sorted(refusal_codes(version)))
        deviation(f"{what}: refused with CONNACK {code:#04x}; expected one of {expected}")


Credentials = tuple[bytes | None, bytes | None]
"""A (username, password) pair as the bytes on the wire; None leaves the field out."""


def refuse_all(
    raw_client: RawClientFactory,
    version: ProtocolVersion,
    tries: Mapping[str, Credentials],
    *,
    malformed: bool = False,
) -> None:
    """Every login in *tries* (what it is -> credentials), each on its own connection with
    a fresh client id, must be refused (see :func:`require_refused`)."""
    for how, (username, password) in tries.items():
        raw = raw_client()
        data = connect_bytes(
            version, client_id=unique().encode(), username=username, password=password
        )
        require_refused(attempt(raw, data), version, how, malformed=malformed)
        raw.close()


def still_serves(
    raw_client: RawClientFactory, profile: SecurityProfile, version: ProtocolVersion
) -> None:
    """The broker survived what came before: a profile user still logs in."""
    user = password_users(profile)[0]
    raw = raw_client()
    data = connect_bytes(
        version,
        client_id=unique().encode(),
        username=user.encode(),
        password=profile.users[user].password.encode(),
    )
    answer = attempt(raw, data)
    assert answer is not None and int(answer.reason_code) == 0, (
        f"afterwards {user!r} can no longer log in: {answer!r}"
    )
    raw.close()


# ---------------------------------------------------------------------- topics


@dataclass(frozen=True, slots=True)
class Route:
    """A path a message can take according to the profile.

    Attributes:
        writer: a password user who may publish to every topic in *topics*.
        reader: a password user who may receive every topic in *topics*.
        topics: distinct, unused topic names (fresh for every call).
    """

    writer: str
    reader: str
    topics: tuple[str, ...]


def _topics(rule_topic: str, user: str, count: int) -> list[tuple[str, ...]]:
    """Fresh concrete topics under one ACL rule's filter, for *user* (``%u``)."""
    if "%c" in rule_topic:
        return []
    base = rule_topic.replace("%u", user)
    if base.endswith("#"):
        stem = base[:-1]
        return [tuple(f"{stem}{unique()}".replace("+", "x") for _ in range(count))]
    if count == 1 and not base.startswith("$"):
        return [(base.replace("+", unique()),)]
    return []


def find_route(profile: SecurityProfile, listener: str = "plain", *, count: int = 1) -> Route:
    """A writer, a reader and *count* fresh topics the writer may publish and the reader may
    receive on *listener*. Routes between two different users are preferred (they prove
    more), then the first in name order. Unsupported if the profile has none."""
    users = password_users(profile, listener)
    found: list[tuple[bool, str, str, tuple[str, ...]]] = []
    for writer in users:
        for rule in profile.acl:
            for topics in _topics(rule.topic, writer, count):
                if not all(
                    profile.may_publish(writer, t, listener, client_id=PROBE_CLIENT_ID)
                    for t in topics
                ):
                    continue
                for reader in users:
                    if all(
                        profile.may_receive(reader, t, listener, client_id=PROBE_CLIENT_ID)
                        for t in topics
                    ):
                        found.append((writer == reader, writer, reader, topics))
    if not found:
        mqttsec_unsupported(
            f"profile {profile.name!r} has no topic one password user may publish and "
            f"another may receive on {listener!r}"
        )
    _, writer, reader, topics = min(found, key=lambda item: item[:3])
    return Route(writer, reader, topics)
