"""Hypothesis strategies for the protocol tests: the public ones of :mod:`mqttsec.fuzz.packets`
(every valid MQTT 3.1.1 and 5.0 packet) and the test settings.

Everything the strategies generate is valid, so ``decode(encode(p)) == p`` must hold for all
of it. The codec tests draw from the very strategies the fuzzer uses, so one definition of
"a valid packet" serves both (the default, ``broker_safe=False``, leaves nothing out).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from mqttsec.fuzz.packets import (
    PACKET_STRATEGIES,
    VERSIONS,
    packet_ids,
    packets,
    properties,
    texts,
    topic_filters,
    topic_names,
)
from mqttsec.reference_broker.protocol import ProtocolVersion

__all__ = [
    "PACKET_STRATEGIES",
    "SETTINGS",
    "V5",
    "V311",
    "VERSIONS",
    "packet_ids",
    "packets",
    "properties",
    "texts",
    "topic_filters",
    "topic_names",
]

V311 = ProtocolVersion.V311
V5 = ProtocolVersion.V5

SETTINGS = settings(
    max_examples=int(os.environ.get("MQTTSEC_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Keep the protocol tests fast; raise MQTTSEC_HYPOTHESIS_EXAMPLES for a fuzzing run."""
