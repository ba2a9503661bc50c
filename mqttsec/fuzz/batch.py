"""Many fuzz examples in flight at once: sent together, each judged when its connection ends.

One example is one TCP connection (the harness's CONNECT, the example, the PINGREQ sentinel).
Sent one at a time, every example costs a full broker round trip of latency, and one the
broker neither answers nor closes costs the whole answer bound. Here a batch of examples is
sent on as many connections at once and all of them are watched with one selector: a
connection ends when the broker closes it or answers the sentinel, exactly as in
:meth:`~mqttsec.fuzz.harness.BrokerHarness.exchange`.

The batch is over when each of its connections has ended or the broker has gone quiet (no
event on them for ``quiet`` seconds, or twice the longest gap between their events so far,
whichever is longer, at most the answer bound); then the probe pair checks the broker still serves
(:meth:`~mqttsec.fuzz.harness.BrokerHarness.survives`). A connection still open then stays
*in flight* across later batches until it ends or its answer bound passes (then it is
judged "no answer"); that bound runs from the probe's success, not from the send, so a
broker slowed by a loaded machine is not taken for one that holds connections open. A
held-open connection costs a file descriptor, not the run's time.
At most ``max_in_flight`` connections are open; beyond that the next batch waits.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqttsec.reference_broker.protocol import Packet, Pingresp, ProtocolError, StreamParser

from .harness import Answer, BrokerDown, BrokerHarness, Observation, Verdict
from .mutations import Malformed

__all__ = ["SLOTS", "Batcher", "Judged"]

SLOTS = 4096
"""Distinct client ids cycled through by the examples' connections: more than can be open at
once (``max_in_flight``), so no example's CONNECT takes over another's session."""


@dataclass(frozen=True, slots=True)
class Judged:
    """One example's bytes and how it was judged."""

    case: Malformed
    stream: bytes
    verdict: Verdict


class _Flight:
    """One example's connection while the broker has not ended it."""

    __slots__ = ("case", "deadline", "got", "parser", "sock", "stream", "unsent")

    def __init__(self, case: Malformed, stream: bytes, sock: socket.socket, deadline: float):
        self.case = case
        self.stream = stream
        self.sock = sock
        self.deadline = deadline
        self.parser = StreamParser(case.version, role="client")
        self.got: list[Packet] = []
        self.unsent = memoryview(stream)


