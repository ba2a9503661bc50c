"""Run one scenario family as a user would, in a subprocess, and read its results.json."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

VERSIONS = ("3.1.1", "5.0")


def run_family(
    package: str,
    target: str,
    workdir: Path,
    scenarios: Iterable[str] | Mapping[str, Iterable[str]],
    *extra: str,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Run ``pytest --pyargs package`` against *target*; the rows of its results.json.

    Every scenario must have produced one row per MQTT version, or the run itself is broken.
    *scenarios* maps a version-specific scenario to its versions; a plain id means both.
    """
    report = workdir / "report"
    command = [
        sys.executable, "-m", "pytest", "--pyargs", package,
        f"--mqtt-target={target}", f"--mqtt-report-dir={report}",
        "-p", "no:randomly", "-p", "no:cacheprovider", "-q", *extra,
    ]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=workdir,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert (report / "results.json").exists(), done.stdout + done.stderr
    rows: list[dict[str, Any]] = json.loads((report / "results.json").read_text())["results"]
    versions = scenarios if isinstance(scenarios, Mapping) else dict.fromkeys(scenarios, VERSIONS)
    assert {(r["scenario"], r["mqtt_version"]) for r in rows} == {
        (s, v) for s, applies in versions.items() for v in applies
    }, done.stdout
    return rows


def describe(rows: list[dict[str, Any]]) -> str:
    """One line per row, for assertion messages."""
    return "\n".join(
        f"{r['scenario']} {r['mqtt_version']}: {r['outcome']} {r['detail']}" for r in rows
    )


def wait_listening(port: int, what: str) -> None:
    """Wait (at most 10 s) until *what* accepts TCP connections on 127.0.0.1:*port*."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.05)
