"""Authorization in the running reference broker: every delivery path, with real clients.

Negative checks publish a sentinel after the forbidden message; the subscriber reads until
the sentinel, so a leaked message would be in the list. Where mosquitto should behave the
same (which messages a subscriber gets), the same clients run against it too.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from broker_clients import V5, V311, connack_code, paho

from conftest import MosquittoBroker
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker, BrokerConfig
from mqttsec.reference_broker.message import Message
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Properties,
    Puback,
    Publish,
    Pubrec,
    QoS,
    Suback,
    Subscribe,
    Subscription,
    Will,
)
from mqttsec.reference_broker.security.passwords import PasswordFile

MakeBroker = Callable[..., BackgroundBroker]

ACL = """\
# anonymous clients: nothing
user alice
topic readwrite a/#
topic write shared/in
topic read $SYS/#
topic readwrite sentinel
topic write will/alice
topic readwrite r/#
user bob
topic read a/#
topic read b/#
topic readwrite sentinel
topic read r/#
topic read will/#
topic read shared/#
pattern readwrite home/%u/#
pattern readwrite dev/%c/#
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("acl")
    users = PasswordFile()
    for name, password in (("alice", "a"), ("bob", "b"), ("+", "p"), ("al/ice", "s")):
        users.set_password(name, password, iterations=1000)
    users.save(d / "passwd")
    (d / "acl").write_text(ACL)
    return {"passwd": str(d / "passwd"), "acl": str(d / "acl"), "dir": str(d)}


@pytest.fixture
def live_acl(files: dict[str, str], tmp_path: Path) -> Path:
    """A copy of the ACL a test may rewrite before ``reload_security``."""
    path = tmp_path / "acl"
    path.write_text(ACL)
    return path


def broker(
    make_broker: MakeBroker, files: dict[str, str], acl: str | None = None, **kw: object
) -> BackgroundBroker:
    config = BrokerConfig(port=0, password_file=files["passwd"], acl_file=acl or files["acl"])
    return make_broker(config.replace(**kw) if kw else config)


@pytest.fixture
def mosquitto(
    mosquitto_starter: Callable[[str], MosquittoBroker], files: dict[str, str]
) -> Iterator[int]:
    yield mosquitto_starter(
        f"allow_anonymous false\npassword_file {files['passwd']}\nacl_file {files['acl']}\n"
    ).port


def test_denied_publish_answers_per_version(make_broker: MakeBroker, files: dict[str, str]) -> None:
    b = broker(make_broker, files)
    bob = paho(b.port, "bob", username="bob", password="b")
    bob.subscribe("b/#", "sentinel")
    alice5 = paho(b.port, "alice5", username="alice", password="a", v5=True)
    alice3 = paho(b.port, "alice3", username="alice", password="a")
    assert alice5.publish("b/x", b"5-qos0", qos=0) is None  # dropped silently
    assert alice5.publish("b/x", b"5-qos1", qos=1) == 0x87
    # QoS 2 with 5.0: PUBREC 0x87 (see the raw test below; paho sends PUBREL anyway).
    assert alice3.publish("b/x", b"3-qos1", qos=1) == 0  # [MQTT-3.3.5-2]: a positive ack
    assert alice3.publish("b/x", b"3-qos2", qos=2) == 0
    alice5.publish("sentinel", b"s")
    assert bob.collect_until("sentinel") == []
    for c in (bob, alice5, alice3):
        c.close()


def test_disconnect_on_denied_publish(make_broker: MakeBroker, files: dict[str, str]) -> None:
    b = broker(make_broker, files, disconnect_on_denied_publish=True)
    for version in (V311, V5):
        with RawClient.plain("127.0.0.1", b.port, version) as raw:
            raw.send(Connect("alice", version, username="alice", password=b"a"))
            assert raw.expect(Connack).reason_code == 0
            raw.send(Publish("a/ok", b"1", QoS(1), packet_id=1), Publish("b/x", b"2", QoS(0)))
            assert isinstance(raw.recv(), Puback)
            rest = (
                [raw.recv_or_closed(), raw.recv_or_closed()]
                if version is V5
                else [raw.recv_or_closed()]
            )
            assert rest[-1] is None  # closed (5.0: after DISCONNECT 0x87)
            if version is V5:
                assert getattr(rest[0], "reason_code", None) == 0x87


