"""Skip policy of the comparison brokers (aedes, RabbitMQ, ActiveMQ, ejabberd).

``make brokers`` installs them, CI does not run it yet: a missing one SKIPS, also under
``CI=true`` (unlike the mosquitto/amqtt markers of the root conftest.py, which fail in CI).
Once .ci/run installs them, move these markers to the root conftest's fail-in-CI policy.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.targets import get_target


def require_installed(target: str) -> None:
    """Skip the current test (even in CI, for now) when *target*'s broker is missing."""
    found = get_target(target).probe()
    if not found.installed:
        pytest.skip(f"{target}: {found.detail}")
