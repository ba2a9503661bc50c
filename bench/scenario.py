"""Run one load scenario against a listening broker and measure it on the orchestrator's clock.

Timeline: subscribers connect and subscribe; the publisher connects and starts; after the
warm-up the delivered counters and the CPU times of the broker and of the generator
processes are sampled; the measured window ends after ``duration`` seconds (or earlier once a
``--messages`` limit has been published and delivery has stopped). Then the publisher stops,
the subscribers drain what the broker still holds (bounded), and loss is the share of
published messages (QoS 1: acknowledged by the broker) that never reached a subscriber.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from loadgen import LoadSpec, Shared, run_publisher, run_subscribers, wait_until
from machine import cpu_seconds, machine_busy_seconds, rss_mb

__all__ = ["Measurement", "Timing", "measure"]

SAMPLE = 0.02
DRAIN_QUIET = 0.5
DRAIN_MIN = 3.0
DRAIN_MAX = 10.0


@dataclass(frozen=True)
class Timing:
    """How long each phase of a scenario lasts, in seconds."""

    warmup: float = 1.0
    duration: float = 5.0


@dataclass(frozen=True)
class Measurement:
    """What one scenario measured.

    Attributes:
        rate: messages per second over the window, counted at the subscribers (at the
            publisher when there are none, as in the self-test's sink runs).
        window: seconds the window actually lasted.
        published: messages the publisher sent in the whole run (QoS 1: acknowledged).
        delivered: messages all subscribers received in the whole run, drain included.
        loss: 1 - delivered / (published x subscribers); 0 without subscribers.
        server_cpu: CPU% of the broker (or sink) process over the window; 100 = one core.
        generator_cpu: CPU% of the publisher and subscriber processes together.
        publisher_cpu: CPU% of the publisher process alone (0 when there is none).
        other_cpu: CPU% used during the window by everything else on the machine (other
            programs, the kernel's softirq work not charged to a process); high values mean
            the figure is disturbed.
        server_rss_mb: resident memory of the broker at the end of the window.
    """

    rate: float
    window: float
    published: int
    delivered: int
    loss: float
    server_cpu: float
    generator_cpu: float
    publisher_cpu: float
    other_cpu: float
    server_rss_mb: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    spec: LoadSpec,
    subscribers: int,
    server_pid: int,
    timing: Timing,
    *,
    publisher: bool = True,
    subscriber_processes: int = 1,
) -> Measurement:
    """Run one scenario and return its :class:`Measurement`.

    Args:
        spec: what to send and where.
        subscribers: subscriber connections (0: publisher only).
        server_pid: PID of the broker process, for its CPU% and memory.
        timing: warm-up and window lengths.
        publisher: False when the server itself is the source (self-test).
        subscriber_processes: processes the subscriber connections are spread over.

    Raises:
        RuntimeError: a generator process failed; carries its traceback.
    """
    ctx = multiprocessing.get_context("fork")
    shared = Shared(ctx, subscribers)
    if not publisher:
        shared.pub_done.value = 1  # the server is the source; nothing to wait for
    groups = [
        list(range(subscribers))[i::subscriber_processes] for i in range(subscriber_processes)
    ]
    procs = [
        ctx.Process(target=run_subscribers, args=(spec, shared, g), daemon=True)
        for g in groups
        if g
    ]
    if publisher:
        procs.append(ctx.Process(target=run_publisher, args=(spec, shared), daemon=True))
    try:
        for proc in procs[: len(procs) - publisher]:
            proc.start()
        _wait(lambda: all(shared.sub_ready[i] for i in range(subscribers)), shared, "subscribers")
        if publisher:
            procs[-1].start()
            _wait(lambda: shared.pub_ready.value, shared, "the publisher")
        return _sample(spec, shared, subscribers, server_pid, [_pid(p) for p in procs], timing)
    finally:
        shared.stop_pub.value = 1
        shared.stop_sub.value = 1
        for proc in procs:
            proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=3)


def _pid(proc: Any) -> int:
    if proc.pid is None:
        raise RuntimeError("generator process did not start")
    return int(proc.pid)


def _wait(predicate: Any, shared: Shared, what: str) -> None:
    def done() -> bool:
        if not shared.errors.empty():
            raise RuntimeError(shared.errors.get())
        return bool(predicate())

    wait_until(done, 15.0, what)


def _progress(shared: Shared, subscribers: int, spec: LoadSpec) -> int:
    if subscribers:
        return shared.total_delivered()
    return int(shared.acked.value if spec.qos else shared.sent.value)


def _sample(
    spec: LoadSpec,
    shared: Shared,
    subscribers: int,
    server_pid: int,
    gen_pids: list[int],
    timing: Timing,
) -> Measurement:
    def gen_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in gen_pids)

    pub_pid = gen_pids[-1] if not shared.pub_done.value else None

    time.sleep(timing.warmup)
    _raise_errors(shared)
    t1, c1 = time.monotonic(), _progress(shared, subscribers, spec)
    s1, g1 = cpu_seconds(server_pid), gen_cpu()
    m1, o1 = machine_busy_seconds(), cpu_seconds(os.getpid())
    p1 = cpu_seconds(pub_pid) if pub_pid else 0.0
    t_last, c_last = t1, c1
    deadline = t1 + timing.duration
    while (now := time.monotonic()) < deadline:
        count = _progress(shared, subscribers, spec)
        if count != c_last:
            t_last, c_last = now, count
        elif shared.pub_done.value and now - t_last > DRAIN_QUIET:
            break  # the --messages limit was reached and everything has arrived
        time.sleep(SAMPLE)
    t2, c2 = time.monotonic(), _progress(shared, subscribers, spec)
    s2, g2 = cpu_seconds(server_pid), gen_cpu()
    m2, o2 = machine_busy_seconds(), cpu_seconds(os.getpid())
    elapsed = time.monotonic() - t1
    p2 = cpu_seconds(pub_pid) if pub_pid else 0.0
    rss = rss_mb(server_pid)
    _raise_errors(shared)
    if c2 == c_last and shared.pub_done.value:
        t2 = t_last  # the window ended early; do not count the idle tail
    window = max(t2 - t1, 1e-9)
    published, delivered = _finish(shared, subscribers, spec, (c2 - c1) / window)
    loss = 0.0
    if subscribers and published:
        loss = max(0.0, 1.0 - delivered / (published * subscribers))
    return Measurement(
        rate=(c2 - c1) / window,
        window=window,
        published=published,
        delivered=delivered,
        loss=loss,
        server_cpu=100.0 * (s2 - s1) / window,
        generator_cpu=100.0 * (g2 - g1) / window,
        publisher_cpu=100.0 * (p2 - p1) / window,
        other_cpu=max(0.0, 100.0 * ((m2 - m1) - (s2 - s1) - (g2 - g1) - (o2 - o1)) / elapsed),
        server_rss_mb=rss,
    )


def _finish(shared: Shared, subscribers: int, spec: LoadSpec, rate: float) -> tuple[int, int]:
    """Stop the publisher, let the subscribers drain (bounded), return the totals.

    The drain lasts until everything arrived, or nothing arrived for 0.5 s, or the time the
    backlog needs at the measured rate (with margin) is up: 3 to 10 s.
    """
    shared.stop_pub.value = 1
    wait_until(lambda: shared.pub_done.value, 5.0, "the publisher to stop")
    published = int(shared.acked.value if spec.qos else shared.sent.value)
    start = last_change = time.monotonic()
    last = shared.total_delivered()
    outstanding = published * subscribers - last
    limit = min(DRAIN_MAX, max(DRAIN_MIN, 1.5 * outstanding / max(rate, 1.0)))
    while subscribers and (now := time.monotonic()) - start < limit:
        if last >= published * subscribers or now - last_change > DRAIN_QUIET:
            break
        time.sleep(SAMPLE)
        if (count := shared.total_delivered()) != last:
            last, last_change = count, time.monotonic()
    _raise_errors(shared)
    return published, shared.total_delivered()


def _raise_errors(shared: Shared) -> None:
    if not shared.errors.empty():
        raise RuntimeError(shared.errors.get())
