"""Will messages: abnormal close, normal DISCONNECT, DISCONNECT 0x04, will delay, takeover."""

from __future__ import annotations

import time

import pytest

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker
from mqttsec.reference_broker.protocol import (
    Disconnect,
    Properties,
    ProtocolVersion,
    Publish,
    QoS,
    ReasonCode,
    Will,
)

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5
BOTH = pytest.mark.parametrize("version", [V311, V5], ids=["3.1.1", "5.0"])


def watcher(b: BackgroundBroker, version: ProtocolVersion) -> RawClient:
    w = RawClient.plain(b.host, b.port, version)
    w.connect("watcher")
    w.subscribe("will/#", qos=2)
    return w


@BOTH
def test_will_on_abnormal_close(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with watcher(broker, version) as w:
        c = RawClient.plain(broker.host, broker.port, version)
        c.connect("dying", will=Will("will/dying", b"bye", QoS(1), retain=True))
        c.close()
        got = w.expect(Publish)
        assert (got.topic, got.payload, got.qos) == ("will/dying", b"bye", 1)
    with RawClient.plain(broker.host, broker.port, version) as late:
        late.connect("late")
        late.subscribe("will/dying", qos=2)
        assert late.expect(Publish).retain  # the will was retained


@BOTH
def test_no_will_after_normal_disconnect(
    broker: BackgroundBroker, version: ProtocolVersion
) -> None:
    with watcher(broker, version) as w:
        with RawClient.plain(broker.host, broker.port, version) as c:
            c.connect("polite", will=Will("will/polite", b"bye"))
            c.send(Disconnect())
            c.expect_closed()
        w.publish("will/sentinel", b"s")
        assert w.expect(Publish).topic == "will/sentinel"  # [MQTT-3.1.2-10]


def test_will_on_disconnect_with_will_message(broker: BackgroundBroker) -> None:
    with watcher(broker, V5) as w:
        with RawClient.plain(broker.host, broker.port, V5) as c:
            c.connect("asks", will=Will("will/asks", b"bye"))
            c.send(Disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
            c.expect_closed()
        assert w.expect(Publish).topic == "will/asks"


@BOTH
def test_will_on_protocol_error(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with watcher(broker, version) as w:
        with RawClient.plain(broker.host, broker.port, version) as c:
            c.connect("broken", will=Will("will/broken", b"bye"))
            c.send_bytes(b"\x00\x00")
            c.expect_closed()
        assert w.expect(Publish).topic == "will/broken"


def test_will_delay_interval(broker: BackgroundBroker) -> None:
    delayed = Will("will/late", b"bye", properties=Properties.of(will_delay_interval=1))
    expiry = Properties.of(session_expiry_interval=30)
    with watcher(broker, V5) as w:
        c = RawClient.plain(broker.host, broker.port, V5)
        c.connect("late", will=delayed, properties=expiry)
        c.close()
        start = time.monotonic()
        got = w.expect(Publish, timeout=5)
        assert got.topic == "will/late" and time.monotonic() - start >= 0.8


def test_will_delay_cancelled_by_reconnect(broker: BackgroundBroker) -> None:
    delayed = Will("will/back", b"bye", properties=Properties.of(will_delay_interval=30))
    expiry = Properties.of(session_expiry_interval=60)
    c = RawClient.plain(broker.host, broker.port, V5)
    c.connect("back", will=delayed, properties=expiry)
    c.close()

    def pending() -> bool:
        session = broker.core.sessions.get("back")
        return session is not None and session.will_timer is not None and session.connection is None

    deadline = time.monotonic() + 5
    while not broker.call(pending):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with RawClient.plain(broker.host, broker.port, V5) as again:
        assert again.connect("back", clean=False, properties=expiry).session_present
        assert broker.call(lambda: broker.core.sessions.get("back").will_timer) is None  # type: ignore[union-attr]
        assert len(broker.core.timers) == 0 or broker.call(lambda: len(broker.core.timers)) == 0


def test_will_delay_ends_with_session_and_fires_on_clean_start(broker: BackgroundBroker) -> None:
    delayed = Will("will/clean", b"bye", properties=Properties.of(will_delay_interval=30))
    expiry = Properties.of(session_expiry_interval=60)
    with watcher(broker, V5) as w:
        c = RawClient.plain(broker.host, broker.port, V5)
        c.connect("clean", will=delayed, properties=expiry)
        c.send(Disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
        c.expect_closed()
        c.close()
        with RawClient.plain(broker.host, broker.port, V5) as again:
            assert not again.connect("clean", clean=True).session_present
            assert w.expect(Publish).topic == "will/clean"  # the old session ended


@BOTH
def test_takeover_publishes_old_will(broker: BackgroundBroker, version: ProtocolVersion) -> None:
    with (
        watcher(broker, version) as w,
        RawClient.plain(broker.host, broker.port, version) as old,
        RawClient.plain(broker.host, broker.port, version) as new,
    ):
        old.connect("dup", will=Will("will/dup", b"old"))
        new.connect("dup")
        old.expect_closed()
        assert w.expect(Publish).payload == b"old"


def test_will_on_disconnect_with_error_reason(broker: BackgroundBroker) -> None:
    with watcher(broker, V5) as w:
        with RawClient.plain(broker.host, broker.port, V5) as c:
            c.connect("err", will=Will("will/err", b"bye"))
            c.send(Disconnect(ReasonCode.UNSPECIFIED_ERROR))
            c.expect_closed()
        assert w.expect(Publish).topic == "will/err"  # only 0x00 discards it [MQTT-3.14.4-3]


def test_disconnect_cannot_set_expiry_after_zero(broker: BackgroundBroker) -> None:
    with RawClient.plain(broker.host, broker.port, V5) as c:
        c.connect("z")
        c.send(Disconnect(properties=Properties.of(session_expiry_interval=30)))
        assert c.expect_closed() == [Disconnect(ReasonCode.PROTOCOL_ERROR)]  # [MQTT-3.14.2-2]
