"""The repository's own pytest settings, for in-tree runs (``pytest`` from the checkout root).

What lives here rather than in ``tests/conftest.py``: things that must be at the rootdir
(``pytest_plugins``) and the policy for tests that need external brokers and clients.

Tests marked ``@pytest.mark.mosquitto`` or ``@pytest.mark.amqtt`` need those programs
(see :mod:`mqttsec.external` for where they are looked up). When one is missing the test is
*skipped* on a developer's machine, but *fails* under ``CI=true``: CI installs them
(``scripts/setup.sh``), so a missing one there is a broken setup, not a reason to skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mqttsec.external import find_amqtt, find_mosquitto, missing_tools

pytest_plugins = ("pytester",)

#: Marker name -> what installs the tools it needs.
_EXTERNAL = {
    "mosquitto": "apt-get install mosquitto mosquitto-clients (or: bash scripts/setup.sh)",
    "amqtt": "bash scripts/setup.sh (creates .venv-amqtt), or set MQTTSEC_AMQTT_BIN",
}


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where nothing external may be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_external(family: str) -> None:
    """Skip (or under CI fail) the current test when ``family``'s tools are missing."""
    missing = missing_tools(family)
    if not missing:
        return
    message = f"{', '.join(missing)} not found; install with: {_EXTERNAL[family]}"
    if in_ci():
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for family in _EXTERNAL:
        if item.get_closest_marker(family) is not None:
            require_external(family)


@pytest.fixture(scope="session")
def mosquitto_tools() -> dict[str, Path]:
    """Paths of ``mosquitto``, ``mosquitto_pub`` and ``mosquitto_sub`` (skip/fail if missing)."""
    require_external("mosquitto")
    return {
        name: path
        for name in ("mosquitto", "mosquitto_pub", "mosquitto_sub")
        if (path := find_mosquitto(name)) is not None
    }


@pytest.fixture(scope="session")
def amqtt_tools() -> dict[str, Path]:
    """Paths of ``amqtt``, ``amqtt_pub`` and ``amqtt_sub`` (skip/fail if missing)."""
    require_external("amqtt")
    return {
        name: path
        for name in ("amqtt", "amqtt_pub", "amqtt_sub")
        if (path := find_amqtt(name)) is not None
    }
