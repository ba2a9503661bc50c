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

from mqttsec.fixtures.clients import ClientTimeout, MqttClient, PeerClosed
from mqttsec.fixtures.expect import Publisher, expect_not_delivered
from mqttsec.fixtures.plugin import (
    MqttClientFactory,
    RawClientFactory,
    deviation,
    mqttsec_unsupported,
)
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Properties,
    ProtocolVersion,
    Will,
    encode,
)
from mqttsec.suites.helpers import (
    PROBE_CLIENT_ID,
    connect_bytes,
    password_users,
    read_until_sentinel,
    unique,
)

__all__ = [
    "PROBE_CLIENT_ID",
    "Credentials",
    "MqttClientFactory",
    "Route",
    "attempt",
    "close_after",
    "connect_bytes",
    "expect_no_publish_from",
    "expect_not_retained",
    "find_route",
    "password_listeners",
    "password_users",
    "persistent_login",
    "read_until_sentinel",
    "refusal_codes",
    "refuse_all",
    "require_refused",
    "session_expiry",
    "still_serves",
    "unique",
    "unknown_username",
    "user_connect",
    "wait_closed",
    "wrong_login",
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


# ---------------------------------------------------------------------- logins


def session_expiry(version: ProtocolVersion) -> Properties:
    """Ask for a session that outlives the connection (5.0; 3.1.1 uses clean session 0 alone)."""
    if version is ProtocolVersion.V5:
        return Properties.of(session_expiry_interval=600)
    return Properties()


def user_connect(
    profile: SecurityProfile, version: ProtocolVersion, user: str, *, client_id: bytes | None = None
) -> bytes:
    """CONNECT bytes of *user* with the right password (a fresh client id unless given)."""
    password = profile.users[user].password
    return connect_bytes(version, client_id=client_id, username=user, password=password)


def wrong_login(
    version: ProtocolVersion,
    user: str,
    client_id: str | None = None,
    *,
    persistent: bool = False,
    will: Will | None = None,
) -> bytes:
    """CONNECT bytes of *user* with a fresh wrong password (a fresh client id unless given).

    *persistent* asks for a session that outlives the connection (clean start 0, and under
    5.0 a session expiry), which a refused login must not create, resume or discard.
    """
    connect = Connect(
        client_id=unique() if client_id is None else client_id,
        protocol_version=version,
        clean_start=not persistent,
        username=user,
        password=unique("wrong").encode(),
        will=will,
        properties=session_expiry(version) if persistent else Properties(),
    )
    return encode(connect, version)


def persistent_login(
    raw_client: RawClientFactory,
    profile: SecurityProfile,
    version: ProtocolVersion,
    user: str,
    client_id: str,
) -> tuple[RawClient, Connack]:
    """*user* logs in on a new raw connection with *client_id* and the right password,
    asking to resume (or keep) a persistent session; the client and the broker's CONNACK."""
    raw = raw_client()
    answer = raw.connect(
        client_id,
        username=user,
        password=profile.users[user].password,
        clean=False,
        properties=session_expiry(version),
    )
    return raw, answer


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


def close_after(raw: RawClient, answer: Connack | None) -> None:
    """End a connection whose CONNECT got *answer* so that whatever it carries is settled.

    A wrongly accepted connection is dropped at once (dropping it is what fires a will); a
    refused one is read until the broker closes it (see :func:`wait_closed`).
    """
    if answer is not None and int(answer.reason_code) == 0:
        raw.close()
    else:
        wait_closed(raw)


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
    answer = attempt(raw, user_connect(profile, version, user))
    assert answer is not None and int(answer.reason_code) == 0, (
        f"afterwards {user!r} can no longer log in: {answer!r}"
    )
    raw.close()


def expect_no_publish_from(
    mqtt_client: MqttClientFactory, route: Route, refused: Publisher, what: str
) -> None:
    """*refused* (a refused connection standing in as a publisher) gets nothing delivered to
    the route's reader on the route's first topic, proven by the writer's sentinel there."""
    topic = route.topics[0]
    observer = mqtt_client(route.reader)
    assert observer.subscribe(topic)[0] < 0x80
    writer = mqtt_client(route.writer)
    expect_not_delivered(
        observer,
        refused,
        topic,
        unique(what).encode(),
        sentinel_topic=topic,
        sentinel_publisher=writer,
    )


def expect_not_retained(
    mqtt_client: MqttClientFactory,
    writer: MqttClient,
    reader: str,
    forbidden: str,
    sentinel: str,
    payload: bytes,
    leak: str,
) -> None:
    """No message carrying *payload* is retained on *forbidden*: a fresh subscriber of
    *reader* gets the retained messages of its first filter before those of its second, so
    *writer*'s retained sentinel on *sentinel* ends the search. Both retained messages are
    cleared afterwards."""
    token = unique("retained-sentinel").encode()
    writer.publish(sentinel, token, retain=True)
    try:
        late = mqtt_client(reader)
        late.subscribe(forbidden)
        late.subscribe(sentinel)  # its retained message comes after the first filter's
        lost = f"retained sentinel on {sentinel!r} never came"
        read_until_sentinel(late, token, payload, leak=leak, lost=lost)
    finally:
        writer.publish(sentinel, b"", retain=True)
        writer.publish(forbidden, b"", retain=True)


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
