"""Unit tests for sessions, QoS bookkeeping, routing and timers, on a fake clock (no sleeping)."""

from __future__ import annotations

from typing import Any

from mqttsec.reference_broker.config import BrokerConfig
from mqttsec.reference_broker.core import BrokerCore
from mqttsec.reference_broker.message import Message
from mqttsec.reference_broker.protocol import Properties, PropertyId
from mqttsec.reference_broker.sessions import NEVER_EXPIRES, Pending, Session, SessionStore
from mqttsec.reference_broker.timers import TimerQueue
from mqttsec.reference_broker.topic_tree import SubscriptionEntry, parse_filter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeConnection:
    """Stands in for a Connection: records what the core delivers."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int, bool, tuple[int, ...]]] = []

    def send_message(
        self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]
    ) -> None:
        self.got.append((message.topic, qos, retain, sub_ids))


def online(core: BrokerCore, client_id: str) -> tuple[Session, FakeConnection]:
    session, _ = core.open_session(client_id, clean_start=True)
    conn = FakeConnection()
    session.connection = conn  # type: ignore[assignment]
    return session, conn


def sub(core: BrokerCore, session: Session, text: str, qos: int = 0, **kw: Any) -> None:
    parsed = parse_filter(text)
    assert parsed is not None
    entry = SubscriptionEntry(
        session, parsed.topic_filter, qos, share_group=parsed.share_group, **kw
    )
    core.tree.subscribe(entry)
    session.subscriptions[text] = entry


def test_packet_ids_skip_inflight_and_wrap() -> None:
    session = Session("c")
    session._next_id = 65534
    first = session.allocate_packet_id()
    assert first == 65535
    session.inflight[1] = object()  # type: ignore[assignment]
    assert session.allocate_packet_id() == 2


def test_packet_ids_exhausted() -> None:
    session = Session("c")
    session.inflight = dict.fromkeys(range(1, 65536))  # type: ignore[arg-type]
    assert session.allocate_packet_id() is None


def test_queue_is_bounded_and_drops_oldest() -> None:
    session = Session("c", max_queued=2)
    for i in range(3):
        session.enqueue(Pending(Message(str(i), b""), 1, False, ()))
    assert [p.message.topic for p in session.queue] == ["1", "2"]
    assert session.dropped == 1
    assert not Session("d", max_queued=0).enqueue(Pending(Message("x", b""), 1, False, ()))


def test_store() -> None:
    store = SessionStore()
    a = store.create("a")
    assert store.get("a") is a and "a" in store and len(store) == 1
    b = store.create("a")
    assert not store.remove(a)
    assert store.remove(b) and len(store) == 0


def test_timer_queue_runs_in_order_and_cancels() -> None:
    clock = FakeClock()
    seen: list[str] = []
    earliest: list[float] = []
    timers = TimerQueue(clock, earliest.append)
    timers.call_later(5, lambda: seen.append("b"))
    timers.call_later(1, lambda: seen.append("a"))
    cancelled = timers.call_later(3, lambda: seen.append("x"))
    cancelled.cancel()
    assert earliest == [105, 101]
    assert timers.next_deadline() == 101
    assert timers.run_due() == 0
    clock.now = 110
    assert timers.run_due() == 2
    assert seen == ["a", "b"]
    assert timers.next_deadline() is None and len(timers) == 0


def test_distribute_overlap_no_local_and_retain_as_published() -> None:
    core = BrokerCore(BrokerConfig(port=0))
    a, conn_a = online(core, "a")
    b, conn_b = online(core, "b")
    sub(core, a, "t/+", qos=1, identifier=3)
    sub(core, a, "t/#", qos=2, identifier=7, retain_as_published=True)
    sub(core, b, "t/x", qos=1, no_local=True)
    assert core.publish(Message("t/x", b"p", qos=2, retain=True, sender="b")) == 1
    assert conn_a.got == [("t/x", 2, True, (3, 7))]
    assert conn_b.got == []
    core.publish(Message("t/x", b"p", qos=0, sender="a"))
    assert conn_b.got == [("t/x", 0, False, ())]


def test_distribute_shared_round_robin_prefers_online() -> None:
    core = BrokerCore(BrokerConfig(port=0))
    conns = []
    for name in ("m1", "m2"):
        session, conn = online(core, name)
        sub(core, session, "$share/g/jobs", qos=1)
        conns.append(conn)
    for _ in range(4):
        core.publish(Message("jobs", b"", qos=1))
    assert [len(c.got) for c in conns] == [2, 2]
    m2 = core.sessions.get("m2")
    assert m2 is not None
    m2.connection = None
    for _ in range(3):
        core.publish(Message("jobs", b"", qos=1))
    assert [len(c.got) for c in conns] == [5, 2]


def test_offline_persistent_session_queues_qos1_not_qos0() -> None:
    core = BrokerCore(BrokerConfig(port=0))
    session, _ = online(core, "c")
    session.expiry_interval = NEVER_EXPIRES
    sub(core, session, "t", qos=1)
    core.session_offline(session)
    core.publish(Message("t", b"0", qos=0))
    core.publish(Message("t", b"1", qos=1))
    assert [p.message.payload for p in session.queue] == [b"1"]
    resumed, present = core.open_session("c", clean_start=False)
    assert resumed is session and present


def test_session_expiry_and_delayed_will_on_fake_clock() -> None:
    clock = FakeClock()
    core = BrokerCore(BrokerConfig(port=0), clock)
    watcher, watch_conn = online(core, "w")
    sub(core, watcher, "will/#")
    session, _ = online(core, "c")
    session.expiry_interval = 60
    sub(core, session, "x")
    will = Message("will/c", b"gone")
    session.will_timer = core.timers.call_later(30, lambda: core.publish(will))
    core.session_offline(session)
    clock.now += 29
    core.timers.run_due()
    assert watch_conn.got == [] and core.sessions.get("c") is session
    clock.now += 1
    core.timers.run_due()
    assert watch_conn.got == [("will/c", 0, False, ())]
    clock.now += 30
    core.timers.run_due()
    assert core.sessions.get("c") is None
    assert core.tree.match("x").targets == ()


def test_resume_cancels_delayed_will_and_clean_start_fires_it() -> None:
    clock = FakeClock()
    core = BrokerCore(BrokerConfig(port=0), clock)
    watcher, watch_conn = online(core, "w")
    sub(core, watcher, "will")
    for clean, expected in ((False, 0), (True, 1)):
        session, _ = online(core, "c")
        session.expiry_interval = 100
        session.will_timer = core.timers.call_later(50, lambda: core.publish(Message("will", b"")))
        core.session_offline(session)
        _, present = core.open_session("c", clean_start=clean)
        assert present is not clean
        clock.now += 1000
        core.timers.run_due()
        assert len(watch_conn.got) == expected
        watch_conn.got.clear()
        current = core.sessions.get("c")
        if current is not None:
            core.end_session(current)


def test_message_expiry_properties() -> None:
    props = Properties(
        [
            (PropertyId.MESSAGE_EXPIRY_INTERVAL, 10),
            (PropertyId.TOPIC_ALIAS, 2),
            (PropertyId.CONTENT_TYPE, "x"),
        ]
    )
    message = Message.from_publish_properties("t", b"", 1, False, props, 50.0, "c")
    assert message.properties == Properties([(PropertyId.CONTENT_TYPE, "x")])
    assert message.expires_at == 60.0
    assert message.remaining_expiry(55.5) == 5
    assert not message.is_expired(59.9) and message.is_expired(60.0)
    assert Message("t", b"").remaining_expiry(0) is None
