"""Differential test: the same ACL file in mosquitto 2.0 and in our engine, probe by probe.

Each probe user connects to mosquitto and (READ) subscribes to every probe topic while an admin
publishes to each, or (WRITE) publishes to each while an admin listens. A sentinel message on a
topic the user may use ends each round, so a missing message is proven missing without sleeps.
Mosquitto checks READ at delivery time (its acl_file grants every SUBSCRIBE), so a delivery is
exactly ``check(..., READ)``. Known, deliberate differences are listed in ``DEVIATIONS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import Client, MosquittoBroker, connect_client
from mqttsec.reference_broker.security.acl import Access, AclFile
from mqttsec.reference_broker.security.passwords import PasswordFile

pytestmark = pytest.mark.mosquitto

#: (username, client id, sentinel topic). Names chosen to hit the pattern rules.
USERS = [
    (None, "anon1", "sentinel/anon"),
    ("alice", "alice-c", "sentinel/alice"),
    ("bob", "dev1", "sentinel/bob"),
    ("bob/x", "bx", "sentinel/bob_x"),  # '/' in a username (CVE-2017-7650 class)
    ("ev#e", "e1", "sentinel/eve"),  # '#' in a username: mosquitto refuses patterns too
    ("carol", "$foo", "sentinel/carol"),  # client id starting with '$'
]

ACL = """\
topic read public/#
topic readwrite sentinel/anon

user admin
topic readwrite #
topic readwrite $foo/#
topic read $SYS/#

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read public/#
topic write $SYS/test
topic readwrite sentinel/alice

user bob
topic read bob/+/data
topic write shared/#
topic readwrite sentinel/bob

user bob/x
topic readwrite sentinel/bob_x

user ev#e
topic readwrite sentinel/eve

user carol
topic readwrite sentinel/carol

pattern readwrite home/%u/#
pattern read devices/%c/#
pattern deny home/%u/locked
pattern read %c/#
"""

TOPICS = [
    "public/news",
    "alice/x",
    "alice/secret/y",
    "bob/1/data",
    "shared/z",
    "home/alice/k",
    "home/bob/k",
    "home/bob/locked",
    "home/bob/x/k",
    "devices/dev1/t",
    "devices/e1/t",
    "alice-c/q",
    "$foo/bar",
]
WRITE_ONLY_TOPICS = ["$SYS/test"]  # the admin cannot publish there, so no READ probe

#: (username, topic, access) -> what mosquitto 2.0 answers where we are deliberately narrower.
DEVIATIONS = {
    ("bob/x", "home/bob/x/k", Access.READ): True,  # mosquitto only refuses + and # in names
    ("bob/x", "home/bob/x/k", Access.WRITE): True,
    ("carol", "$foo/bar", Access.READ): True,  # pattern %c/# became $foo/# for client $foo
}

PASSWORD = "pw-{}"


@pytest.fixture(scope="module")
def broker(
    mosquitto_starter: Callable[[str], MosquittoBroker], tmp_path_factory: pytest.TempPathFactory
) -> MosquittoBroker:
    workdir = tmp_path_factory.mktemp("acl")
    pwfile = PasswordFile()
    for name in ["admin", *(u for u, _, _ in USERS if u is not None)]:
        pwfile.set_password(name, PASSWORD.format(name))
    pwfile.save(workdir / "pw")
    (workdir / "acl").write_text(ACL)
    return mosquitto_starter(
        f"allow_anonymous true\npassword_file {workdir / 'pw'}\nacl_file {workdir / 'acl'}\n"
    )


@pytest.fixture(scope="module")
def ours() -> AclFile:
    return AclFile.parse(ACL)


def _connect(broker: MosquittoBroker, username: str | None, client_id: str) -> Client:
    password = None if username is None else PASSWORD.format(username)
    return connect_client(broker.port, username, password, client_id)


@pytest.fixture(scope="module")
def admin(broker: MosquittoBroker) -> Iterator[tuple[Client, Client]]:
    """(publisher, listener): the listener hears everything the ACL lets an admin read."""
    publisher = _connect(broker, "admin", "admin-pub")
    listener = _connect(broker, "admin", "admin-sub")
    listener.subscribe("#", "$foo/#", "$SYS/test")
    yield publisher, listener
    publisher.close()
    listener.close()


def expected(
    ours: AclFile, username: str | None, client_id: str, topic: str, access: Access
) -> bool:
    return DEVIATIONS.get(
        (username or "", topic, access), ours.check(username, client_id, topic, access)
    )


@pytest.mark.parametrize("username, client_id, sentinel", USERS, ids=lambda v: repr(v))
def test_read_deliveries_match(
    broker: MosquittoBroker,
    admin: tuple[Client, Client],
    ours: AclFile,
    username: str | None,
    client_id: str,
    sentinel: str,
) -> None:
    publisher, _ = admin
    client = _connect(broker, username, client_id)
    try:
        codes = client.subscribe(*TOPICS, sentinel)
        # mosquitto's acl_file grants every SUBSCRIBE; check(SUBSCRIBE) reproduces that.
        assert codes == [1] * (len(TOPICS) + 1)
        assert all(ours.check(username, client_id, t, Access.SUBSCRIBE) for t in TOPICS)
        for topic in TOPICS:
            publisher.publish(topic, topic.encode())
        publisher.publish(sentinel, b"end")
        got = {topic for topic, _ in client.collect_until(sentinel)}
    finally:
        client.close()
    want = {t for t in TOPICS if expected(ours, username, client_id, t, Access.READ)}
    assert got == want
    for topic in TOPICS:  # our own answer, deviations included, is never wider than mosquitto's
        if ours.check(username, client_id, topic, Access.READ):
            assert topic in got


@pytest.mark.parametrize("username, client_id, sentinel", USERS, ids=lambda v: repr(v))
def test_publish_acceptance_matches(
    broker: MosquittoBroker,
    admin: tuple[Client, Client],
    ours: AclFile,
    username: str | None,
    client_id: str,
    sentinel: str,
) -> None:
    _, listener = admin
    client = _connect(broker, username, client_id)
    marker = f"{client_id}:".encode()
    try:
        for topic in TOPICS + WRITE_ONLY_TOPICS:
            client.publish(topic, marker + topic.encode())
        token = f"end-{uuid.uuid4()}".encode()
        client.publish(sentinel, token)
        got = {
            t
            for t, payload in listener.collect_until(sentinel, token)
            if payload.startswith(marker)
        }
    finally:
        client.close()
    want = {
        t
        for t in TOPICS + WRITE_ONLY_TOPICS
        if expected(ours, username, client_id, t, Access.WRITE)
    }
    assert got == want


def test_deviations_are_real(ours: AclFile) -> None:
    """Every listed deviation is a place where we refuse what mosquitto allows, never the reverse."""
    clients = {u or "": c for u, c, _ in USERS}
    for (username, topic, access), mosquitto_says in DEVIATIONS.items():
        assert mosquitto_says is True
        assert not ours.check(username or None, clients[username], topic, access)


def test_probe_table_is_meaningful(ours: AclFile) -> None:
    """Guard against a vacuous differential: the table has allowed and refused probes."""
    outcomes = {
        ours.check(u, c, t, a)
        for u, c, _ in USERS
        for t in TOPICS
        for a in (Access.READ, Access.WRITE)
    }
    assert outcomes == {True, False}


def test_files_are_identical_text(tmp_path: Path) -> None:
    """The engine loads the very file mosquitto loads (no per-engine rewriting)."""
    path = tmp_path / "acl"
    path.write_text(ACL)
    assert AclFile.load(path).rules == AclFile.parse(ACL).rules
