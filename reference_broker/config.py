"""Reference broker settings: one frozen dataclass and a strict loader for ``broker.toml``.

Every limit the broker enforces is a field here with a safe default, so a security scenario
can aim at it and a user can see it. :func:`load_config` refuses unknown keys and bad values
with a :class:`~mqttsec.errors.ConfigError` that names the file, the key and the fix.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqttsec.errors import ConfigError

from ._config_tables import listener_fields, plugin_from_table
from .security.plugins import PluginSpec
from .security.tls import TlsSettings

__all__ = ["MAX_PACKET_SIZE_LIMIT", "BrokerConfig", "ListenerConfig", "load_config"]

MAX_PACKET_SIZE_LIMIT = 268_435_460
"""The largest packet MQTT can frame: 1 + 4 length bytes + 268,435,455 remaining."""

_U16 = 65_535
_U32 = 0xFFFF_FFFF
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ListenerConfig:
    """One socket the broker accepts clients on, and its TLS settings.

    Attributes:
        name: how logs, errors and ``Broker.ports`` call it; unique per broker.
        host: address to bind.
        port: TCP port; 0 picks a free one.
        tls: TLS (and mTLS) settings; None for plain MQTT over TCP.
    """

    name: str
    host: str = "127.0.0.1"
    port: int = 1883
    tls: TlsSettings | None = None

    def __post_init__(self) -> None:
        """Refuse a listener that cannot be bound, before anything is opened."""
        where = f"listener {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"listener name {self.name!r}: give each listener a name")
        if not isinstance(self.host, str) or not self.host:
            raise ConfigError(f"{where}: host {self.host!r}: give an address such as 127.0.0.1")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ConfigError(f"{where}: port {self.port!r}: use a whole number")
        if not 0 <= self.port <= _U16:
            raise ConfigError(f"{where}: port {self.port}: use a value from 0 to 65535")
        if self.tls is not None and not isinstance(self.tls, TlsSettings):
            raise ConfigError(f"{where}: tls must be TlsSettings or None")

    @property
    def scheme(self) -> str:
        """``mqtts`` for a TLS listener, ``mqtt`` otherwise (for logs and messages)."""
        return "mqtt" if self.tls is None else "mqtts"


@dataclass(frozen=True)
class BrokerConfig:
    """What the reference broker listens on and the limits it enforces.

    Attributes:
        host: address to bind; ``"localhost"`` may bind both 127.0.0.1 and ::1.
        port: TCP port; 0 picks a free port (read it back from ``Broker.port``).
        connect_timeout: seconds a new connection may take to send CONNECT.
        max_packet_size: largest packet accepted from a client (CONNACK Maximum Packet Size).
        receive_maximum: inbound QoS 1/2 PUBLISH a client may have unacknowledged (5.0).
        max_inflight: cap on outbound QoS 1/2 messages awaiting acknowledgement per client
            (the client's own Receive Maximum applies when smaller; sending also pauses
            while ``max_outbound_buffer`` bytes are unsent, which bounds memory).
        max_queued_messages: messages kept per session beyond the inflight window; the
            oldest is dropped when full.
        queue_qos0_offline: also queue QoS 0 messages for disconnected persistent sessions.
        max_outbound_buffer: bytes buffered towards one client before it counts as
            congested (a slow consumer must not grow memory without bound).
        slow_consumer_timeout: seconds publishers feeding a congested client are throttled
            (not read); after that the client is a slow consumer and loses QoS 0 messages
            and the oldest queued ones instead.
        topic_alias_maximum: highest inbound topic alias accepted (0 disables aliases).
        max_session_expiry: cap on a 5.0 client's Session Expiry Interval, in seconds.
        max_keep_alive: cap on keep-alive; a larger (or zero) client value is replaced and
            announced as Server Keep Alive (5.0). 0 means no cap.
        keep_alive_factor: the connection is closed after factor x keep-alive of silence.
        retain_available: whether retained messages are supported.
        max_qos: highest QoS granted and accepted.
        wildcard_subscription_available: whether ``+``/``#`` filters are allowed.
        shared_subscription_available: whether ``$share/`` filters are allowed.
        subscription_identifier_available: whether subscription identifiers are allowed.
        max_connections: simultaneous connections accepted (0 = unlimited).
        log_level: level of the ``mqttsec.broker`` logger.
        allow_anonymous: accept clients that send no username (and have no certificate
            identity). Off by default, as in mosquitto 2.
        password_file: mosquitto-format password file; None means no password check.
        acl_file: mosquitto-format ACL file; None means no topic restrictions.
        plugins: authentication/authorization plugins, in chain order.
        login_throttle_attempts: failed logins allowed per client address and per username
            within ``login_throttle_window`` seconds before further attempts are refused
            (0 = no throttling).
        login_throttle_window: the throttling window in seconds.
        disconnect_on_denied_publish: close the connection of a client whose PUBLISH the
            ACL denies (instead of acknowledging/dropping it).
        listeners: the sockets to accept clients on; empty means one plain listener named
            ``default`` on ``host``/``port`` (see :meth:`effective_listeners`).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    connect_timeout: float = 10.0
    max_packet_size: int = 16 * 1024 * 1024
    receive_maximum: int = 100
    max_inflight: int = 65_535
    max_queued_messages: int = 10_000
    queue_qos0_offline: bool = False
    max_outbound_buffer: int = 8 * 1024 * 1024
    slow_consumer_timeout: float = 2.0
    topic_alias_maximum: int = 10
    max_session_expiry: int = _U32
    max_keep_alive: int = 0
    keep_alive_factor: float = 1.5
    retain_available: bool = True
    max_qos: int = 2
    wildcard_subscription_available: bool = True
    shared_subscription_available: bool = True
    subscription_identifier_available: bool = True
    max_connections: int = 0
    log_level: str = "INFO"
    allow_anonymous: bool = False
    password_file: str | None = None
    acl_file: str | None = None
    plugins: tuple[PluginSpec, ...] = ()
    login_throttle_attempts: int = 0
    login_throttle_window: float = 60.0
    disconnect_on_denied_publish: bool = False
    listeners: tuple[ListenerConfig, ...] = ()

    def __post_init__(self) -> None:
        for name in ("plugins", "listeners"):
            value = getattr(self, name)
            if isinstance(value, list):  # accept lists from callers; store immutably
                object.__setattr__(self, name, tuple(value))
        problem = _first_problem(self)
        if problem is not None:
            key, fix = problem
            raise ConfigError(f"broker setting {key!r} = {getattr(self, key)!r}: {fix}")

    def replace(self, **changes: Any) -> BrokerConfig:
        """A copy with some settings changed (validated like the original)."""
        return dataclasses.replace(self, **changes)

    def effective_listeners(self) -> tuple[ListenerConfig, ...]:
        """The listeners to open: ``listeners``, or one plain ``default`` on host/port."""
        if self.listeners:
            return self.listeners
        return (ListenerConfig("default", self.host, self.port),)


