"""Shared fixtures for the project's own tests.

``broker`` is a fresh reference broker on a free port in a background thread, per test;
``make_broker(**settings)`` starts one with other settings. Both allow anonymous clients
(the broker's default refuses them) unless a test passes ``allow_anonymous=False``. Errors inside the broker thread
are re-raised when the test ends (see BackgroundBroker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mqttsec.reference_broker import BackgroundBroker, BrokerConfig

MakeBroker = Callable[..., BackgroundBroker]


@pytest.fixture
def make_broker() -> Iterator[MakeBroker]:
    """Factory: ``make_broker(max_qos=1, ...)`` starts a broker with those BrokerConfig fields."""
    started: list[BackgroundBroker] = []

    def factory(config: BrokerConfig | None = None, **settings: Any) -> BackgroundBroker:
        base = config if config is not None else BrokerConfig(port=0, allow_anonymous=True)
        instance = BackgroundBroker(base.replace(**settings) if settings else base)
        instance.start()
        started.append(instance)
        return instance

    yield factory
    errors = []
    for instance in reversed(started):
        try:
            instance.stop()
        except Exception as exc:  # noqa: BLE001 -- stop them all, then report the first failure
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def broker(make_broker: MakeBroker) -> BackgroundBroker:
    """A fresh reference broker with default settings on a free port."""
    return make_broker()