@pytest.mark.mosquitto
def test_every_filter_of_a_subscribe_is_judged(
    make_broker: MakeBroker, files: dict[str, str], mosquitto: int
) -> None:
    """Ours refuses at SUBSCRIBE; mosquitto grants and drops at delivery: same messages."""
    ours = broker(make_broker, files).port
    filters = ("a/#", "b/#", "#", "a/+/x", "c/x", "sentinel")
    for port, expected in ((ours, [1, 0x80, 0x80, 1, 0x80, 1]), (mosquitto, [1] * 6)):
        alice = paho(port, "alice-sub", username="alice", password="a")
        assert alice.subscribe(*filters) == expected
        bob = paho(port, "bob-pub", username="bob", password="b")
        alice.publish("a/1", b"ok")
        alice.publish("c/x", b"no")  # alice may not write c/x either: nothing
        bob.publish("sentinel", b"s")
        assert alice.topics_until("sentinel") == ["a/1"]
        alice.close()
        bob.close()
    with RawClient.plain("127.0.0.1", ours, V5) as raw:
        raw.send(Connect("a5", V5, username="alice", password=b"a"))
        raw.expect(Connack)
        raw.send(Subscribe(1, tuple(Subscription(f, QoS(1)) for f in filters)))
        assert list(raw.expect(Suback).reason_codes) == [1, 0x87, 0x87, 1, 0x87, 1]


def test_shared_subscription_judged_by_its_inner_filter(
    make_broker: MakeBroker, files: dict[str, str]
) -> None:
    b = broker(make_broker, files)
    bob = paho(b.port, "bob", username="bob", password="b", v5=True)
    assert bob.subscribe("$share/g/shared/#", "$share/g/c/#", "sentinel") == [1, 0x87, 1]
    alice = paho(b.port, "alice", username="alice", password="a")
    alice.publish("shared/in", b"x")
    alice.publish("sentinel", b"s")
    assert bob.topics_until("sentinel") == ["shared/in"]
    alice.close()
    bob.close()


@pytest.mark.mosquitto
def test_wildcards_and_slashes_in_names_do_not_widen_patterns(
    make_broker: MakeBroker, files: dict[str, str], mosquitto: int
) -> None:
    """CVE-2017-7650 class: user ``+`` and client id ``#`` get no pattern access."""
    ours = broker(make_broker, files).port
    for port in (ours, mosquitto):
        bob = paho(port, "bob-watch", username="bob", password="b")
        assert bob.subscribe("home/bob/#", "dev/bob-watch/#", "sentinel") == [1, 1, 1]
        # User "+" (a user "#" cannot exist: the line would be a comment), and bob himself
        # behind the client id "#" (patterns with %c, and ours also %u, are withheld).
        for name, password in (("+", "p"), ("bob", "b")):
            attacker = paho(port, "#", username=name, password=password)
            attacker.subscribe("home/+/#", "home/#", "dev/#", qos=1)
            attacker.publish("home/bob/x", b"spoof")
            attacker.publish("dev/bob-watch/x", b"spoof")
            bob.publish("home/bob/y", b"private")
            bob.publish("sentinel", b"s")
            assert bob.topics_until("sentinel") == ["home/bob/y"]  # no spoof arrived
            attacker.close()
        bob.close()
    # "/" widens mosquitto's patterns (al/ice reaches home/al/ice); ours refuses it.
    slash = paho(ours, "slash", username="al/ice", password="s")
    assert slash.subscribe("home/al/ice/#") == [0x80]
    slash.close()


@pytest.mark.mosquitto
def test_client_publish_to_sys_is_refused_like_mosquitto(
    make_broker: MakeBroker, files: dict[str, str], mosquitto: int
) -> None:
    for port in (broker(make_broker, files).port, mosquitto):
        alice = paho(port, "alice", username="alice", password="a")
        alice.subscribe("$SYS/test/#", "sentinel")
        alice.publish("$SYS/test/spoof", b"x")
        alice.publish("sentinel", b"s")
        assert alice.topics_until("sentinel") == []
        alice.close()
    b = make_broker()  # no ACL at all: $SYS is still not writable by clients
    c = paho(b.port, "c")
    c.subscribe("$SYS/#", "sentinel")
    c.publish("$SYS/x", b"spoof")
    c.publish("sentinel", b"s")
    assert c.topics_until("sentinel") == []
    c.close()


