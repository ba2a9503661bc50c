"""Authorizing a client's PUBLISH: the ACL, plugin hooks, and the answer to a denial.

Only used when the broker has an ACL or publish plugins, or for a topic starting with ``$``
(``$SYS`` and ``$CONTROL/`` are never writable by clients): a broker without either keeps
the unchecked fast path in :meth:`.connection.Connection._on_publish`.

A denied PUBLISH is answered as the spec allows per version: at QoS 0 it is dropped
silently; at QoS 1/2 a 5.0 client gets PUBACK/PUBREC 0x87 Not Authorized, a 3.1.1 client a
positive acknowledgement, since 3.1.1 has no way to say no [MQTT-3.3.5-2]. With
``disconnect_on_denied_publish`` the connection is closed instead (5.0: DISCONNECT 0x87).
Plugin hooks (``authorize_publish``, ``on_message``) run after the ACL allowed; async ones
suspend the connection so its later packets wait, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .protocol import ProtocolVersion, Puback, Publish, Pubrec, ReasonCode
from .security.plugin_api import PluginMessage
from .security.policy import plugin_message, run_now
from .wire import PUBACK, PUBREC, ack

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["deny_publish", "guarded_publish"]

_PUBLISH_HOOKS = ("authorize_publish", "on_message")


def guarded_publish(conn: Connection, packet: Publish, topic: str) -> None:
    """Check a PUBLISH (topic aliases resolved) and distribute it, or answer the denial."""
    if not conn.may_write(topic):
        deny_publish(conn, packet, topic)
        return
    security = conn.core.security
    client = conn.client_info
    if not security.publish_hooks or client is None:
        conn.accept_publish(packet, topic)
        return
    view = plugin_message(topic, packet.payload, int(packet.qos), packet.retain, packet.properties)
    work = security.admit_message(client, view)

    def then(verdict: tuple[bool, PluginMessage | None]) -> None:
        allowed, changed = verdict
        if not allowed:
            deny_publish(conn, packet, topic)
        elif changed is None:
            conn.accept_publish(packet, topic, drop=True)
        else:
            conn.accept_publish(packet, topic, changed)

    if security.is_async(*_PUBLISH_HOOKS):
        conn.suspend(work, then)
    else:
        then(run_now(work, (False, None), f"PUBLISH of {conn.describe()}"))


def deny_publish(conn: Connection, packet: Publish, topic: str) -> None:
    """Answer a PUBLISH the client may not make (see the module docstring)."""
    qos = int(packet.qos)
    why = f"PUBLISH to {topic!r} not authorized"
    if conn.core.security.disconnect_on_denied_publish:
        conn.close(ReasonCode.NOT_AUTHORIZED, why)
        return
    conn.log.info("client %s: %s (QoS %d)", conn.describe(), why, qos)
    if qos == 0:
        return
    pid = packet.packet_id
    assert pid is not None
    if conn.version is ProtocolVersion.V5:
        conn.send(
            Puback(pid, ReasonCode.NOT_AUTHORIZED)
            if qos == 1
            else Pubrec(pid, ReasonCode.NOT_AUTHORIZED)
        )
    else:
        conn.write(ack(PUBACK if qos == 1 else PUBREC, pid))  # [MQTT-3.3.5-2]
