"""The repository's own pytest settings, for in-tree runs (``pytest`` from the checkout root).

What lives here rather than in ``tests/conftest.py``: things that must be at the rootdir
(``pytest_plugins``) and the policy for tests that need external brokers and clients.

Tests marked ``@pytest.mark.mosquitto`` or ``@pytest.mark.amqtt`` need those programs
(see :mod:`mqttsec.external` for where they are looked up), and ``@pytest.mark.browser`` needs
Chromium (the ``chromium`` fixture gives its path). When one is missing the test is
*skipped* on a developer's machine, but *fails* under ``CI=true``: CI installs them
(``scripts/setup.sh``), so a missing one there is a broken setup, not a reason to skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mqttsec.external import find_amqtt, find_mosquitto, missing_tools
from mqttsec.fixtures.targets import get_target

pytest_plugins = ("pytester",)

#: Marker name -> what installs the tools it needs.
_EXTERNAL = {
    "mosquitto": "apt-get install mosquitto mosquitto-clients (or: bash scripts/setup.sh)",
    "amqtt": "bash scripts/setup.sh (creates .venv-amqtt), or set MQTTSEC_AMQTT_BIN",
}
#: Marker name -> the local target whose broker it needs (installed by ``make brokers``).
_BROKERS = {name: f"local:{name}" for name in ("aedes", "rabbitmq", "activemq", "ejabberd")}


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where nothing external may be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(message: str) -> None:
    """Skip the current test for *message* (what is missing), or fail it under CI."""
    if in_ci():
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def require_external(family: str) -> None:
    """Skip (or under CI fail) the current test when ``family``'s tools are missing."""
    absent = missing_tools(family)
    if absent:
        missing(f"{', '.join(absent)} not found; install with: {_EXTERNAL[family]}")


def require_broker(target: str) -> None:
    """Skip (or under CI fail) the current test when *target*'s broker is not installed."""
    found = get_target(target).probe()
    if not found.installed:
        missing(f"{target}: {found.detail}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for family in _EXTERNAL:
        if item.get_closest_marker(family) is not None:
            require_external(family)
    for marker, target in _BROKERS.items():
        if item.get_closest_marker(marker) is not None:
            require_broker(target)
    if item.get_closest_marker("browser") is not None:
        require_chromium()


_CHROMIUM_MISSING = (
    "chromium not found; install with: apt-get install chromium (or: bash scripts/setup.sh)"
)


def require_chromium() -> Path:
    """The Chromium path; skip (or under CI fail) the current test when there is none."""
    path = find_chromium()
    if path is None:
        missing(_CHROMIUM_MISSING)
        raise AssertionError("unreachable")  # pragma: no cover
    return path


def find_chromium() -> Path | None:
    """The headless browser for ``@pytest.mark.browser`` tests: ``$MQTTSEC_CHROMIUM`` or the
    first of chromium / chromium-browser / google-chrome on PATH."""
    override = os.environ.get("MQTTSEC_CHROMIUM")
    if override:
        return Path(override) if Path(override).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if (found := shutil.which(name)) is not None:
            return Path(found)
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Path of a Chromium for headless checks (skip/fail as ``@pytest.mark.browser`` does)."""
    return require_chromium()


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
