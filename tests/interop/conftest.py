"""Fixtures for real-client interoperability tests: brokers to talk to and CLI clients to run.

Every subprocess is started by a fixture here, waited on with a bound, and killed by its own
PID if still running at teardown.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from interop_support import WAIT, ClientProcess, Endpoint

from mqttsec.reference_broker import BackgroundBroker


@pytest.fixture
def ref_broker(broker: BackgroundBroker) -> Endpoint:
    """The reference broker of tests/conftest.py (fresh per test, free port), as an Endpoint."""
    return Endpoint(broker.host, broker.port)


def _wait_listening(host: str, port: int, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"broker exited with {proc.returncode}: {proc.stdout and proc.stdout.read()}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"broker not listening on {host}:{port} after {timeout:g}s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mosquitto_broker(mosquitto_tools: dict[str, Path], tmp_path: Path) -> Iterator[Endpoint]:
    """A mosquitto broker (the Debian binary) on a free loopback port, anonymous access."""
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [str(mosquitto_tools["mosquitto"]), "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_listening("127.0.0.1", port, proc, WAIT)
        yield Endpoint("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


@pytest.fixture
def spawn() -> Iterator[type[ClientProcess]]:
    """Start client processes; any still running at teardown is killed (by its own PID)."""
    started: list[ClientProcess] = []

    class Tracked(ClientProcess):
        def __init__(self, argv: Sequence[str | Path]) -> None:
            super().__init__(argv)
            started.append(self)

    yield Tracked
    for client in started:
        client.kill()


def _run_client(
    argv: Sequence[str | Path], timeout: float = WAIT
) -> subprocess.CompletedProcess[str]:
    """Run a client to completion (e.g. a publisher) and fail the test on a non-zero exit."""
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{argv[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def run_client() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_client(argv, timeout=WAIT)``: run a client to completion; non-zero exit fails."""
    return _run_client
