"""The broker's listening sockets, plain and TLS, and TLS certificate reload.

How a TLS listener is wired, and why this way:

* Each listener is an ``asyncio`` server whose protocol is a :class:`~.connection.Connection`
  (the Protocol fast path); a TLS listener passes ``ssl=`` and ``ssl_handshake_timeout=`` to
  ``loop.create_server``, so asyncio's SSL protocol does the handshake and calls
  ``connection_made`` only once it has finished. A client that never finishes the handshake
  is dropped after the timeout and never reaches MQTT code.
* ``create_server`` fixes the context at bind time, yet a reload must reach new connections.
  The bind-time *dispatch* context is built from the same :class:`TlsSettings` as the
  listener's :class:`TlsContextHolder`; its ``sni_callback``, which OpenSSL runs for every
  ClientHello (with or without a server name), switches the connection to the holder's
  *current* context (``ssl_object.context = holder.context``), then applies that context's
  own SNI choice. Switching the context moves the certificate, the key and the verify store
  (CA and CRL) to the new files; the per-connection settings OpenSSL copied at accept time
  (verify mode and flags, versions, options) come from the same TlsSettings, so they agree.
  Connections already open keep the context they were made with.
* :class:`TlsConnection` reads the verified client certificate in ``connection_made``,
  before any MQTT byte is processed.

Known limit: when the handshake fails (no, untrusted, expired or revoked client certificate),
asyncio closes the socket without flushing OpenSSL's alert, so the client sees the
connection closed rather than a TLS alert naming the reason (mosquitto sends the alert).
Either way no CONNACK is ever sent. asyncio logs such failures only in debug mode.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import warnings
from collections.abc import Callable, Mapping

from mqttsec.errors import ConfigError

from .config import BrokerConfig, ListenerConfig
from .connection import Connection
from .core import LOGGER_NAME, BrokerCore
from .security.acl import AclFile
from .security.errors import SecurityConfigWarning
from .security.identity import certificate_from_ssl_object
from .security.passwords import PasswordFile
from .security.plugins import PluginConfigError, PluginSpec
from .security.tls import TlsContextHolder, build_server_context

__all__ = [
    "TlsConnection",
    "check_security_files",
    "dispatch_context",
    "open_listener",
    "tls_holders",
]

log = logging.getLogger(LOGGER_NAME)


class TlsConnection(Connection):
    """A Connection that arrived over TLS: it knows its verified client certificate."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Read the peer certificate (verified by the handshake), then start MQTT."""
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            try:
                self.certificate = certificate_from_ssl_object(ssl_object)
            except ValueError as exc:
                # A certificate we cannot read must never turn into an anonymous client.
                peer = transport.get_extra_info("peername")
                log.warning("closing %s: unreadable client certificate (%s)", peer, exc)
                transport.close()
                return
        super().connection_made(transport)


def tls_holders(config: BrokerConfig) -> dict[str, TlsContextHolder]:
    """One context holder per TLS listener, built now (every TLS file is read and checked).

    Raises:
        ConfigError: a TLS file is missing, unreadable or inconsistent; the message names the
            listener, the file and the fix.
    """
    holders: dict[str, TlsContextHolder] = {}
    for listener in config.effective_listeners():
        if listener.tls is None:
            continue
        try:
            holders[listener.name] = TlsContextHolder(listener.tls)
        except ConfigError as exc:
            raise ConfigError(f"listener {listener.name!r}: {exc}") from exc
    return holders


def dispatch_context(holder: TlsContextHolder) -> ssl.SSLContext:
    """The bind-time context of a TLS listener: it hands each handshake the current context.

    See the module docstring for why this keeps certificate reload working.
    """
    context = build_server_context(holder.settings)

    def use_current(ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        current = holder.context
        ssl_object.context = current
        choose = current.sni_callback
        if choose is not None:
            choose(ssl_object, server_name, current)  # type: ignore[arg-type]

    context.sni_callback = use_current
    return context


def check_security_files(config: BrokerConfig) -> None:
    """Read the password file and ACL file and resolve plugin paths, refusing bad ones.

    A validation pass before anything listens, so a broken file stops start-up instead of
    leaving the broker half-secured; the security policy loads them again for real use.

    Raises:
        ConfigError: a file is missing or malformed, or a plugin path does not import; the
            message names the file (and line) and the fix.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityConfigWarning)  # the real load warns
        if config.password_file is not None:
            PasswordFile.load(config.password_file)
        if config.acl_file is not None:
            AclFile.load(config.acl_file)
    for spec in config.plugins:
        _check_plugin_path(spec)


def _check_plugin_path(spec: PluginSpec) -> None:
    """The plugin factory can be imported (it is called by the policy, once, later)."""
    import importlib

    module_name, sep, attribute = spec.path.partition(":")
    if not sep or not module_name or not attribute:
        raise PluginConfigError(
            spec.label, f"path {spec.path!r} is not 'module:factory'", "write e.g. 'pkg.mod:Plugin'"
        )
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginConfigError(
            spec.label, f"cannot import {module_name!r} ({exc})", "install it or fix the path"
        ) from exc
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise PluginConfigError(
                spec.label, f"{module_name!r} has no {attribute!r}", "fix the name after ':'"
            )
    if not callable(target):
        raise PluginConfigError(
            spec.label, f"{spec.path!r} is not callable", "name a class or a factory function"
        )


async def open_listener(
    core: BrokerCore,
    listener: ListenerConfig,
    holders: Mapping[str, TlsContextHolder],
) -> asyncio.Server:
    """Bind *listener* and start accepting clients on it.

    Raises:
        OSError: the address cannot be bound (in use, not local, permission).
    """
    loop = asyncio.get_running_loop()
    factory: Callable[[], Connection]
    if listener.tls is None:

        def factory() -> Connection:
            return Connection(core, listener)

        server = await loop.create_server(
            factory, listener.host, listener.port, reuse_address=True, backlog=1024
        )
    else:

        def factory() -> Connection:
            return TlsConnection(core, listener)

        server = await loop.create_server(
            factory,
            listener.host,
            listener.port,
            reuse_address=True,
            backlog=1024,
            ssl=dispatch_context(holders[listener.name]),
            ssl_handshake_timeout=core.config.connect_timeout,
        )
    for sock in server.sockets:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return server
