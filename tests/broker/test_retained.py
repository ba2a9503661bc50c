"""Unit tests for the retained store: replace, delete by empty payload, wildcards, expiry."""

from __future__ import annotations

from mqttsec.reference_broker.message import Message
from mqttsec.reference_broker.retained import RetainedStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def topics(messages: list[Message]) -> set[str]:
    return {m.topic for m in messages}


def test_store_replace_and_delete() -> None:
    store = RetainedStore()
    store.update(Message("a/b", b"1", retain=True))
    store.update(Message("a/b", b"2", retain=True))
    assert len(store) == 1
    got = store.get("a/b")
    assert got is not None and got.payload == b"2"
    store.update(Message("a/b", b"", retain=True))  # [MQTT-3.3.1-10]
    assert store.get("a/b") is None
    assert len(store) == 0
    assert store._root.children == {}


def test_wildcard_lookup_and_dollar_rule() -> None:
    store = RetainedStore()
    for t in ("a", "a/b", "a/b/c", "a/x", "b", "$SYS/up", "/lead"):
        store.update(Message(t, b"p", retain=True))
    assert topics(store.match("a/#")) == {"a", "a/b", "a/b/c", "a/x"}
    assert topics(store.match("a/+")) == {"a/b", "a/x"}
    assert topics(store.match("#")) == {"a", "a/b", "a/b/c", "a/x", "b", "/lead"}
    assert topics(store.match("+")) == {"a", "b"}
    assert topics(store.match("+/+")) == {"a/b", "a/x", "/lead"}
    assert topics(store.match("$SYS/#")) == {"$SYS/up"}
    assert topics(store.match("a/b")) == {"a/b"}
    assert store.match("zz") == []


def test_expired_messages_are_dropped() -> None:
    clock = FakeClock()
    store = RetainedStore(clock)
    store.update(Message("t", b"p", retain=True, expires_at=clock.now + 10))
    assert topics(store.match("#")) == {"t"}
    clock.now += 10
    assert store.match("#") == []
    assert len(store) == 0
    store.update(Message("u", b"p", retain=True, expires_at=clock.now + 1))
    clock.now += 5
    assert store.get("u") is None


def test_bounded() -> None:
    store = RetainedStore(max_messages=2)
    assert store.update(Message("a", b"1"))
    assert store.update(Message("b", b"1"))
    assert not store.update(Message("c", b"1"))
    assert store.update(Message("a", b"2"))  # replacing is still allowed
    assert len(store) == 2
    assert sorted(m.topic for m in store) == ["a", "b"]
