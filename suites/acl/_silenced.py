"""The sentinel after a refused PUBLISH, when the broker may stop serving the publisher
without closing its connection.

The sentinel method needs the publisher's own connection to carry the sentinel after the
forbidden messages. amqtt 0.12 answers a PUBLISH to a ``$`` topic with a PUBACK and then
ends that connection's message loop *without closing the socket*: every later PUBLISH of
that client is acknowledged too, and dropped. The sentinel never comes, so nothing would be
proven, although the forbidden message was refused (it was never routed).

:class:`SentinelAfterRefusal` tells the two apart. When the publisher's sentinel is lost,
the publisher closes its connection and connects again with the same client id and
subscriptions (the forbidden messages were all acknowledged before it closed), and sends
a new sentinel. If that one arrives, the proof holds and the scenario records a deviation:
the broker left the connection open while it had stopped serving it (acknowledged QoS 1
messages were then lost [MQTT-4.3.2-2]). If it does not, nothing is proven
(:class:`~mqttsec.fixtures.expect.SentinelLost`). Once seen, later sentinels of the
scenario come from a fresh connection at once, instead of waiting out a lost one again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mqttsec.fixtures.clients import Received
from mqttsec.fixtures.expect import SentinelLost
from mqttsec.fixtures.plugin import deviation

from ._support import Actor, Reader, read_until, unique

__all__ = ["SentinelAfterRefusal"]


@dataclass
class SentinelAfterRefusal:
    """Sends sentinels after refused publishes and remembers whether the broker silenced
    a publisher (one per scenario).

    Attributes:
        what: the refused publishes, for the deviation's text (``"a PUBLISH to $SYS"``).
        silenced: publishers whose sentinel was lost until they connected again.
    """

    what: str
    silenced: list[str] = field(default_factory=list)

    def prove(
        self,
        writer: Actor,
        reader: Reader,
        topic: str,
        forbidden: dict[bytes, str],
        *,
        retain: bool = False,
        seen: list[Received] | None = None,
    ) -> list[Received]:
        """Send a sentinel from *writer* on *topic* and read what *reader* gets until it;
        fail on a *forbidden* payload (see :func:`~._support.read_until`).

        Args:
            seen: receives every message read before a sentinel, also those read before a
                sentinel that was lost (the caller judges them too).

        Raises:
            AssertionError: a leak.
            SentinelLost: not even a sentinel from a fresh connection came.
        """
        got: list[Received] = [] if seen is None else seen
        if self.silenced:
            writer.restart()  # this broker silences publishers: do not wait it out again
        token = unique("sentinel").encode()
        writer.send_sentinel(topic, token, retain=retain)
        try:
            return read_until(reader, token, forbidden, seen=got)
        except SentinelLost:
            if self.silenced:
                raise
        writer.restart()
        token = unique("sentinel").encode()
        writer.send_sentinel(topic, token, retain=retain)
        read_until(reader, token, forbidden, seen=got)
        self.silenced.append(repr(writer))
        deviation(
            f"after {self.what}, the broker acknowledged the next PUBLISH of {writer!r} but "
            "never delivered it (the connection stayed open and was no longer served); a "
            "sentinel from a new connection with the same client id came"
        )
        return got
