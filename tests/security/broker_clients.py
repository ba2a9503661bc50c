"""Paho clients for the broker security tests (3.1.1 and 5.0), and the raw CONNACK probe.

Negative checks never sleep: :meth:`Paho.collect_until` reads until a sentinel message that
was published *after* the forbidden one; had the forbidden one been delivered, it would be
in the list. Raw MQTT (exact CONNACK, PUBACK and SUBACK codes) is
:class:`mqttsec.fixtures.raw_client.RawClient`; :func:`connack_code` is a probe over it.

:class:`Paho` is not :class:`mqttsec.fixtures.clients.MqttClient`: the tests assert that a
3.1.1 publish is acknowledged with code 0, where MqttClient reports 3.1.1 acks as None.
"""

from __future__ import annotations

import queue
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.reasoncodes import ReasonCode as PahoReasonCode

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker.protocol import Connack, Connect, ProtocolVersion, Will

WAIT = 5.0
V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5


@dataclass
class Received:
    topic: str
    payload: bytes
    user_properties: list[tuple[str, str]]
    retain: bool


@dataclass
class Paho:
    """A connected paho client recording messages and acknowledgement codes."""

    client: mqtt.Client
    v5: bool
    messages: queue.Queue[Received] = field(default_factory=queue.Queue)
    subacks: queue.Queue[tuple[int, list[int]]] = field(default_factory=queue.Queue)
    pubacks: queue.Queue[tuple[int, int]] = field(default_factory=queue.Queue)
    disconnects: queue.Queue[int] = field(default_factory=queue.Queue)

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe and return the SUBACK codes, one per filter."""
        _, mid = self.client.subscribe([(f, qos) for f in filters])
        got, codes = self.subacks.get(timeout=WAIT)
        assert got == mid
        return codes

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        user_properties: list[tuple[str, str]] | None = None,
    ) -> int | None:
        """Publish; for QoS 1/2 wait for the acknowledgement and return its reason code."""
        props = None
        if user_properties and self.v5:
            props = PahoProperties(3)  # PacketTypes.PUBLISH
            props.UserProperty = user_properties
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if qos == 0:
            return None
        deadline = time.monotonic() + WAIT
        while True:
            mid, code = self.pubacks.get(timeout=max(0.01, deadline - time.monotonic()))
            if mid == info.mid:
                return code

    def collect_until(self, sentinel: str, payload: bytes | None = None) -> list[Received]:
        """Messages received before the sentinel topic (which must arrive within WAIT)."""
        out: list[Received] = []
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"sentinel {sentinel!r} never arrived; got {out}"
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                raise AssertionError(f"sentinel {sentinel!r} never arrived; got {out}") from None
            if message.topic == sentinel and (payload is None or message.payload == payload):
                return out
            out.append(message)

    def topics_until(self, sentinel: str, payload: bytes | None = None) -> list[str]:
        return [m.topic for m in self.collect_until(sentinel, payload)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def paho(
    port: int,
    client_id: str,
    *,
    v5: bool = False,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    will: tuple[str, bytes] | None = None,
    clean: bool = True,
    session_expiry: int = 0,
    expect: int = 0,
) -> Paho:
    """Connect a paho client; assert the CONNACK code is *expect* (0 = accepted)."""
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    kwargs: dict[str, Any] = {"client_id": client_id, "protocol": protocol}
    if not v5:
        kwargs["clean_session"] = clean
    client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
    wrapper = Paho(client, v5)
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    if will is not None:
        client.will_set(will[0], will[1], qos=1)
    connected: queue.Queue[int] = queue.Queue()

    def on_connect(c: mqtt.Client, u: object, f: object, rc: PahoReasonCode, p: object) -> None:
        connected.put(int(rc.value))

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        pairs = list(getattr(props, "UserProperty", []) or [])
        wrapper.messages.put(Received(msg.topic, bytes(msg.payload), pairs, bool(msg.retain)))

    def on_subscribe(
        c: mqtt.Client, u: object, mid: int, codes: list[PahoReasonCode], p: object
    ) -> None:
        wrapper.subacks.put((mid, [int(rc.value) for rc in codes]))

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: PahoReasonCode, p: object) -> None:
        wrapper.pubacks.put((mid, int(rc.value)))

    def on_disconnect(c: mqtt.Client, u: object, f: object, rc: PahoReasonCode, p: object) -> None:
        wrapper.disconnects.put(int(rc.value))

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    connect_kwargs: dict[str, Any] = {"keepalive": 30}
    if v5:
        props = PahoProperties(1)  # PacketTypes.CONNECT
        if session_expiry:
            props.SessionExpiryInterval = session_expiry
        connect_kwargs["properties"] = props
        connect_kwargs["clean_start"] = clean
    client.connect("127.0.0.1", port, **connect_kwargs)
    client.loop_start()
    try:
        code = connected.get(timeout=WAIT)
    except queue.Empty:
        client.loop_stop()
        raise AssertionError(f"{client_id!r}: no CONNACK within {WAIT}s") from None
    if code != expect:
        client.loop_stop()
        raise AssertionError(f"{client_id!r}: CONNACK {code:#x}, expected {expect:#x}")
    if code:
        client.loop_stop()
    return wrapper


def connack_code(
    port: int,
    version: ProtocolVersion,
    username: str | None = None,
    password: bytes | None = None,
    *,
    client_id: str = "probe",
    will: Will | None = None,
    source: str | None = None,
) -> int | None:
    """The CONNACK code for a CONNECT, or None if the broker closed without CONNACK."""
    with RawClient.plain("127.0.0.1", port, version, timeout=WAIT, source=source) as raw:
        raw.send(
            Connect(
                client_id=client_id,
                protocol_version=version,
                username=username,
                password=password,
                will=will,
            )
        )
        packet = raw.recv_or_closed()
        if packet is None:
            return None
        assert isinstance(packet, Connack), packet
        return int(packet.reason_code)
