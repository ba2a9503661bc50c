"""Run a :class:`~.server.Broker` on an event loop in a background thread.

For synchronous tests and tools: ``with BackgroundBroker() as b: connect(b.host, b.port)``.
The broker listens on a free port (port 0) unless told otherwise. On exit it is stopped and
the thread joined; an exception that escaped the broker thread, or an internal error the
broker recorded while serving, is re-raised in the caller instead of being lost in a log.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from .config import BrokerConfig
from .core import BrokerCore
from .server import Broker
from .timers import Clock, monotonic

__all__ = ["BackgroundBroker", "BrokerThreadError"]

T = TypeVar("T")


class BrokerThreadError(RuntimeError):
    """The broker failed inside its thread; ``__cause__`` is the original error."""


class BackgroundBroker:
    """A broker running in a daemon thread; a context manager.

    Args:
        config: settings; ``port`` 0 (the default here) picks a free port.
        clock: monotonic clock handed to the broker.
        start_timeout: seconds to wait for the listener to come up.
    """

    def __init__(
        self,
        config: BrokerConfig | None = None,
        *,
        clock: Clock = monotonic,
        start_timeout: float = 10.0,
    ) -> None:
        self.config = config if config is not None else BrokerConfig(port=0)
        self._clock = clock
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.broker: Broker | None = None

    @property
    def host(self) -> str:
        """The first listener's address."""
        return self.config.effective_listeners()[0].host

    @property
    def port(self) -> int:
        """The first listener's bound port."""
        if self.broker is None:
            raise RuntimeError("BackgroundBroker.port read before start()")
        return self.broker.port

    @property
    def ports(self) -> dict[str, int]:
        """The bound port of every listener, by listener name."""
        if self.broker is None:
            raise RuntimeError("BackgroundBroker.ports read before start()")
        return self.broker.ports

    def reload(self, timeout: float = 10.0) -> bool:
        """Reload certificates and security files as SIGHUP does; True if all reloaded."""
        loop, broker = self._loop, self.broker
        if loop is None or broker is None:
            raise RuntimeError("BackgroundBroker not started")
        return asyncio.run_coroutine_threadsafe(broker.reload(), loop).result(timeout)

    @property
    def core(self) -> BrokerCore:
        """The broker's state, for inspection; touch it only through :meth:`call`."""
        if self.broker is None or self.broker.core is None:
            raise RuntimeError("BackgroundBroker not started")
        return self.broker.core

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("BackgroundBroker.start() called twice")
        self._thread = threading.Thread(target=self._run, name="mqttsec-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise BrokerThreadError(f"broker did not start within {self._start_timeout} s")
        if self._error is not None:
            self._thread.join(self._start_timeout)
            raise BrokerThreadError("broker failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self.broker = Broker(self.config, clock=self._clock)
            loop.run_until_complete(self.broker.start())
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
            loop.run_until_complete(self.broker.stop())
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            self._error = exc
        finally:
            loop.close()

    def call(self, func: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``func`` on the broker's loop (thread-safe inspection) and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("BackgroundBroker not started")

        async def wrapper() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(wrapper(), loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker, join the thread, re-raise any error from the broker thread."""
        thread = self._thread
        loop = self._loop
        if thread is None or loop is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                raise BrokerThreadError(f"broker thread did not stop within {timeout} s")
        self._thread = None
        if self._error is not None:
            raise BrokerThreadError("the broker thread failed") from self._error
        core = self.broker.core if self.broker is not None else None
        if core is not None and core.internal_errors:
            raise BrokerThreadError(
                f"the broker recorded {len(core.internal_errors)} internal error(s)"
            ) from core.internal_errors[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
        else:
            try:
                self.stop()
            except BrokerThreadError:
                pass  # the test's own failure is reported; don't mask it
