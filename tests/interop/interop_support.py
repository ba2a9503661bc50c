"""Helpers for the interoperability tests: broker endpoints and CLI client processes.

A module (not conftest) so tests can import the types for their annotations.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Seconds any single wait in these tests may take; generous for a loaded 2-core CI machine.
WAIT = 10.0


@dataclass(frozen=True)
class Endpoint:
    """Where a broker listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class ClientProcess:
    """A CLI client (mosquitto_sub, amqtt_sub, ...) whose output lines are read as they come.

    stdout and stderr are merged; a reader thread queues lines so the test can wait for a
    line (e.g. "received SUBACK") with a bound instead of sleeping.
    """

    def __init__(self, argv: Sequence[str | Path]) -> None:
        self.argv = [str(a) for a in argv]
        # C clients block-buffer a piped stdout; stdbuf makes them write line by line.
        # Python clients (amqtt) are told the same with PYTHONUNBUFFERED.
        stdbuf = shutil.which("stdbuf")
        prefix = [stdbuf, "-oL", "-eL"] if stdbuf else []
        self.proc = subprocess.Popen(
            [*prefix, *self.argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """The first (new) output line containing ``text``; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"{self.argv[0]} exited before printing {text!r}:\n{self.output()}")
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"{self.argv[0]} did not print {text!r} within {timeout:g}s:\n{self.output()}")

    def finish(self, timeout: float = WAIT) -> int:
        """Wait for the process to exit by itself; returns its exit code, collects all output."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.argv[0]} did not exit within {timeout:g}s:\n{self.output()}")
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL: the OS closes the socket, so the broker sees no DISCONNECT."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
