"""SUBSCRIBE handling: validate each filter, grant QoS, add to the tree, send retained.

Each filter gets its own answer in SUBACK: the granted QoS capped by the server's maximum
[MQTT-3.9.3-?], or a failure (0x80 in 3.1.1; 0x8F, 0x9E or 0xA2 in 5.0) for an invalid or
unsupported filter. Retained messages follow the SUBACK according to Retain Handling, and
are never sent for a shared subscription (MQTT 5.0 section 4.8.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .protocol import PropertyId, ProtocolVersion, ReasonCode, Suback, Subscribe
from .sessions import Session
from .topic_tree import SubscriptionEntry, parse_filter

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["handle_subscribe"]


def handle_subscribe(conn: Connection, packet: Subscribe) -> None:
    """Answer one SUBSCRIBE with SUBACK, then send the retained messages it asks for."""
    core = conn.core
    config = conn.config
    session = conn.session
    assert session is not None
    v5 = conn.version is ProtocolVersion.V5
    sub_id: int | None = None
    if v5 and packet.properties:
        value = packet.properties.get(PropertyId.SUBSCRIPTION_IDENTIFIER)
        if isinstance(value, int):
            if not config.subscription_identifier_available:
                conn.protocol_violation(
                    ReasonCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                    "subscription identifier sent but not available",
                )
                return
            sub_id = value
    failure = ReasonCode.UNSPECIFIED_ERROR
    codes: list[ReasonCode] = []
    retained_for: list[SubscriptionEntry[Session]] = []
    for sub in packet.subscriptions:
        parsed = parse_filter(sub.topic_filter)
        if parsed is None:
            codes.append(ReasonCode.TOPIC_FILTER_INVALID if v5 else failure)
            continue
        if parsed.share_group is not None and not config.shared_subscription_available:
            codes.append(ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED if v5 else failure)
            continue
        if parsed.has_wildcard and not config.wildcard_subscription_available:
            codes.append(ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED if v5 else failure)
            continue
        if v5 and parsed.share_group is not None and sub.no_local:
            conn.protocol_violation(
                ReasonCode.PROTOCOL_ERROR, "no-local on a shared subscription [MQTT-3.8.3-4]"
            )
            return
        qos = min(int(sub.qos), config.max_qos)
        entry: SubscriptionEntry[Session] = SubscriptionEntry(
            session,
            parsed.topic_filter,
            qos,
            no_local=v5 and sub.no_local,
            retain_as_published=v5 and sub.retain_as_published,
            retain_handling=int(sub.retain_handling) if v5 else 0,
            identifier=sub_id,
            share_group=parsed.share_group,
        )
        existed = core.tree.subscribe(entry)
        session.subscriptions[sub.topic_filter] = entry
        codes.append(ReasonCode(qos))
        if parsed.share_group is None and config.retain_available:
            handling = entry.retain_handling
            if handling == 0 or (handling == 1 and not existed):
                retained_for.append(entry)
    conn.send(Suback(packet.packet_id, tuple(codes)))
    for entry in retained_for:
        core.send_retained(entry)
