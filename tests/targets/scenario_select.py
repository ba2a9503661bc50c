"""A pytest plugin (``-p scenario_select``) that keeps only the scenarios named by id.

The end-to-end target check (end_to_end.py) runs ``pytest --pyargs mqttsec.suites.<family>``
and wants a handful of scenarios by their stable id (the row of every report), not by
test-function name, which may change. ``MQTTSEC_SCENARIOS`` holds the ids, comma-separated; an id that
matches no collected scenario is a usage error, so a renamed scenario cannot silently
shrink the check.
"""

from __future__ import annotations

import os

import pytest

ENV = "MQTTSEC_SCENARIOS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {s.strip() for s in os.environ.get(ENV, "").split(",") if s.strip()}
    if not wanted:
        raise pytest.UsageError(f"{ENV} names no scenario id")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    found: set[str] = set()
    for item in items:
        marker = item.get_closest_marker("scenario")
        scenario = marker.kwargs.get("id") if marker is not None else None
        if scenario in wanted:
            keep.append(item)
            found.add(str(scenario))
        else:
            drop.append(item)
    if wanted - found:
        raise pytest.UsageError(f"no such scenario collected: {', '.join(sorted(wanted - found))}")
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
