"""The reference broker: :class:`Broker` and the blocking :func:`run_broker`.

``Broker`` binds every configured listener (plain, TLS, mTLS; MQTT 3.1.1 and 5.0 on each)
and creates a :class:`~.connection.Connection` per client (see :mod:`.listeners`). Start-up
reads every TLS and security file first and binds nothing if one is broken: the broker never
runs half-secured. ``run_broker`` runs it until SIGINT or SIGTERM (exit status 0 after a
clean stop) and reloads certificates and security files on SIGHUP.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal

from .config import BrokerConfig, ListenerConfig, log_level_number
from .core import LOGGER_NAME, BrokerCore
from .listeners import check_security_files, open_listener, tls_holders
from .protocol import ReasonCode
from .security.tls import TlsContextHolder
from .timers import Clock, monotonic

__all__ = ["Broker", "run_broker"]

log = logging.getLogger(LOGGER_NAME)


class Broker:
    """An MQTT broker bound to ``config.listeners`` (or ``config.host``/``config.port``).

    Args:
        config: settings and limits.
        clock: monotonic clock for session expiry, will delay and message expiry.
    """

    def __init__(self, config: BrokerConfig | None = None, *, clock: Clock = monotonic) -> None:
        self.config = config if config is not None else BrokerConfig()
        self._clock = clock
        self._servers: dict[str, asyncio.Server] = {}
        self.listeners: tuple[ListenerConfig, ...] = self.config.effective_listeners()
        self.tls: dict[str, TlsContextHolder] = {}
        self.core: BrokerCore | None = None

    @property
    def ports(self) -> dict[str, int]:
        """The bound port of each listener, by listener name (port 0 resolved)."""
        if not self._servers:
            raise RuntimeError("Broker.ports read before start()")
        return {name: server.sockets[0].getsockname()[1] for name, server in self._servers.items()}

    @property
    def port(self) -> int:
        """The first listener's actual port, useful when the configuration asked for port 0."""
        return self.ports[self.listeners[0].name]

    @property
    def host(self) -> str:
        """The first listener's address."""
        return self.listeners[0].host

    async def start(self) -> None:
        """Check every TLS and security file, then bind the listeners and accept clients.

        Raises:
            ConfigError: a TLS, password, ACL or plugin setting is broken (nothing is bound).
            OSError: a listener cannot be bound (the others are closed again).
        """
        if self._servers or self.core is not None:
            raise RuntimeError("Broker.start() called twice")
        self.tls = tls_holders(self.config)
        check_security_files(self.config)
        loop = asyncio.get_running_loop()
        core = self.core = BrokerCore(self.config, self._clock, loop)
        try:
            for listener in self.listeners:
                self._servers[listener.name] = await open_listener(core, listener, self.tls)
        except BaseException:
            for server in self._servers.values():
                server.close()
            self._servers.clear()
            core.close()
            self.core = None
            raise
        for listener in self.listeners:
            log.info(
                "mqttsec reference broker listener %r (%s) listening on %s port %d",
                listener.name,
                listener.scheme,
                listener.host,
                self.ports[listener.name],
            )

    async def reload(self) -> bool:
        """Reload TLS certificates and the security files (SIGHUP).

        Every part is tried; a part whose new files are broken keeps its previous, working
        state and logs why (a reload never ends less secure than before).

        Returns:
            True if everything reloaded, False if some part kept its old state.
        """
        ok = True
        for name, holder in self.tls.items():
            if not holder.reload():
                log.error("listener %r keeps its previous TLS certificates", name)
                ok = False
        reload_security = getattr(self.core, "reload_security", None)
        if callable(reload_security):
            try:
                result = reload_security()
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:  # noqa: BLE001 -- a failed reload keeps the old policy
                log.error("security reload failed, keeping the previous policy: %s", exc)
                result = False
            ok = ok and result is not False
        log.info("reload %s", "done" if ok else "incomplete (see errors above)")
        return ok

    async def serve_forever(self) -> None:
        """Serve until cancelled or stopped."""
        if not self._servers:
            await self.start()
        await asyncio.gather(*(server.serve_forever() for server in self._servers.values()))

    async def stop(self) -> None:
        """Stop listening and close every client (5.0 clients get DISCONNECT 0x8B)."""
        servers = list(self._servers.values())
        if not servers:
            return
        for server in servers:
            server.close()
        core = self.core
        if core is not None:
            for connection in list(core.all_connections):
                connection.close(ReasonCode.SERVER_SHUTTING_DOWN, "")
            core.flush()
            core.close()
            if core.security.chain is not None:
                await core.security.chain.close()  # plugins release keys, files, connections
        try:
            await asyncio.wait_for(
                asyncio.gather(*(server.wait_closed() for server in servers)), 5.0
            )
        except TimeoutError:
            log.warning("some client connections did not close within 5 s")
        self._servers.clear()
        log.info("mqttsec reference broker stopped")


def run_broker(config: BrokerConfig) -> int:
    """Run a broker in the foreground until SIGINT or SIGTERM; returns the exit status (0).

    SIGHUP reloads TLS certificates and security files (:meth:`Broker.reload`).
    """
    logging.getLogger(LOGGER_NAME).setLevel(log_level_number(config))

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        reloads: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            log.info("SIGHUP: reloading certificates and security files")
            task = loop.create_task(broker.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        handlers = {signal.SIGINT: stop.set, signal.SIGTERM: stop.set, signal.SIGHUP: on_sighup}
        for sig, handler in handlers.items():
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        try:
            await stop.wait()
        finally:
            for sig in handlers:
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
