"""Start, probe and stop the brokers under test, each as its own subprocess on a free port.

Every broker gets a generated configuration that listens on 127.0.0.1 only and admits
anonymous clients, with nothing else changed from its defaults (amqtt's optional logging and
$SYS plugins are left out: they are not part of delivering messages). Readiness is proven
by a real MQTT CONNECT/CONNACK, never by a fixed sleep; stopping is by PID (SIGTERM, then
SIGKILL after a bounded wait).
"""

from __future__ import annotations

import functools
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from loadgen import open_client

from mqttsec.external import find_amqtt, find_mosquitto

__all__ = ["BROKERS", "Broker", "BrokerStartError", "free_port"]

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0


class BrokerStartError(RuntimeError):
    """A broker did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mosquitto(port: int, workdir: Path, extra: str = "") -> list[str]:
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}")
    exe = find_mosquitto("mosquitto")
    if exe is None:
        raise BrokerStartError("mosquitto not found: apt-get install mosquitto")
    return [str(exe), "-c", str(conf)]


MOSQUITTO_TUNED = "max_inflight_messages 1000\nmax_queued_messages 10000\nset_tcp_nodelay true\n"
"""The reference broker's own defaults (1000 inflight, 10000 queued) and TCP_NODELAY: with
mosquitto's defaults (20 inflight, Nagle on) QoS 1 is bound by round trips, not by CPU."""


def _mosquitto_tuned(port: int, workdir: Path) -> list[str]:
    return _mosquitto(port, workdir, MOSQUITTO_TUNED)


@functools.cache
def _has_cli() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "mqttsec", "broker", "--help"],
        capture_output=True,
        check=False,
        timeout=30,
        cwd=REPO,
    )
    return probe.returncode == 0


def _reference(port: int, workdir: Path) -> list[str]:
    """``python -m mqttsec broker`` once the CLI has it; the server module directly before."""
    if _has_cli():
        return [
            sys.executable,
            "-m",
            "mqttsec",
            "broker",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--allow-anonymous",  # the load generator's clients send no username
            "true",
        ]
    code = (
        "import asyncio\n"
        "from mqttsec.reference_broker.config import BrokerConfig\n"
        "from mqttsec.reference_broker.server import run_broker\n"
        f"config = BrokerConfig(host='127.0.0.1', port={port}, log_level='WARNING', allow_anonymous=True)\n"
        "result = run_broker(config)\n"
        "if asyncio.iscoroutine(result):\n"
        "    asyncio.run(result)\n"
    )
    return [sys.executable, "-c", code]


def _amqtt(port: int, workdir: Path) -> list[str]:
    exe = find_amqtt("amqtt")
    if exe is None:
        raise BrokerStartError(
            "amqtt not found: python -m venv .venv-amqtt && .venv-amqtt/bin/pip install amqtt"
        )
    conf = workdir / "amqtt.yaml"
    conf.write_text(
        "listeners:\n"
        "  default:\n"
        "    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "plugins:\n"
        "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    return [str(exe), "-c", str(conf)]


BROKERS: dict[str, Callable[[int, Path], list[str]]] = {
    "reference": _reference,
    "mosquitto": _mosquitto,
    "mosquitto-tuned": _mosquitto_tuned,
    "amqtt": _amqtt,
}


@dataclass
class Broker:
    """One running broker subprocess; use as a context manager."""

    name: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mqttsec-bench-")))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def __enter__(self) -> Self:
        argv = BROKERS[self.name](self.port, self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO
            )
        self._wait_ready()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None:  # keep the config and log of a failed run for diagnosis
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerStartError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                open_client("127.0.0.1", self.port, "bench-probe", timeout=1.0).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise BrokerStartError(
                        f"{self.name} not ready after {START_TIMEOUT:.0f} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.02)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if it has not exited within 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