def test_retained_message_of_a_publisher_who_lost_write_access(
    make_broker: MakeBroker, files: dict[str, str], live_acl: Path
) -> None:
    """CVE-2018-12546 class: the retained message is checked against its publisher's WRITE."""
    b = broker(make_broker, files, acl=str(live_acl))
    alice = paho(b.port, "alice", username="alice", password="a")
    alice.publish("r/old", b"retained", retain=True)
    bob = paho(b.port, "bob", username="bob", password="b")
    bob.subscribe("r/#")
    assert bob.messages.get(timeout=5).payload == b"retained"
    bob.close()
    live_acl.write_text(ACL.replace("topic readwrite r/#", "topic read r/#"))
    assert b.call(b.core.reload_security) is True
    bob = paho(b.port, "bob2", username="bob", password="b")
    bob.subscribe("r/#", "sentinel")
    alice.publish("sentinel", b"s")
    assert bob.collect_until("sentinel") == []
    bob.close()
    alice.close()


def test_reload_revokes_subscriptions_and_queued_messages(
    make_broker: MakeBroker, files: dict[str, str], live_acl: Path
) -> None:
    """CVE-2021-34434 class: a durable session keeps nothing it may no longer read."""
    b = broker(make_broker, files, acl=str(live_acl))
    bob = paho(
        b.port, "bob", username="bob", password="b", v5=True, clean=False, session_expiry=300
    )
    assert bob.subscribe("b/#", "sentinel") == [1, 1]
    bob.close()
    b.call(lambda: b.core.publish(_msg("b/queued")))  # queued for the offline session
    assert b.call(lambda: len(b.core.sessions.get("bob").queue)) == 1  # type: ignore[union-attr]
    live_acl.write_text(ACL.replace("topic read b/#\n", ""))
    assert b.call(b.core.reload_security) is True
    assert b.call(lambda: sorted(b.core.sessions.get("bob").subscriptions)) == ["sentinel"]  # type: ignore[union-attr]
    bob = paho(
        b.port, "bob", username="bob", password="b", v5=True, clean=False, session_expiry=300
    )
    alice = paho(b.port, "alice", username="alice", password="a")
    alice.publish("sentinel", b"s")
    assert bob.collect_until("sentinel") == []  # neither the queued message nor anything else
    bob.close()
    alice.close()


def _msg(topic: str) -> Message:
    return Message(topic, b"queued", 1)


def test_reload_with_a_broken_acl_keeps_the_old_one(
    make_broker: MakeBroker, files: dict[str, str], live_acl: Path
) -> None:
    """CVE-2017-7652 class: a failed reload never opens the broker up."""
    b = broker(make_broker, files, acl=str(live_acl))
    live_acl.write_text("user alice\ntopic bogus-access #\n")
    assert b.call(b.core.reload_security) is False
    live_acl.unlink()
    assert b.call(b.core.reload_security) is False
    bob = paho(b.port, "bob", username="bob", password="b", v5=True)
    assert bob.subscribe("#", "a/#") == [0x87, 1]  # still the old ACL
    assert bob.publish("a/x", b"x") == 0x87
    bob.close()


def test_will_checked_at_connect_and_again_when_published(
    make_broker: MakeBroker, files: dict[str, str], live_acl: Path
) -> None:
    """mochi-mqtt #503 class; reserved topics ($SYS, $CONTROL/) are refused as wills too."""
    b = broker(make_broker, files, acl=str(live_acl))
    for topic in ("will/bob", "$SYS/will", "$CONTROL/x"):
        will = Will(topic, b"w", QoS(1))
        assert connack_code(b.port, V311, "alice", b"a", will=will) == 0x05
        assert connack_code(b.port, V5, "alice", b"a", will=will) == 0x87
    bob = paho(b.port, "bob", username="bob", password="b")
    bob.subscribe("will/#", "sentinel")
    dying = RawClient.plain("127.0.0.1", b.port, V311)
    dying.send(
        Connect("dying", V311, username="alice", password=b"a", will=Will("will/alice", b"w"))
    )
    assert dying.expect(Connack).reason_code == 0
    live_acl.write_text(ACL.replace("topic write will/alice\n", ""))
    assert b.call(b.core.reload_security) is True
    dying.sock.close()  # abnormal close: the will is due, but alice may no longer write it
    alice = paho(b.port, "alice", username="alice", password="a")
    _wait_gone(b, "dying")
    alice.publish("sentinel", b"s")
    assert bob.collect_until("sentinel") == []
    alice.close()
    bob.close()


