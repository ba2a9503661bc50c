"""Cached strategies every mutation builds on: small integers, byte strings, choices, and
valid material drawn from the per-process pools (:mod:`mqttsec.fuzz.pool`).

They are cached because a strategy object made anew in every draw would be validated and
labelled anew each time, which costs more than the draw; each returns the same object for
the same arguments.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from hypothesis import strategies as st

from mqttsec.reference_broker.protocol import Connect, Packet, ProtocolVersion, Will

from .pool import pools, sampled_topics

__all__ = [
    "binaries",
    "client_packet",
    "encoded",
    "ints",
    "packet_lists",
    "pick",
    "pooled_connects",
    "pooled_wills",
    "topic_names",
]


@cache
def ints(low: int, high: int) -> st.SearchStrategy[int]:
    """Cached: a strategy object made anew in every draw would be validated and labelled
    anew each time, which costs more than the draw."""
    return st.integers(low, high)


@cache
def binaries(min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=min_size, max_size=max_size)


@cache
def pick(*items: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(items)


@cache
def packet_lists(version: ProtocolVersion) -> st.SearchStrategy[list[Packet]]:
    return st.lists(client_packet(version), min_size=1, max_size=3)


_POOL_VIEWS: Final = {"any": "client", "long": "long", "not-publish": "not_publish",
                      "with-id": "with_id", "publish": "publishes", "qos0": "qos0"}  # fmt: skip


@cache
def client_packet(version: ProtocolVersion, what: str = "any") -> st.SearchStrategy[Packet]:
    """A valid packet a logged-in client may send (not CONNECT), one draw from the pool;
    *what* narrows it: ``"long"`` more than two bytes, ``"not-publish"``, ``"with-id"`` one
    with a packet id, ``"publish"``, ``"qos0"`` a QoS 0 PUBLISH."""
    return st.sampled_from(getattr(pools(version), _POOL_VIEWS[what]))


@cache
def pooled_connects(version: ProtocolVersion) -> st.SearchStrategy[Connect]:
    return st.sampled_from(pools(version).connects)


@cache
def pooled_wills(version: ProtocolVersion) -> st.SearchStrategy[Will]:
    return st.sampled_from(pools(version).wills)


def encoded(packet: Packet, version: ProtocolVersion) -> bytes:
    return pools(version).raw(packet)


topic_names: Final = sampled_topics()