class Batcher:
    """Runs batches of examples through *harness* concurrently.

    Args:
        harness: connects, judges and checks survival.
        quiet: a batch is over once its connections have had no event for this long.
        max_in_flight: connections open at most (held-open ones included).
    """

    def __init__(
        self, harness: BrokerHarness, *, quiet: float = 0.02, max_in_flight: int = 512
    ) -> None:
        self.harness = harness
        self.quiet = quiet
        self.max_in_flight = max_in_flight
        self._selector = selectors.DefaultSelector()
        self._flights: dict[int, _Flight] = {}
        self._launched = 0
        self._address: tuple[socket.AddressFamily, Any] | None = None
        self._last: list[bytes] = []

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def _launch(self, case: Malformed) -> _Flight:
        self._launched += 1
        stream = self.harness.stream(case, self._launched % SLOTS)
        self._last.append(stream)
        if self._address is None:  # resolve once, not for every connection
            host, port = self.harness.host, self.harness.port
            info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            self._address = (info[0], info[4])
        family, address = self._address
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.harness.survive_timeout)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            raise BrokerDown(f"cannot connect to {address}: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        flight = _Flight(case, stream, sock, time.monotonic() + self.harness.answer_timeout)
        self._flights[sock.fileno()] = flight
        self._send(flight)
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if flight.unsent else 0)
        self._selector.register(sock, events, flight)
        return flight

    def _send(self, flight: _Flight) -> None:
        try:
            sent = flight.sock.send(flight.unsent)
        except BlockingIOError:
            return
        except OSError:
            sent = len(flight.unsent)  # closed while we were still sending: read what it said
        flight.unsent = flight.unsent[sent:]

    def _end(self, flight: _Flight, seen: Observation) -> Judged:
        self._flights.pop(flight.sock.fileno(), None)
        self._selector.unregister(flight.sock)
        flight.sock.close()
        verdict = self.harness.judge(flight.case, flight.stream, seen)
        return Judged(flight.case, flight.stream, verdict)

    def _read(self, flight: _Flight) -> Observation | None:
        try:
            data = flight.sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            return Observation(Answer.CLOSED, tuple(flight.got))
        try:
            new = flight.parser.feed(data)
        except ProtocolError as exc:
            flight.got.extend(exc.packets_before)  # type: ignore[arg-type]
            return Observation(Answer.BAD_BYTES, tuple(flight.got), f"{exc} in {data.hex()}")
        flight.got.extend(new)
        if any(isinstance(p, Pingresp) for p in new):
            return Observation(Answer.ANSWERED, tuple(flight.got))
        return None

    def _pump(self, timeout: float, out: list[Judged]) -> set[int]:
        """Handle the events of up to *timeout* seconds; ended flights go to *out*.

        Returns:
            The ids of the flights that had an event.
        """
        active: set[int] = set()
        for key, events in self._selector.select(max(timeout, 0.0)):
            flight: _Flight = key.data
            active.add(id(flight))
            if events & selectors.EVENT_WRITE and flight.unsent:
                self._send(flight)
                if not flight.unsent:
                    self._selector.modify(flight.sock, selectors.EVENT_READ, flight)
            if events & selectors.EVENT_READ:
                seen = self._read(flight)
                if seen is not None:
                    out.append(self._end(flight, seen))
        now = time.monotonic()
        for flight in [f for f in self._flights.values() if f.deadline <= now]:
            out.append(self._end(flight, Observation(Answer.NO_ANSWER, tuple(flight.got))))
        return active

    def _next_deadline(self) -> float:
        return min((f.deadline for f in self._flights.values()), default=time.monotonic() + 1)

    def run(self, cases: Sequence[Malformed]) -> list[Judged]:
        """Send *cases* concurrently, wait for them (or quiet), then check survival.

        Returns:
            Every example judged meanwhile: this batch's and earlier held-open ones.

        Raises:
            BrokerDown: a connection was refused, or the probes no longer get through.
        """
        out: list[Judged] = []
        self._last = []
        while self._flights and len(self._flights) + len(cases) > self.max_in_flight:
            self._pump(self._next_deadline() - time.monotonic(), out)
        batch = {id(self._launch(case)) for case in cases}
        last = time.monotonic()
        quiet = self.quiet
        while True:
            mine = {id(f) for f in self._flights.values()} & batch
            now = time.monotonic()
            if not mine or now - last >= quiet:
                break
            wait = min(last + quiet, self._next_deadline()) - now
            if self._pump(wait, out) & batch:
                now = time.monotonic()
                # a broker that answers slowly (a costly password hash per CONNECT) is not
                # quiet between two answers: wait twice its slowest gap, up to the bound
                quiet = min(max(quiet, 2 * (now - last)), self.harness.answer_timeout)
                last = now
        self.harness.survives(len(cases))
        # The answer bound runs from when the broker has shown it is serving again (the probe
        # came through after these bytes were sent), so time spent queued behind the rest of
        # the batch on a loaded machine does not count as holding a connection open.
        bound = time.monotonic() + self.harness.answer_timeout
        for flight in self._flights.values():
            if id(flight) in batch:
                flight.deadline = max(flight.deadline, bound)
        return out

    def streams(self, cases: Sequence[Malformed]) -> list[bytes]:
        """The bytes sent for *cases*, the last batch (those not sent: as they would be)."""
        sent = self._last[: len(cases)]
        return sent + [self.harness.stream(case) for case in cases[len(sent) :]]

    def drain(self) -> list[Judged]:
        """Wait for every connection still in flight (each bounded by its answer bound)."""
        out: list[Judged] = []
        while self._flights:
            self._pump(self._next_deadline() - time.monotonic() + 0.001, out)
        return out

    def close(self) -> None:
        """Close every connection in flight without judging it (after the broker went down)."""
        for flight in list(self._flights.values()):
            self._selector.unregister(flight.sock)
            flight.sock.close()
        self._flights.clear()
        self._selector.close()