def _wait_gone(b: BackgroundBroker, client_id: str) -> None:
    deadline = time.monotonic() + 5
    while b.call(lambda: client_id in b.core.connections):
        assert time.monotonic() < deadline, f"{client_id} still connected"
        time.sleep(0.01)  # polling for a state change, not a negative check


def test_pubrec_denied_qos2_flow_ends_and_allowed_ones_work(
    make_broker: MakeBroker, files: dict[str, str]
) -> None:
    b = broker(make_broker, files)
    with RawClient.plain("127.0.0.1", b.port, V5) as raw:
        raw.send(Connect("q2", V5, username="alice", password=b"a"))
        raw.expect(Connack)
        raw.send(
            Publish("b/x", b"no", QoS(2), packet_id=7), Publish("a/x", b"ok", QoS(2), packet_id=8)
        )
        first, second = raw.expect(Pubrec), raw.expect(Pubrec)
        assert (first.packet_id, first.reason_code) == (7, 0x87)
        assert (second.packet_id, second.reason_code) == (8, 0x10)  # accepted, nobody listens


@pytest.mark.mosquitto
def test_mosquitto_clients_against_the_secured_broker(
    make_broker: MakeBroker, files: dict[str, str], mosquitto_tools: dict[str, Path]
) -> None:
    b = broker(make_broker, files)
    common = ["-h", "127.0.0.1", "-p", str(b.port), "-q", "1"]
    pub = [str(mosquitto_tools["mosquitto_pub"]), *common]
    sub = [str(mosquitto_tools["mosquitto_sub"]), *common]
    ok = subprocess.run(
        [*pub, "-u", "alice", "-P", "a", "-t", "a/r", "-m", "kept", "-r"],
        capture_output=True,
        check=False,
        text=True,
        timeout=10,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*pub, "-u", "alice", "-P", "nope", "-t", "a/r", "-m", "x"],
        capture_output=True,
        check=False,
        text=True,
        timeout=10,
    )
    assert bad.returncode != 0
    assert "bad user name or password" in bad.stderr.lower()
    anonymous = subprocess.run(
        [*pub, "-t", "a/r", "-m", "x"], capture_output=True, check=False, text=True, timeout=10
    )
    assert anonymous.returncode != 0
    assert "not authorised" in anonymous.stderr.lower()
    # bob: a/# granted (the retained message arrives), c/# refused in the SUBACK.
    got = subprocess.run(
        [*sub, "-d", "-u", "bob", "-P", "b", "-t", "a/#", "-t", "c/#", "-C", "1", "-W", "5"],
        capture_output=True,
        check=False,
        text=True,
        timeout=10,
    )
    assert got.returncode == 0, got.stderr
    assert "Subscribed (mid: 1): 1, 128" in got.stdout
    assert "\nkept\n" in got.stdout


def test_unacknowledged_flight_not_resent_after_read_was_revoked(
    make_broker: MakeBroker, files: dict[str, str], live_acl: Path
) -> None:
    """CVE-2021-34434 class: an unfinished QoS 1/2 delivery is checked again on resume."""
    b = broker(make_broker, files, acl=str(live_acl))
    expiry = Properties.of(session_expiry_interval=300)
    with RawClient.plain("127.0.0.1", b.port, V5) as raw:
        raw.send(Connect("bob", V5, False, username="bob", password=b"b", properties=expiry))
        raw.expect(Connack)
        raw.send(Subscribe(1, (Subscription("b/#", QoS(2)), Subscription("sentinel", QoS(1)))))
        raw.expect(Suback)
        b.call(lambda: b.core.publish(Message("b/secret", b"x", 2)))
        assert raw.expect(Publish).topic == "b/secret"  # received, never acknowledged
    live_acl.write_text(ACL.replace("topic read b/#\n", ""))
    assert b.call(b.core.reload_security) is True
    with RawClient.plain("127.0.0.1", b.port, V5) as raw:
        raw.send(Connect("bob", V5, False, username="bob", password=b"b", properties=expiry))
        assert raw.expect(Connack).session_present
        b.call(lambda: b.core.publish(Message("sentinel", b"s", 1)))
        assert raw.expect(Publish).topic == "sentinel"  # no DUP b/secret before it
