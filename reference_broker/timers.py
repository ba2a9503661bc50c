"""A clock type and a timer queue driven by an injected monotonic clock.

Session expiry and will delay are deadlines in this queue rather than event-loop callbacks,
so their logic can be unit-tested by advancing a fake clock and calling :meth:`run_due`,
without sleeping. The server arms one event-loop timer for the earliest deadline.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable

__all__ = ["Clock", "Timer", "TimerQueue", "monotonic"]

Clock = Callable[[], float]
"""Returns monotonic seconds; ``time.monotonic`` in production, a fake in tests."""

monotonic: Clock = time.monotonic


class Timer:
    """A handle to one scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerQueue:
    """Deadlines on an injected clock, run in order by :meth:`run_due`.

    Args:
        clock: the monotonic clock deadlines refer to.
        on_earliest_changed: called with the new earliest deadline whenever a timer is added
            that becomes the first to fire (the server re-arms its loop timer there).
    """

    def __init__(
        self,
        clock: Clock = monotonic,
        on_earliest_changed: Callable[[float], None] | None = None,
    ) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._on_change = on_earliest_changed

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once ``delay`` seconds have passed on the clock."""
        timer = Timer(self.clock() + max(0.0, delay), callback)
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        if self._on_change is not None and (earliest is None or timer.deadline < earliest):
            self._on_change(timer.deadline)
        return timer

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, skipping cancelled timers."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float | None = None) -> int:
        """Run every timer whose deadline has passed; returns how many ran."""
        if now is None:
            now = self.clock()
        ran = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            timer.cancelled = True
            timer.callback()
            ran += 1
        return ran

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)
