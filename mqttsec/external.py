"""Where the external brokers and clients mqttsec compares against are installed.

One lookup for tests, benchmarks and targets, so "is mosquitto here?" has one answer.

- mosquitto (``mosquitto``, ``mosquitto_pub``, ``mosquitto_sub``) comes from Debian's packages:
  ``$MQTTSEC_MOSQUITTO_BIN`` (a directory) if set, else ``PATH``, else ``/usr/sbin`` and
  ``/usr/bin`` (Debian puts the broker in ``/usr/sbin``, which a non-root ``PATH`` lacks).
- amqtt (``amqtt``, ``amqtt_pub``, ``amqtt_sub``) lives in its own virtual environment, because
  it pins dependencies (e.g. ``websockets==15.0.1``) that must not constrain ours:
  ``$MQTTSEC_AMQTT_BIN`` (a directory) if set, else ``.venv-amqtt/bin`` in the repository
  (where ``scripts/setup.sh`` creates it) or in the current directory, else ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = [
    "AMQTT_TOOLS",
    "MOSQUITTO_TOOLS",
    "find_amqtt",
    "find_mosquitto",
    "find_tool",
    "missing_tools",
    "repo_root",
]

MOSQUITTO_TOOLS = ("mosquitto", "mosquitto_pub", "mosquitto_sub")
AMQTT_TOOLS = ("amqtt", "amqtt_pub", "amqtt_sub")


def repo_root() -> Path:
    """The source checkout this package was imported from (meaningful for editable installs)."""
    return Path(__file__).resolve().parent.parent


def _executable(path: Path) -> Path | None:
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_tool(name: str, *, env_var: str, fallback_dirs: tuple[Path, ...] = ()) -> Path | None:
    """Find an executable: in ``$env_var`` (a directory) if set, else ``PATH``, else fallbacks.

    When ``env_var`` is set it is the only place looked at, so a wrong setting is noticed
    rather than silently papered over by another copy on ``PATH``.

    Returns:
        The executable's path, or None when it is not installed there.
    """
    override = os.environ.get(env_var)
    if override:
        return _executable(Path(override) / name)
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in fallback_dirs:
        hit = _executable(directory / name)
        if hit:
            return hit
    return None


def find_mosquitto(name: str = "mosquitto") -> Path | None:
    """Find one of :data:`MOSQUITTO_TOOLS` (see the module docstring for the search order)."""
    return find_tool(
        name, env_var="MQTTSEC_MOSQUITTO_BIN", fallback_dirs=(Path("/usr/sbin"), Path("/usr/bin"))
    )


def find_amqtt(name: str = "amqtt") -> Path | None:
    """Find one of :data:`AMQTT_TOOLS`, preferring the project's ``.venv-amqtt``."""
    override = os.environ.get("MQTTSEC_AMQTT_BIN")
    if override:
        return _executable(Path(override) / name)
    for venv in (repo_root() / ".venv-amqtt", Path.cwd() / ".venv-amqtt"):
        hit = _executable(venv / "bin" / name)
        if hit:
            return hit
    found = shutil.which(name)
    return Path(found) if found else None


def missing_tools(family: str) -> list[str]:
    """Names of the tools of ``family`` ("mosquitto" or "amqtt") that cannot be found.

    Raises:
        ValueError: for an unknown family (a bug in the caller).
    """
    if family == "mosquitto":
        return [t for t in MOSQUITTO_TOOLS if find_mosquitto(t) is None]
    if family == "amqtt":
        return [t for t in AMQTT_TOOLS if find_amqtt(t) is None]
    raise ValueError(f"unknown tool family {family!r}; expected 'mosquitto' or 'amqtt'")
