"""Fixtures for the report tests: the sample results file (see report_samples)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_samples import write_sample


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    """The sample results.json in a fresh directory."""
    return write_sample(tmp_path / "run")


@pytest.fixture
def edit_results(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], object]], Path]:
    """Write the sample document after *change* mutated it: for bad-input tests."""

    def make(change: Callable[[dict[str, Any]], object]) -> Path:
        path = write_sample(tmp_path / "src")
        document = json.loads(path.read_text(encoding="utf-8"))
        change(document)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(document), encoding="utf-8")
        return bad

    return make
