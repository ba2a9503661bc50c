"""Writing a :class:`~.config.BrokerConfig` back as ``broker.toml`` text.

What :func:`dump_config` writes, :func:`~.config.load_config` reads back to an equal
configuration (paths come out absolute when they were loaded from a file). Used by
``mqttsec broker --print-config``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from .config import BrokerConfig, ListenerConfig
from .security.plugins import PluginSpec
from .security.tls import TlsSettings

__all__ = ["dump_config"]


def _value(value: Any) -> str:
    """A TOML value (inline form) for a scalar, list or table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML form for {value!r}")


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key)


def _listener_lines(listener: ListenerConfig) -> list[str]:
    lines = [
        "\n[[listeners]]\n",
        f"name = {_value(listener.name)}\n",
        f"host = {_value(listener.host)}\n",
        f"port = {listener.port}\n",
    ]
    tls: TlsSettings | None = listener.tls
    if tls is None:
        return lines
    defaults = TlsSettings(certfile="", keyfile="")
    for field in dataclasses.fields(TlsSettings):
        value = getattr(tls, field.name)
        if field.name == "sni":
            continue
        if value is None or (
            field.name not in ("certfile", "keyfile") and value == getattr(defaults, field.name)
        ):
            continue
        lines.append(f"{field.name} = {_value(value)}\n")
    for server_name, pair in tls.sni.items():
        lines.append(
            f"sni.{_key(server_name)} = "
            f"{_value({'certfile': pair.certfile, 'keyfile': pair.keyfile})}\n"
        )
    return lines


def _plugin_lines(spec: PluginSpec) -> list[str]:
    lines = ["\n[[plugins]]\n", f"path = {_value(spec.path)}\n"]
    if spec.name:
        lines.append(f"name = {_value(spec.name)}\n")
    if spec.options:
        lines.append(f"options = {_value(spec.options)}\n")
    return lines


def dump_config(config: BrokerConfig) -> str:
    """*config* as a ``broker.toml`` document: every scalar setting, then the tables.

    Unset file settings are written as comments; with ``[[listeners]]`` the unused
    top-level ``host``/``port`` are written as comments too (loading refuses both at once).
    """
    lines: list[str] = []
    tables: list[str] = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name == "listeners":
            for listener in value:
                tables.extend(_listener_lines(listener))
        elif field.name == "plugins":
            for spec in value:
                tables.extend(_plugin_lines(spec))
        elif value is None:
            lines.append(f"# {field.name} = (not set)\n")
        elif field.name in ("host", "port") and config.listeners:
            lines.append(f"# {field.name} = {_value(value)}  (unused: [[listeners]] below)\n")
        else:
            lines.append(f"{field.name} = {_value(value)}\n")
    return "".join(lines + tables)
