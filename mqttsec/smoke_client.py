"""Blocking, time-bounded MQTT clients for the smoke checks: paho-mqtt and raw sockets.

paho-mqtt speaks MQTT the way ordinary applications do; :class:`PahoClient` wraps it so every
step (connect, subscribe, publish, receive) either completes or fails with :class:`CheckFailed`
after a bounded wait, never hangs. :func:`send_raw_connect` sends exact bytes for what paho
would refuse to send (malformed packets) and reports how the broker answered.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

__all__ = ["VERSIONS", "CheckFailed", "PahoClient", "RawReply", "send_raw_connect"]

#: Protocol versions the smoke checks speak, by their display name.
VERSIONS: dict[str, MQTTProtocolVersion] = {
    "3.1.1": MQTTProtocolVersion.MQTTv311,
    "5.0": MQTTProtocolVersion.MQTTv5,
}


class CheckFailed(Exception):
    """The broker did not behave as a check expects; the message says what was seen."""


class PahoClient:
    """A paho-mqtt client driven by its own network thread, with bounded waits.

    Args:
        host: broker address.
        port: broker port.
        version: "3.1.1" or "5.0".
        client_id: the MQTT client identifier.
        timeout: seconds every wait is bounded by.
    """

    def __init__(self, host: str, port: int, version: str, client_id: str, timeout: float) -> None:
        self.host, self.port, self.version, self.timeout = host, port, version, timeout
        protocol = VERSIONS[version]
        clean = True if protocol is MQTTProtocolVersion.MQTTv311 else None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        self._connected = threading.Event()
        self._connack: Any = None
        self.disconnect_reason: Any = None
        self._subacks: dict[int, list[Any]] = {}
        self._suback_event = threading.Condition()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail

    # paho callbacks run on paho's network thread; they only record and signal.
    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        self._connack = reason_code
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason_code: Any, _p: Any) -> None:
        # Wakes a connect() still waiting for its CONNACK: the broker closed instead.
        self.disconnect_reason = reason_code
        self._connected.set()

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        self._connected.set()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[Any], _props: Any) -> None:
        with self._suback_event:
            self._subacks[mid] = list(codes)
            self._suback_event.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def will_set(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        """Set the will message; must be called before :meth:`connect`."""
        self._client.will_set(topic, payload, qos=qos, retain=retain)

    def connect(self, *, background: bool = True) -> None:
        """Connect and wait for a successful CONNACK.

        Args:
            background: run paho's network loop in its thread (False: the caller drives it,
                used by :meth:`drop` to close the socket with no DISCONNECT).

        Raises:
            CheckFailed: connection refused, no CONNACK in time, or a failure CONNACK.
        """
        kwargs: dict[str, Any] = {"keepalive": 30}
        if self.version == "5.0":
            kwargs["clean_start"] = True
        try:
            self._client.connect(self.host, self.port, **kwargs)
        except OSError as exc:
            raise CheckFailed(f"TCP connect to {self.host}:{self.port} failed: {exc}") from exc
        if background:
            self._client.loop_start()
            got = self._connected.wait(self.timeout)
        else:
            deadline = time.monotonic() + self.timeout
            while not self._connected.is_set() and time.monotonic() < deadline:
                self._client.loop(timeout=0.05)
            got = self._connected.is_set()
        if not got:
            raise CheckFailed(f"no CONNACK within {self.timeout:g}s")
        if self._connack is None:
            raise CheckFailed(f"connection closed before CONNACK ({self.disconnect_reason})")
        if self._connack.is_failure:
            raise CheckFailed(f"CONNACK refused the connection: {self._connack}")

    def subscribe(self, topic: str, qos: int) -> int:
        """Subscribe and wait for the SUBACK.

        Returns:
            The granted QoS.

        Raises:
            CheckFailed: no SUBACK in time or the SUBACK refused the subscription.
        """
        rc, mid = self._client.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise CheckFailed(f"SUBSCRIBE {topic!r} could not be sent: {mqtt.error_string(rc)}")
        deadline = time.monotonic() + self.timeout
        with self._suback_event:
            while mid not in self._subacks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CheckFailed(f"no SUBACK for {topic!r} within {self.timeout:g}s")
                self._suback_event.wait(remaining)
            codes = self._subacks.pop(mid)
        if len(codes) != 1 or codes[0].is_failure:
            raise CheckFailed(f"SUBACK refused {topic!r}: {codes}")
        return int(codes[0].value)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        """Publish and wait until the QoS flow has completed (PUBACK / PUBCOMP; QoS 0: sent).

        Raises:
            CheckFailed: the flow did not complete in time.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            raise CheckFailed(f"PUBLISH to {topic!r} at QoS {qos} failed: {exc}") from exc
        if not info.is_published():
            raise CheckFailed(
                f"PUBLISH to {topic!r} at QoS {qos} not acknowledged within {self.timeout:g}s"
            )

    def expect_message(self, what: str) -> mqtt.MQTTMessage:
        """Wait for the next message delivered to this client.

        Raises:
            CheckFailed: nothing arrived in time; ``what`` names what was awaited.
        """
        try:
            return self.messages.get(timeout=self.timeout)
        except queue.Empty:
            raise CheckFailed(f"{what} did not arrive within {self.timeout:g}s") from None

    def drop(self) -> None:
        """Close the TCP connection abruptly, without DISCONNECT (a network failure)."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        """Disconnect cleanly (if connected) and stop the network thread; never raises."""
        try:
            if self._connected.is_set():
                self._client.disconnect()
        finally:
            self._client.loop_stop()


@dataclass(frozen=True, slots=True)
class RawReply:
    """How a broker answered raw bytes: what it sent back and whether it closed."""

    data: bytes
    closed: bool

    def connack_code(self) -> int | None:
        """The CONNACK return/reason code in the reply, or None when no CONNACK came."""
        if len(self.data) >= 4 and self.data[0] == 0x20:
            return self.data[3]
        return None


def raw_connect_bytes(version: str, client_id: str, flags: int) -> bytes:
    """A CONNECT packet, built byte by byte so that forbidden flag values can be sent.

    Args:
        version: "3.1.1" or "5.0".
        client_id: ASCII client identifier (< 100 bytes).
        flags: the Connect Flags byte, sent as given (bit 0 is the reserved one).
    """
    level = 4 if version == "3.1.1" else 5
    variable = b"\x00\x04MQTT" + bytes([level, flags]) + b"\x00\x3c"
    if level == 5:
        variable += b"\x00"  # property length 0
    cid = client_id.encode("ascii")
    body = variable + len(cid).to_bytes(2, "big") + cid
    assert len(body) < 128, "raw CONNECT stays within a one-byte remaining length"
    return bytes([0x10, len(body)]) + body


def send_raw_connect(host: str, port: int, packet: bytes, timeout: float) -> RawReply:
    """Send ``packet`` on a new connection and read until the broker closes or time runs out.

    Raises:
        CheckFailed: the TCP connection could not be made.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise CheckFailed(f"TCP connect to {host}:{port} failed: {exc}") from exc
    data = b""
    closed = False
    deadline = time.monotonic() + timeout
    with sock:
        try:
            sock.sendall(packet)
        except ConnectionError:
            return RawReply(data=b"", closed=True)
        while len(data) < 4096:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
    return RawReply(data=data, closed=closed)
