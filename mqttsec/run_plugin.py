"""The small pytest plugin ``mqttsec run`` and ``mqttsec compare`` load (``-p``) on top of
the mqttsec plugin: it makes scenario ids selectable with ``-k`` and groups tests by target
for pytest-xdist.

Why a plugin of its own: ``-k ACL-WILDCARD`` is how a user thinks of a scenario, but pytest's
``-k`` matches test names, not marker arguments; and ``--dist loadgroup`` needs an
``xdist_group`` mark per target so that a comparison starts each broker on one worker only.
Plain ``pytest --pyargs mqttsec.suites`` runs are unaffected (it is only loaded by the CLI).
"""

from __future__ import annotations

import pytest

__all__ = ["pytest_collection_modifyitems"]


@pytest.hookimpl(tryfirst=True)  # before -k deselection and before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add each scenario's id as a ``-k`` keyword and, under ``--dist loadgroup``, its
    target as its ``xdist_group``."""
    # On an xdist worker "dist" reads "no"; xdist leaves the choice in option.loadgroup.
    group = bool(getattr(config.option, "loadgroup", False))
    for item in items:
        marker = item.get_closest_marker("scenario")
        scenario_id = marker.kwargs.get("id") if marker is not None else None
        if isinstance(scenario_id, str) and scenario_id:
            item.extra_keyword_matches.add(scenario_id)
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("mqtt_target") if callspec is not None else None
        if group and target is not None:
            item.add_marker(pytest.mark.xdist_group(name=str(target)))
