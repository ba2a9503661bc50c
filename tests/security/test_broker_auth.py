"""Authentication in the running reference broker, with real clients, compared with mosquitto.

CONNACK codes: bad credentials 0x04 / 0x86, not authorized 0x05 / 0x87, throttled 0x05 /
0x9F. Mosquitto 2.0 answers 0x05 / 0x87 for every refusal; both refuse the same clients.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from broker_clients import V5, V311, connack_code, paho

from conftest import MosquittoBroker, connect_result
from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker, BrokerConfig
from mqttsec.reference_broker.protocol import (
    Connack,
    Connect,
    Pingreq,
    Pingresp,
    Publish,
    QoS,
    Suback,
    Subscribe,
    Subscription,
    Will,
)
from mqttsec.reference_broker.security.passwords import PasswordFile
from mqttsec.reference_broker.security.plugins import PluginSpec

MakeBroker = Callable[..., BackgroundBroker]


@pytest.fixture(scope="module")
def pwfile(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("auth") / "passwd"
    users = PasswordFile()
    users.set_password("alice", "secret", iterations=1000)
    users.set_password("bob", "hunter2", iterations=1000)
    users.save(path)
    return str(path)


def secured(make_broker: MakeBroker, pwfile: str, **settings: object) -> BackgroundBroker:
    return make_broker(BrokerConfig(port=0, password_file=pwfile, **settings))  # type: ignore[arg-type]


CASES = [  # (username, password) -> refused as bad credentials?
    (None, None),
    ("alice", b"secret"),
    ("alice", b"wrong"),
    ("mallory", b"secret"),
    ("alice", None),
    ("alice", b""),
]


@pytest.mark.mosquitto
def test_connack_codes_and_acceptance_match_mosquitto(
    make_broker: MakeBroker,
    pwfile: str,
    mosquitto_starter: Callable[[str], MosquittoBroker],
) -> None:
    ours = secured(make_broker, pwfile).port
    theirs = mosquitto_starter(f"allow_anonymous false\npassword_file {pwfile}\n").port
    for username, password in CASES:
        ok = username == "alice" and password == b"secret"
        mine311 = connect_result(ours, username, password)
        mine5 = connack_code(ours, V5, username, password)
        mosq311 = connect_result(theirs, username, password)
        mosq5 = connack_code(theirs, V5, username, password)
        where = f"{username!r}/{password!r}"
        assert (mine311 == 0) == (mosq311 == 0) == ok, where
        assert (mine5 == 0) == (mosq5 == 0) == ok, where
        if not ok:
            assert (mosq311, mosq5) == (0x05, 0x87), where  # mosquitto: "not authorized" always
            if username is None:
                assert (mine311, mine5) == (0x05, 0x87), where
            else:
                assert (mine311, mine5) == (0x04, 0x86), where
    # A password without a user name: malformed in 3.1.1 [MQTT-3.1.2-22], both just close.
    for port in (ours, theirs):
        with pytest.raises(AssertionError, match="connection closed"):
            connect_result(port, None, b"secret")
    # 5.0 allows it on the wire; without a plugin accepting it, it is refused.
    assert connack_code(ours, V5, None, b"secret") == 0x86
    assert connack_code(theirs, V5, None, b"secret") == 0x87


def test_anonymous_clients_per_setting(make_broker: MakeBroker, pwfile: str) -> None:
    closed = make_broker(BrokerConfig(port=0))  # the default refuses anonymous clients
    assert connack_code(closed.port, V311) == 0x05
    assert connack_code(closed.port, V5) == 0x87
    assert connack_code(closed.port, V5, "alice", b"secret") == 0x86  # nothing to check against
    open_ = secured(make_broker, pwfile, allow_anonymous=True)
    assert connack_code(open_.port, V311) == 0
    assert connack_code(open_.port, V5, "alice", b"wrong") == 0x86  # a wrong password still fails
    assert connack_code(open_.port, V5, "alice", b"secret") == 0


def test_refused_connect_keeps_no_session_takes_nothing_over_and_sends_no_will(
    make_broker: MakeBroker, pwfile: str
) -> None:
    b = secured(make_broker, pwfile)
    watcher = paho(b.port, "watcher", username="bob", password="hunter2")
    watcher.subscribe("will/#", "sentinel")
    owner = paho(b.port, "dev1", username="alice", password="secret", v5=True)
    will = Will("will/dev1", b"gone", QoS(1))
    for version in (V311, V5):
        with RawClient.plain("127.0.0.1", b.port, version) as raw:
            raw.send(
                Connect(
                    "dev1", version, clean_start=False, username="alice", password=b"x", will=will
                )
            )
            assert raw.expect(Connack).reason_code in (0x04, 0x86)
            assert raw.recv_or_closed() is None  # closed: no session, the will is dropped with it
    sessions = b.call(lambda: sorted(s.client_id for s in b.core.sessions))
    assert sessions == ["dev1", "watcher"]  # only the real ones
    assert b.call(lambda: b.core.connections["dev1"].username) == "alice"  # not taken over
    owner.publish("sentinel", b"s")
    assert watcher.topics_until("sentinel") == []  # no will from the refused connections
    owner.close()
    watcher.close()


def test_login_throttle_per_address_and_per_username(pwfile: str) -> None:
    now = [1000.0]
    config = BrokerConfig(
        port=0, password_file=pwfile, login_throttle_attempts=2, login_throttle_window=60.0
    )
    with BackgroundBroker(config, clock=lambda: now[0]) as b:
        port = b.port
        assert connack_code(port, V311, "alice", b"bad1") == 0x04
        assert connack_code(port, V5, "alice", b"bad2") == 0x86
        # Throttled: even the right password is refused, without being checked.
        assert connack_code(port, V311, "alice", b"secret") == 0x05
        assert connack_code(port, V5, "alice", b"secret") == 0x9F
        # Per username: another address is refused for alice too, but bob may log in there.
        assert connack_code(port, V5, "alice", b"secret", source="127.0.0.2") == 0x9F
        assert connack_code(port, V5, "bob", b"hunter2", source="127.0.0.2") == 0
        # Per address: bob from the guessing address is refused.
        assert connack_code(port, V5, "bob", b"hunter2") == 0x9F
        now[0] += 61  # the failures leave the window
        assert connack_code(port, V5, "alice", b"secret") == 0


def test_async_authentication_holds_back_later_packets(make_broker: MakeBroker) -> None:
    """Packets sent right behind CONNECT wait for the async decision, in order."""
    plugin = PluginSpec("broker_plugins:SlowTokens", {"delay": 0.2})
    b = make_broker(BrokerConfig(port=0, plugins=(plugin,)))
    watcher = paho(b.port, "watcher", username="w", password="token-ok")
    watcher.subscribe("t/#")
    for password, accepted in ((b"token-no", False), (b"token-ok", True)):
        with RawClient.plain("127.0.0.1", b.port, V311) as raw:
            raw.send(
                Connect("c", V311, username="u", password=password),
                Subscribe(1, (Subscription("t/#", QoS(0)),)),
                Publish("t/x", password, QoS(0)),
                Pingreq(),
            )
            connack = raw.expect(Connack)
            if not accepted:
                assert connack.reason_code == 0x05
                assert raw.recv_or_closed() is None
                continue
            assert connack.reason_code == 0
            assert isinstance(raw.recv(), Suback)
            assert raw.expect(Publish).payload == b"token-ok"
            assert isinstance(raw.recv(), Pingresp)
    assert [m.payload for m in watcher.collect_until("t/x", b"token-ok")] == []
    watcher.close()


def test_v5_password_without_username_accepted_only_by_a_plugin(make_broker: MakeBroker) -> None:
    plugin = PluginSpec("broker_plugins:SlowTokens", {"delay": 0})
    b = make_broker(BrokerConfig(port=0, plugins=(plugin,)))
    assert connack_code(b.port, V5, None, b"token-ok") == 0
    assert connack_code(b.port, V5, None, b"token-no") == 0x87


def test_broken_password_file_on_reload_keeps_the_old_one(
    make_broker: MakeBroker, pwfile: str, tmp_path: Path
) -> None:
    live = tmp_path / "passwd"
    live.write_text(Path(pwfile).read_text())
    live.chmod(0o600)
    b = make_broker(BrokerConfig(port=0, password_file=str(live)))
    live.write_text("alice\n")  # malformed: must not become a user without a password
    assert b.call(b.core.reload_security) is False
    assert connack_code(b.port, V5, "alice", b"secret") == 0
    assert connack_code(b.port, V5, "alice", b"") == 0x86
    users = PasswordFile()
    users.set_password("carol", "pw", iterations=1000)
    users.save(live)
    assert b.call(b.core.reload_security) is True
    assert connack_code(b.port, V5, "carol", b"pw") == 0
    assert connack_code(b.port, V5, "alice", b"secret") == 0x86
