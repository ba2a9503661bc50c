"""The server shell: run_broker under signals, BackgroundBroker error capture, flow control."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from mqttsec.fixtures.raw_client import RawClient
from mqttsec.reference_broker import BackgroundBroker, Broker, BrokerConfig, BrokerThreadError
from mqttsec.reference_broker.protocol import (
    Pingreq,
    ProtocolVersion,
    Publish,
    QoS,
    Subscription,
    encode,
)

V5 = ProtocolVersion.V5


def test_run_broker_stops_cleanly_on_sigterm_and_sigint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stderr, level=logging.INFO)\n"
        "from mqttsec.reference_broker import BrokerConfig, run_broker\n"
        "sys.exit(run_broker(BrokerConfig(port=0, allow_anonymous=True)))\n"
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=os.environ.copy()
        )
        try:
            assert proc.stderr is not None
            line = ""
            deadline = time.monotonic() + 20
            while "listening" not in line and time.monotonic() < deadline:
                line = proc.stderr.readline()
            port = int(line.rsplit("port", 1)[1])
            with RawClient.plain("127.0.0.1", port, V5) as c:
                c.connect("sig")
                proc.send_signal(sig)
                c.expect_closed()
            assert proc.wait(10) == 0
            rest = proc.stderr.read()
            assert "connected" in rest or "stopped" in rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def test_background_broker_reraises_internal_errors(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = BackgroundBroker(BrokerConfig(port=0, allow_anonymous=True)).start()
    with RawClient.plain(b.host, b.port, V5) as c:
        c.connect("c")

        def boom(*args: object) -> None:
            raise ZeroDivisionError("planted bug")

        b.call(lambda: b.core.connections["c"]._handlers.__setitem__(Pingreq, boom))
        c.send_bytes(b"\xc0\x00")
        c.expect_closed()
    with pytest.raises(BrokerThreadError) as info:
        b.stop()
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_background_broker_start_failure_is_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BrokerThreadError):
            BackgroundBroker(BrokerConfig(port=port)).start()


def test_broker_ports_before_start() -> None:
    with pytest.raises(RuntimeError):
        _ = Broker(BrokerConfig(port=0)).port


def test_slow_consumer_does_not_stall_others(make_broker) -> None:  # type: ignore[no-untyped-def]
    b = make_broker(max_outbound_buffer=16 * 1024, slow_consumer_timeout=0.2)
    with (
        RawClient.plain(b.host, b.port, V5) as slow,
        RawClient.plain(b.host, b.port, V5) as fast,
        RawClient.plain(b.host, b.port, V5) as pub,
    ):
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect("slow")
        fast.connect("fast")
        pub.connect("pub")
        slow.subscribe(Subscription("flood", QoS(0)))
        fast.subscribe(Subscription("flood", QoS(0)))
        payload = b"x" * 1000
        blob = encode(Publish("flood", payload), V5) * 100
        received = 0
        deadline = time.monotonic() + 20
        for _ in range(30):  # 3000 messages, ~3 MB, to a client that never reads
            pub.send_bytes(blob)
            while fast.pending or received < 1:
                fast.expect(Publish)
                received += 1
                if not fast.pending:
                    break
        fast.sock.settimeout(5)
        pub.publish("flood", b"sentinel")
        while True:
            assert time.monotonic() < deadline
            if fast.expect(Publish).payload == b"sentinel":
                break
        buffered = b.call(lambda: b.core.connections["slow"].transport.get_write_buffer_size())
        assert buffered < 1024 * 1024  # bounded, not ~3 MB
