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

__all__ = ["MAX_PACKET_SIZE_LIMIT", "BrokerConfig", "load_config"]

MAX_PACKET_SIZE_LIMIT = 268_435_460
"""The largest packet MQTT can frame: 1 + 4 length bytes + 268,435,455 remaining."""

_U16 = 65_535
_U32 = 0xFFFF_FFFF
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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

    def __post_init__(self) -> None:
        problem = _first_problem(self)
        if problem is not None:
            key, fix = problem
            raise ConfigError(f"broker setting {key!r} = {getattr(self, key)!r}: {fix}")

    def replace(self, **changes: Any) -> BrokerConfig:
        """A copy with some settings changed (validated like the original)."""
        return dataclasses.replace(self, **changes)


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
        bounds = _RANGES.get(field.name)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return field.name, f"use a value from {bounds[0]:g} to {bounds[1]:g}"
    if config.log_level.upper() not in _LOG_LEVELS:
        return "log_level", f"use one of {', '.join(_LOG_LEVELS)}"
    if not config.host:
        return "host", "give an address such as 127.0.0.1"
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
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown key {key!r}; remove it or use one of: {', '.join(sorted(known))}"
            )
        if key == "log_level" and isinstance(value, str):
            value = value.upper()
        if isinstance(known[key].default, float) and isinstance(value, int):
            value = float(value) if not isinstance(value, bool) else value
        values[key] = value
    try:
        return BrokerConfig(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def log_level_number(config: BrokerConfig) -> int:
    """The numeric logging level named by ``config.log_level``."""
    return int(logging.getLevelName(config.log_level.upper()))
