"""Fuzzing MQTT packet handling with hypothesis: strategies, broker harness, ``mqttsec fuzz``.

The public strategies, for anyone's own property tests::

    from mqttsec.fuzz import packets, malformed
    @given(packets(ProtocolVersion.V5, "client"))      # every valid client packet
    @given(malformed())                               # labelled malformed input

:mod:`mqttsec.fuzz.packets` builds valid MQTT 3.1.1 / 5.0 packets from the codec's types;
:mod:`mqttsec.fuzz.mutations` breaks them one rule at a time, each example labelled with the
kind of malformation; :mod:`mqttsec.fuzz.wire` has the byte helpers and the codec oracle.
"""

from .mutations import LABELS, Malformed, malformed, mutation_strategies
from .packets import (
    PACKET_STRATEGIES,
    VERSIONS,
    connects,
    packet_ids,
    packets,
    properties,
    publishes,
    subscribes,
    texts,
    topic_filters,
    topic_names,
    wills,
)
from .wire import PINGREQ, codec_objection

__all__ = [
    "LABELS",
    "PACKET_STRATEGIES",
    "PINGREQ",
    "VERSIONS",
    "Malformed",
    "codec_objection",
    "connects",
    "malformed",
    "mutation_strategies",
    "packet_ids",
    "packets",
    "properties",
    "publishes",
    "subscribes",
    "texts",
    "topic_filters",
    "topic_names",
    "wills",
]
