"""Missing-broker policy of the comparison-broker tests (aedes, RabbitMQ, ActiveMQ, ejabberd).

The same policy as the root conftest.py applies to the markers ``aedes``, ``rabbitmq``,
``activemq`` and ``ejabberd``: a missing broker SKIPS on a developer's machine and FAILS under
``CI=true``, because ``.ci/run`` installs every broker (``scripts/install-brokers.sh``), so a
missing one there is a broken setup. Fixtures call :func:`require_installed` as well, so a
helper used outside a marked test keeps the policy.
"""

from __future__ import annotations

import os

import pytest

from mqttsec.fixtures.targets import get_target


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where no broker test may be skipped."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_installed(target: str) -> None:
    """Skip the current test, or fail it under CI, when *target*'s broker is missing."""
    found = get_target(target).probe()
    if found.installed:
        return
    message = f"{target}: {found.detail}"
    if in_ci():
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)
