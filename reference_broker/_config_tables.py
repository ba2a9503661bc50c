"""Reading the ``[[listeners]]`` and ``[[plugins]]`` tables of ``broker.toml`` strictly.

Each table is checked key by key: an unknown key, a wrong type or TLS keys without a
certificate stop loading with a message naming the table and the fix. TLS options exist
only inside a listener table, so configuring TLS files can never silently leave a plain
(or anonymous) listener open (mosquitto #2283 class). Relative file paths are taken
relative to the directory of ``broker.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mqttsec.errors import ConfigError

from .security.plugins import PluginSpec
from .security.tls import CertKeyPair, TlsSettings

__all__ = ["LISTENER_KEYS", "TLS_FILE_KEYS", "TLS_KEYS", "listener_fields", "plugin_from_table"]

TLS_FILE_KEYS = ("certfile", "keyfile", "cafile", "crlfile")
"""TLS options that name a file."""

_TLS_BOOL_KEYS = ("require_certificate", "use_identity_as_username", "use_subject_as_username")
_TLS_STR_KEYS = ("tls_version", "ciphers")
TLS_KEYS = (*TLS_FILE_KEYS, *_TLS_BOOL_KEYS, *_TLS_STR_KEYS, "sni")
"""Every TLS option a listener table may hold (named like mosquitto's options)."""

LISTENER_KEYS = ("name", "host", "port", *TLS_KEYS)
"""Every key a ``[[listeners]]`` table may hold."""

_PLUGIN_KEYS = ("path", "name", "options")


def _path(base: Path, value: str) -> str:
    return str(base / value)


def _typed(where: str, table: Mapping[str, Any], key: str, kind: type, hint: str) -> Any:
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} = {value!r}: {hint}")
    return value


def listener_fields(index: int, table: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The ListenerConfig arguments described by the *index*-th ``[[listeners]]`` table.

    Raises:
        ConfigError: an unknown key, a wrong type, or TLS options without certfile/keyfile.
    """
    name = table.get("name", f"listener{index}")
    where = f"[[listeners]] #{index} ({name!r})" if "name" in table else f"[[listeners]] #{index}"
    unknown = sorted(set(table) - set(LISTENER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; use one of: {', '.join(LISTENER_KEYS)}"
        )
    if "port" not in table:
        raise ConfigError(f"{where}: no port; add port = 8883 (or 0 for any free port)")
    fields: dict[str, Any] = {
        "name": _typed(where, table, "name", str, "use a string") if "name" in table else name,
        "port": _typed(where, table, "port", int, "use a whole number"),
    }
    if "host" in table:
        fields["host"] = _typed(where, table, "host", str, "use an address such as 127.0.0.1")
    tls_keys = [key for key in TLS_KEYS if key in table]
    if not tls_keys:
        return fields
    missing = [key for key in ("certfile", "keyfile") if key not in table]
    if missing:
        raise ConfigError(
            f"{where}: TLS option(s) {', '.join(tls_keys)} without {' and '.join(missing)}; "
            "add the server certificate and key (a listener is either plain or fully TLS)"
        )
    tls: dict[str, Any] = {}
    for key in TLS_FILE_KEYS:
        if key in table:
            tls[key] = _path(base, _typed(where, table, key, str, "use a file path"))
    for key in _TLS_BOOL_KEYS:
        if key in table:
            tls[key] = _typed(where, table, key, bool, "use true or false")
    for key in _TLS_STR_KEYS:
        if key in table:
            tls[key] = _typed(where, table, key, str, "use a string")
    if "sni" in table:
        tls["sni"] = _sni(where, table["sni"], base)
    try:
        fields["tls"] = TlsSettings(**tls)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return fields


def _sni(where: str, value: Any, base: Path) -> dict[str, CertKeyPair]:
    """``sni."host.name" = { certfile = "...", keyfile = "..." }`` entries."""
    fix = 'write sni."name.example" = { certfile = "...", keyfile = "..." }'
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: sni must be a table of server names; {fix}")
    pairs: dict[str, CertKeyPair] = {}
    for server_name, entry in value.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"certfile", "keyfile"}
            or not all(isinstance(v, str) for v in entry.values())
        ):
            raise ConfigError(f"{where}: sni entry {server_name!r} is not certfile+keyfile; {fix}")
        pairs[server_name] = CertKeyPair(
            _path(base, entry["certfile"]), _path(base, entry["keyfile"])
        )
    return pairs


def plugin_from_table(index: int, table: Mapping[str, Any]) -> PluginSpec:
    """The plugin named by the *index*-th ``[[plugins]]`` table (path, name, options).

    Raises:
        ConfigError: an unknown key, no path, or wrong types.
    """
    where = f"[[plugins]] #{index}"
    unknown = sorted(set(table) - set(_PLUGIN_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; use one of: {', '.join(_PLUGIN_KEYS)}"
        )
    if "path" not in table:
        raise ConfigError(f'{where}: no path; add path = "package.module:factory"')
    path = _typed(where, table, "path", str, 'use "package.module:factory"')
    name = _typed(where, table, "name", str, "use a string") if "name" in table else ""
    options = (
        _typed(where, table, "options", dict, "use a table, e.g. options = { key = 1 }")
        if "options" in table
        else {}
    )
    return PluginSpec(path=path, options=options, name=name)
