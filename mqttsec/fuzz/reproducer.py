"""Reproducer files: the exact bytes each client sent for one finding, and how to replay them.

Schema ``mqttsec.fuzz-reproducer/1``::

    {"schema": "mqttsec.fuzz-reproducer/1", "scenario": "FUZZ-MALFORMED-SURVIVES",
     "outcome": "fail", "label": "utf8:nul", "mqtt_version": "5.0", "target": "reference",
     "seed": 1, "detail": "...",
     "clients": [{"name": "fuzz", "login": true, "send": "<hex of every byte sent>"}],
     "replay": "mqttsec replay <this file> --target reference"}

``send`` is the whole stream of that connection, the harness's CONNECT (when ``login``) and
the PINGREQ sentinel included, so a replay sends byte for byte what the fuzzer sent. The
CONNECT carries the profile user's password: these are test-profile credentials, keep the
files with the rest of the report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mqttsec.errors import ConfigError
from mqttsec.reports.results import write_json_atomic

__all__ = ["SCHEMA", "ClientBytes", "Reproducer", "load_reproducer"]

SCHEMA = "mqttsec.fuzz-reproducer/1"


@dataclass(frozen=True, slots=True)
class ClientBytes:
    """What one client connection sent."""

    name: str
    send: bytes
    login: bool = True


@dataclass(frozen=True, slots=True)
class Reproducer:
    """One finding, replayable."""

    scenario: str
    outcome: str
    label: str
    mqtt_version: str
    target: str
    detail: str
    clients: tuple[ClientBytes, ...]
    seed: int | None = None

    def file_name(self) -> str:
        """A stable name: scenario, label and a hash of the bytes."""
        digest = hashlib.sha256(b"".join(c.send for c in self.clients)).hexdigest()[:12]
        label = self.label.replace(":", "-").replace("/", "-")
        return f"{self.scenario}-{label}-{digest}.json"

    def replay_command(self, path: Path) -> str:
        return f"mqttsec replay {path} --target {self.target}"

    def to_json(self, path: Path) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "scenario": self.scenario,
            "outcome": self.outcome,
            "label": self.label,
            "mqtt_version": self.mqtt_version,
            "target": self.target,
            "seed": self.seed,
            "detail": self.detail,
            "clients": [
                {"name": c.name, "login": c.login, "send": c.send.hex()} for c in self.clients
            ],
            "replay": self.replay_command(path),
        }

    def save(self, directory: Path) -> Path:
        """Write the file into *directory*; returns its path."""
        path = directory / self.file_name()
        write_json_atomic(path, self.to_json(path))
        return path


def load_reproducer(path: Path) -> Reproducer:
    """Read a reproducer file.

    Raises:
        ConfigError: unreadable, not JSON, or not this schema (the message says which).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the reproducer: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: not a reproducer file (schema must be {SCHEMA!r})")
    try:
        clients = tuple(
            ClientBytes(str(c["name"]), bytes.fromhex(c["send"]), bool(c.get("login", True)))
            for c in data["clients"]
        )
        return Reproducer(
            scenario=str(data["scenario"]),
            outcome=str(data["outcome"]),
            label=str(data["label"]),
            mqtt_version=str(data["mqtt_version"]),
            target=str(data["target"]),
            detail=str(data.get("detail", "")),
            clients=clients,
            seed=data.get("seed"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed reproducer: {exc!r}") from None