_RANGES: dict[str, tuple[float, float]] = {
    "port": (0, _U16),
    "connect_timeout": (0.001, 3600),
    "max_packet_size": (32, MAX_PACKET_SIZE_LIMIT),
    "receive_maximum": (1, _U16),
    "max_inflight": (1, _U16),
    "max_queued_messages": (0, 10_000_000),
    "max_outbound_buffer": (1024, 1 << 40),
    "slow_consumer_timeout": (0.001, 3600),
    "topic_alias_maximum": (0, _U16),
    "max_session_expiry": (0, _U32),
    "max_keep_alive": (0, _U16),
    "keep_alive_factor": (1.0, 10.0),
    "max_qos": (0, 2),
    "max_connections": (0, 10_000_000),
    "login_throttle_attempts": (0, 1_000_000),
    "login_throttle_window": (0.001, 86_400),
}


def _first_problem(config: BrokerConfig) -> tuple[str, str] | None:
    """The first invalid field and how to fix it, or None when all are valid."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        default = field.default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                return field.name, "use true or false"
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                return field.name, "use a whole number"
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return field.name, "use a number"
        elif isinstance(default, str) and not isinstance(value, str):
            return field.name, "use a string"
        elif default is None and value is not None and not isinstance(value, str):
            return field.name, "use a file path (a string)"
        elif isinstance(default, tuple):
            kind = PluginSpec if field.name == "plugins" else ListenerConfig
            if not isinstance(value, tuple) or not all(isinstance(v, kind) for v in value):
                return field.name, f"use a sequence of {kind.__name__}"
        bounds = _RANGES.get(field.name)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return field.name, f"use a value from {bounds[0]:g} to {bounds[1]:g}"
    if config.log_level.upper() not in _LOG_LEVELS:
        return "log_level", f"use one of {', '.join(_LOG_LEVELS)}"
    if not config.host:
        return "host", "give an address such as 127.0.0.1"
    for key in ("password_file", "acl_file"):
        if getattr(config, key) == "":
            return key, "give a file path or leave the key out"
    names = [listener.name for listener in config.listeners]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        return "listeners", f"give each listener its own name ({', '.join(duplicates)} repeat)"
    bound = [(lst.host, lst.port) for lst in config.listeners if lst.port != 0]
    clashes = sorted({f"{h}:{p}" for h, p in bound if bound.count((h, p)) > 1})
    if clashes:
        return "listeners", f"give each listener its own port ({', '.join(clashes)} repeat)"
    return None


def load_config(path: str | Path) -> BrokerConfig:
    """Read broker settings from a TOML file whose top-level keys are BrokerConfig fields.

    Args:
        path: the ``broker.toml`` to read.

    Returns:
        The validated configuration; keys not in the file keep their defaults.

    Raises:
        ConfigError: the file is missing or not TOML, a key is unknown, or a value is wrong.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; pass an existing broker.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    known = {f.name: f for f in dataclasses.fields(BrokerConfig)}
    values: dict[str, Any] = {}
    base = path.parent
    try:
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(
                    f"unknown key {key!r}; remove it or use one of: {', '.join(sorted(known))}"
                )
            if key == "log_level" and isinstance(value, str):
                value = value.upper()
            elif key in ("password_file", "acl_file") and isinstance(value, str) and value:
                value = str(base / value)  # relative paths are relative to broker.toml
            elif key == "listeners":
                value = tuple(
                    _tables(key, value, lambda i, t: ListenerConfig(**listener_fields(i, t, base)))
                )
            elif key == "plugins":
                value = tuple(_tables(key, value, plugin_from_table))
            if isinstance(known[key].default, float) and isinstance(value, int):
                value = float(value) if not isinstance(value, bool) else value
            values[key] = value
        if values.get("listeners") and ({"host", "port"} & raw.keys()):
            raise ConfigError(
                "top-level host/port and [[listeners]] are both set; move host and port into "
                "a [[listeners]] table (top-level host/port only describe the default listener)"
            )
        return BrokerConfig(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _tables(key: str, value: Any, build: Any) -> list[Any]:
    """Each table of a TOML array of tables (``[[key]]``) built by *build(index, table)*."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{key!r} must be an array of tables; write [[{key}]] sections")
    return [build(index, table) for index, table in enumerate(value, start=1)]


def log_level_number(config: BrokerConfig) -> int:
    """The numeric logging level named by ``config.log_level``."""
    return int(logging.getLevelName(config.log_level.upper()))
