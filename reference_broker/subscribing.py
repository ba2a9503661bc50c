"""SUBSCRIBE handling: validate each filter, grant QoS, add to the tree, send retained.

Each filter gets its own answer in SUBACK: the granted QoS capped by the server's maximum
[MQTT-3.9.3-?], or a failure (0x80 in 3.1.1; 0x8F, 0x9E or 0xA2 in 5.0) for an invalid or
unsupported filter. Retained messages follow the SUBACK according to Retain Handling, and
are never sent for a shared subscription (MQTT 5.0 section 4.8.2).

Authorization is per filter, every filter of the SUBSCRIBE (not only the first): the ACL
must allow every topic the filter can match (:meth:`.security.acl.AclFile.judge_subscribe`;
mosquitto grants any SUBSCRIBE and only filters at delivery, we refuse up front and still
check READ at delivery), and every plugin's ``authorize_subscribe`` must allow it. A refused
filter gets 0x80 (3.1.1) or 0x87 Not Authorized (5.0). Async plugin hooks suspend the
connection until all filters are judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .protocol import PropertyId, ProtocolVersion, ReasonCode, Suback, Subscribe, Subscription
from .security.policy import run_now
from .sessions import Session
from .topic_tree import ParsedFilter, SubscriptionEntry, parse_filter

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
    denied = ReasonCode.NOT_AUTHORIZED if v5 else failure
    security = core.security
    acl = security.acl is not None
    # Per filter: its SUBACK code already decided, or the parsed filter still to judge.
    judged: list[ReasonCode | tuple[Subscription, ParsedFilter]] = []
    for sub in packet.subscriptions:
        parsed = parse_filter(sub.topic_filter)
        if parsed is None:
            judged.append(ReasonCode.TOPIC_FILTER_INVALID if v5 else failure)
            continue
        if parsed.share_group is not None and not config.shared_subscription_available:
            judged.append(ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED if v5 else failure)
            continue
        if parsed.has_wildcard and not config.wildcard_subscription_available:
            judged.append(ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED if v5 else failure)
            continue
        if v5 and parsed.share_group is not None and sub.no_local:
            conn.protocol_violation(
                ReasonCode.PROTOCOL_ERROR, "no-local on a shared subscription [MQTT-3.8.3-4]"
            )
            return
        if acl and not security.may_subscribe(conn.username, conn.client_id, sub.topic_filter):
            judged.append(denied)
            continue
        judged.append((sub, parsed))
    client = conn.client_info
    if not security.subscribe_hooks or client is None:
        _apply(conn, packet, judged, sub_id)
        return
    asks = [(item[0].topic_filter, int(item[0].qos)) for item in judged if isinstance(item, tuple)]
    work = security.authorize_subscriptions(client, asks)

    def then(answers: list[bool]) -> None:
        verdicts = iter(answers)
        final = [
            item if not isinstance(item, tuple) or next(verdicts) else denied for item in judged
        ]
        _apply(conn, packet, final, sub_id)

    if security.is_async("authorize_subscribe"):
        conn.suspend(work, then)
    else:
        then(run_now(work, [False] * len(asks), f"SUBSCRIBE of {conn.describe()}"))


def _apply(
    conn: Connection,
    packet: Subscribe,
    judged: list[ReasonCode | tuple[Subscription, ParsedFilter]],
    sub_id: int | None,
) -> None:
    """Subscribe the allowed filters, answer SUBACK, send retained messages."""
    core = conn.core
    config = conn.config
    session = conn.session
    assert session is not None
    v5 = conn.version is ProtocolVersion.V5
    codes: list[ReasonCode] = []
    retained_for: list[SubscriptionEntry[Session]] = []
    for item in judged:
        if not isinstance(item, tuple):
            codes.append(item)
            continue
        sub, parsed = item
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
