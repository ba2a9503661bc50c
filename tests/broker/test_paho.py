"""paho-mqtt 2.x (MQTT 3.1.1 and 5.0) against the reference broker."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqttsec.reference_broker import BackgroundBroker

VERSIONS = pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["3.1.1", "5.0"])
TIMEOUT = 5.0


class Paho:
    """A paho client with its network loop in a thread and received messages in a queue."""

    def __init__(self, b: BackgroundBroker, client_id: str, protocol: int, **connect: Any) -> None:
        self.protocol = protocol
        kwargs: dict[str, Any] = {"client_id": client_id, "protocol": protocol}
        if protocol == mqtt.MQTTv311:
            kwargs["clean_session"] = connect.pop("clean", True)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack: dict[str, Any] = {}
        self.closed = False
        self.subacks: queue.Queue[Any] = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put(codes)
        if will := connect.pop("will", None):
            self.client.will_set(*will)
        if protocol == mqtt.MQTTv5:
            connect.setdefault("clean_start", connect.pop("clean", True))
        self.client.connect("127.0.0.1", b.port, keepalive=30, **connect)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connack = {"flags": flags, "reason": reason, "props": props}
        self.connected.set()

    def subscribe(self, topic: str, qos: int = 0, **kw: Any) -> Any:
        if self.protocol == mqtt.MQTTv5:
            options = SubscribeOptions(qos=qos, **kw)
            self.client.subscribe(topic, options=options, properties=kw.pop("properties", None))
        else:
            self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(
        self, topic: str, payload: bytes, qos: int = 0, retain: bool = False, **kw: Any
    ) -> None:
        info = self.client.publish(topic, payload, qos, retain, **kw)
        info.wait_for_publish(TIMEOUT)

    def get(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def close(self, clean: bool = True) -> None:
        if self.closed:
            return
        self.closed = True
        if clean:
            self.client.disconnect()
            self.disconnected.wait(TIMEOUT)
        else:
            sock = self.client.socket()
            if sock is not None:
                sock.close()  # abnormal: no DISCONNECT
        self.client.loop_stop()


@pytest.fixture
def clients(broker: BackgroundBroker) -> Iterator[list[Paho]]:
    made: list[Paho] = []
    yield made
    for c in made:
        c.close()


def make(clients: list[Paho], b: BackgroundBroker, cid: str, protocol: int, **kw: Any) -> Paho:
    c = Paho(b, cid, protocol, **kw)
    clients.append(c)
    return c


@VERSIONS
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip(broker: BackgroundBroker, clients: list[Paho], protocol: int, qos: int) -> None:
    sub = make(clients, broker, "sub", protocol)
    pub = make(clients, broker, "pub", protocol)
    sub.subscribe("paho/#", qos)
    for i in range(20):
        pub.publish(f"paho/{i}", b"x" * i, qos)
    got = [sub.get() for _ in range(20)]
    assert [m.topic for m in got] == [f"paho/{i}" for i in range(20)]
    assert {m.qos for m in got} == {qos}


@VERSIONS
def test_retained_and_will(broker: BackgroundBroker, clients: list[Paho], protocol: int) -> None:
    pub = make(clients, broker, "pub", protocol)
    pub.publish("status/pub", b"online", 1, retain=True)
    sub = make(clients, broker, "sub", protocol)
    sub.subscribe("status/#", 1)
    first = sub.get()
    assert (first.payload, first.retain) == (b"online", True)
    dying = make(clients, broker, "dying", protocol, will=("status/dying", b"offline", 1, False))
    dying.close(clean=False)
    will = sub.get()
    assert (will.topic, will.payload) == ("status/dying", b"offline")


@VERSIONS
def test_persistent_session_queues_while_offline(
    broker: BackgroundBroker, clients: list[Paho], protocol: int
) -> None:
    extra: dict[str, Any] = {}
    if protocol == mqtt.MQTTv5:
        props = PahoProperties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        extra["properties"] = props
    sub = make(clients, broker, "persist", protocol, clean=False, **extra)
    sub.subscribe("q/#", 1)
    sub.close()
    pub = make(clients, broker, "pub", protocol)
    for i in range(5):
        pub.publish(f"q/{i}", b"queued", 1)
    again = make(clients, broker, "persist", protocol, clean=False, **extra)
    assert again.connack["flags"].session_present
    assert sorted(again.get().topic for _ in range(5)) == [f"q/{i}" for i in range(5)]


def test_v5_features(broker: BackgroundBroker, clients: list[Paho]) -> None:
    v5 = mqtt.MQTTv5
    anon = make(clients, broker, "", v5)
    assert anon.connack["props"].AssignedClientIdentifier
    sub = make(clients, broker, "sub", v5)
    sub_props = PahoProperties(PacketTypes.SUBSCRIBE)
    sub_props.SubscriptionIdentifier = 42
    sub.client.subscribe(
        "v5/#", options=SubscribeOptions(qos=1, noLocal=True), properties=sub_props
    )
    sub.subacks.get(timeout=TIMEOUT)
    pub_props = PahoProperties(PacketTypes.PUBLISH)
    pub_props.UserProperty = ("k", "v")
    pub_props.MessageExpiryInterval = 60
    pub_props.ContentType = "text/plain"
    sub.publish("v5/own", b"not to myself", 1)
    pub = make(clients, broker, "pub", v5)
    pub.publish("v5/x", b"hello", 1, properties=pub_props)
    got = sub.get()
    assert got.topic == "v5/x"
    assert got.properties.SubscriptionIdentifier == [42]
    assert got.properties.UserProperty == [("k", "v")]
    assert got.properties.ContentType == "text/plain"
    assert 0 < got.properties.MessageExpiryInterval <= 60


def test_v5_shared_subscription(broker: BackgroundBroker, clients: list[Paho]) -> None:
    members = [make(clients, broker, f"m{i}", mqtt.MQTTv5) for i in range(2)]
    for m in members:
        m.subscribe("$share/workers/jobs", 1)
    pub = make(clients, broker, "pub", mqtt.MQTTv5)
    for i in range(6):
        pub.publish("jobs", str(i).encode(), 1)
    got = [members[i % 2].get().payload for i in range(6)]
    assert sorted(got) == [str(i).encode() for i in range(6)]
    assert members[0].messages.empty() and members[1].messages.empty()


def test_v311_subscribe_failure_code_for_bad_qos_cap(make_broker, clients: list[Paho]) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_qos=1)
    c = make(clients, b, "c", mqtt.MQTTv311)
    codes = c.subscribe("t", 2)
    assert [int(getattr(code, "value", code)) for code in codes] == [1]
