"""The smoke checks themselves, validated on a known-good broker: mosquitto passes them all.

If mosquitto failed a smoke check, the check would be wrong, not the broker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interop_support import Endpoint

from mqttsec.cli import main
from mqttsec.smoke import CHECKS

pytestmark = pytest.mark.mosquitto


def test_mosquitto_passes_every_smoke_check(
    mosquitto_broker: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = str(mosquitto_broker.port)
    rc = main(["smoke", "--host", "127.0.0.1", "--port", port, "--report-dir", str(tmp_path)])
    assert rc == 0, capsys.readouterr().out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["target"]["name"] == "endpoint"
    assert doc["summary"]["pass"] == doc["summary"]["total"] == 2 * len(CHECKS)
