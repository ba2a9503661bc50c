"""Throttling of repeated failed logins, per client address and per username.

A password guesser gets ``attempts`` failures within a sliding ``window`` of seconds, per
client IP address and per username; after that, further CONNECTs from that address (or for
that username) are refused *before* any password is hashed, until old failures leave the
window. Refusing early is the point: PBKDF2 is expensive on purpose, and a guesser must not
turn it into a denial of service. A successful login does not clear the record (an attacker
who also knows one valid account must not reset the counter).

Memory is bounded: at most ``max_keys`` addresses and usernames are tracked; beyond that the
least recently failed ones are forgotten. Time comes from an injected monotonic clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """Counts failed logins in a sliding window.

    Args:
        attempts: failures allowed per key within the window; more are refused.
        window: the window length in seconds.
        clock: monotonic seconds (injected in tests).
        max_keys: addresses plus usernames tracked at most.
    """

    def __init__(
        self, attempts: int, window: float, clock: Callable[[], float], max_keys: int = 100_000
    ) -> None:
        if attempts < 1 or window <= 0:
            raise ValueError("attempts must be >= 1 and window > 0")
        self.attempts = attempts
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _keys(address: str | None, username: str | None) -> list[str]:
        keys = []
        if address is not None:
            keys.append("a:" + address)
        if username is not None:
            keys.append("u:" + username)
        return keys

    def _recent(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if times is None:
            return 0
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0
        return len(times)

    def is_throttled(self, address: str | None, username: str | None) -> bool:
        """Whether a login from *address* for *username* is refused without checking it."""
        now = self._clock()
        return any(self._recent(key, now) >= self.attempts for key in self._keys(address, username))

    def record_failure(self, address: str | None, username: str | None) -> None:
        """Count one failed login against the address and the username."""
        now = self._clock()
        for key in self._keys(address, username):
            self._recent(key, now)
            times = self._failures.get(key)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.attempts)
            else:
                self._failures.move_to_end(key)
            times.append(now)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        """How many addresses and usernames are tracked (for tests and metrics)."""
        return len(self._failures)
