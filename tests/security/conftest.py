"""Helpers for the security tests: a mosquitto started on a free port, and small paho clients.

Everything waits with a deadline; negative checks use sentinel messages, never sleeps.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqttsec.external import find_mosquitto

WAIT = 5.0  # seconds any single expected event may take


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MosquittoBroker:
    """A running mosquitto; ``port`` on 127.0.0.1, ``log`` its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)


def start_mosquitto(binary: Path, workdir: Path, settings: str) -> MosquittoBroker:
    """Start mosquitto with *settings* (extra config lines) on a free port; wait until it listens."""
    port = _free_port()
    log = workdir / f"mosquitto-{port}.log"
    conf = workdir / f"mosquitto-{port}.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"log_dest file {log}\nlog_type all\npersistence false\n"
        # As root mosquitto drops to user "mosquitto", which cannot read 0600 test files.
        + ("user root\n" if os.geteuid() == 0 else "")
        + settings
    )
    process = subprocess.Popen([str(binary), "-c", str(conf)], stderr=subprocess.PIPE)
    broker = MosquittoBroker(process, port, log)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"mosquitto exited ({process.returncode}): {err}{broker.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.02)  # polling for readiness, not a negative check
    broker.stop()
    raise RuntimeError(f"mosquitto did not listen on {port} within {WAIT}s: {broker.log_text()}")


@pytest.fixture(scope="module")
def mosquitto_starter(
    mosquitto_tools: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], MosquittoBroker]]:
    """Start mosquittos with given config lines; all are stopped at the end of the module."""
    started: list[MosquittoBroker] = []
    workdir = tmp_path_factory.mktemp("mosquitto")

    def start(settings: str) -> MosquittoBroker:
        broker = start_mosquitto(mosquitto_tools["mosquitto"], workdir, settings)
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture(scope="session")
def mosquitto_passwd(mosquitto_tools: dict[str, Path]) -> Path:
    """The real mosquitto_passwd (skip, or fail under CI, if missing)."""
    path = find_mosquitto("mosquitto_passwd")
    if path is None:
        message = "mosquitto_passwd not found; apt-get install mosquitto"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@dataclass
class Client:
    """A connected paho client (MQTT 3.1.1) that records what it receives."""

    paho: mqtt.Client
    received: queue.Queue[tuple[str, bytes]] = field(default_factory=queue.Queue)
    acks: queue.Queue[int] = field(default_factory=queue.Queue)

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe and wait for the SUBACK; returns its reason codes."""
        _, mid = self.paho.subscribe([(f, qos) for f in filters])
        got = self.acks.get(timeout=WAIT)
        assert got == mid, f"SUBACK for {got}, expected {mid}"
        return self._suback_codes

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.paho.publish(topic, payload, qos=qos)

    def collect_until(
        self, sentinel_topic: str, token: bytes | None = None
    ) -> list[tuple[str, bytes]]:
        """Messages received before the sentinel (which must arrive within :data:`WAIT`).

        The sentinel is the first message on *sentinel_topic* (with payload *token*, if given:
        use a fresh token when the queue may hold an older sentinel).
        """
        out: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"sentinel {sentinel_topic!r} never arrived; got {out}"
            topic, payload = self.received.get(timeout=remaining)
            if topic == sentinel_topic and (token is None or payload == token):
                return out
            out.append((topic, payload))

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()

    _suback_codes: list[int] = field(default_factory=list)


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def connect_result(
    port: int, username: str | None, password: bytes | None, client_id: str = "probe"
) -> int:
    """The MQTT 3.1.1 CONNACK return code (0 accepted, 4 bad credentials, 5 not authorised).

    Sent as raw bytes so the exact byte is seen (paho maps 3.1.1 codes onto 5.0 reason codes)
    and so a password may contain any byte, NUL included.
    """
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _utf8("MQTT") + bytes([4, flags]) + (10).to_bytes(2, "big") + _utf8(client_id)
    if username is not None:
        body += _utf8(username)
    if password is not None:
        body += len(password).to_bytes(2, "big") + password
    assert len(body) < 128
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        connack = b""
        while len(connack) < 4:
            chunk = sock.recv(4 - len(connack))
            assert chunk, f"connection closed after {connack!r}"
            connack += chunk
    assert connack[:2] == b"\x20\x02", connack
    return connack[3]


def connect_client(port: int, username: str | None, password: str | None, client_id: str) -> Client:
    """Connect and wait for a successful CONNACK (fails the test otherwise)."""
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    if username is not None:
        paho.username_pw_set(username, password)
    client = Client(paho)
    connected: queue.Queue[int] = queue.Queue()
    paho.on_connect = lambda c, u, f, rc, p: connected.put(int(rc.value))

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        client.received.put((msg.topic, bytes(msg.payload)))

    def on_subscribe(
        c: mqtt.Client, u: object, mid: int, codes: list[ReasonCode], p: Properties | None
    ) -> None:
        client._suback_codes = [int(rc.value) for rc in codes]
        client.acks.put(mid)

    paho.on_message = on_message
    paho.on_subscribe = on_subscribe
    paho.connect("127.0.0.1", port, keepalive=30)
    paho.loop_start()
    rc = connected.get(timeout=WAIT)
    if rc != 0:
        paho.loop_stop()
        raise AssertionError(f"{username!r}/{client_id!r} refused with CONNACK {rc}")
    return client
