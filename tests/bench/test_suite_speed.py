"""bench/suite_speed.py runs ``mqttsec run`` as a user would and reports a time per target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "suite_speed.py"


@pytest.mark.slow
def test_suite_speed_times_a_selection_on_the_reference_broker(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--targets", "reference", "--workers", "0",
         "-k", "AUTH-ANONYMOUS-REFUSED", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = json.loads(out.read_text())["runs"]
    assert run["target"] == "reference" and run["exit"] == 0
    assert run["summary"]["pass"] == run["summary"]["total"] == 2
    assert 0 < run["seconds"] < 240
    assert done.stdout.startswith(f"reference: {run['seconds']:.1f} s;")
