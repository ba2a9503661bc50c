"""The reference broker's listener: :class:`Broker` and the blocking :func:`run_broker`.

``Broker`` binds one TCP listener (both MQTT 3.1.1 and 5.0 on it) and creates a
:class:`~.connection.Connection` per client. ``run_broker`` runs it until SIGINT or SIGTERM
and returns exit status 0 after a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

from .config import BrokerConfig, log_level_number
from .connection import Connection
from .core import LOGGER_NAME, BrokerCore
from .protocol import ReasonCode
from .timers import Clock, monotonic

__all__ = ["Broker", "run_broker"]

log = logging.getLogger(LOGGER_NAME)


class Broker:
    """An MQTT broker bound to ``config.host``/``config.port``.

    Args:
        config: settings and limits.
        clock: monotonic clock for session expiry, will delay and message expiry.
    """

    def __init__(self, config: BrokerConfig | None = None, *, clock: Clock = monotonic) -> None:
        self.config = config if config is not None else BrokerConfig()
        self._clock = clock
        self._server: asyncio.Server | None = None
        self.core: BrokerCore | None = None

    @property
    def ports(self) -> list[int]:
        """The bound ports (one per listening socket; all equal for one host)."""
        if self._server is None:
            raise RuntimeError("Broker.ports read before start()")
        return [s.getsockname()[1] for s in self._server.sockets]

    @property
    def port(self) -> int:
        """The actual port, useful when the configuration asked for port 0."""
        return self.ports[0]

    @property
    def host(self) -> str:
        return self.config.host

    async def start(self) -> None:
        """Bind the listener and start accepting clients."""
        if self._server is not None:
            raise RuntimeError("Broker.start() called twice")
        loop = asyncio.get_running_loop()
        core = self.core = BrokerCore(self.config, self._clock, loop)
        self._server = await loop.create_server(
            lambda: Connection(core),
            self.config.host,
            self.config.port,
            reuse_address=True,
            backlog=1024,
        )
        for sock in self._server.sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("mqttsec reference broker listening on %s port %d", self.config.host, self.port)

    async def serve_forever(self) -> None:
        """Serve until cancelled or stopped."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def stop(self) -> None:
        """Stop listening and close every client (5.0 clients get DISCONNECT 0x8B)."""
        server = self._server
        if server is None:
            return
        server.close()
        core = self.core
        if core is not None:
            for connection in list(core.all_connections):
                connection.close(ReasonCode.SERVER_SHUTTING_DOWN, "")
            core.flush()
            core.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 5.0)
        except TimeoutError:
            log.warning("some client connections did not close within 5 s")
        self._server = None
        log.info("mqttsec reference broker stopped")


def run_broker(config: BrokerConfig) -> int:
    """Run a broker in the foreground until SIGINT or SIGTERM; returns the exit status (0)."""
    logging.getLogger(LOGGER_NAME).setLevel(log_level_number(config))

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
            await broker.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0
