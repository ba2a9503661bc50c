"""The broker's shared state and the routing of application messages.

:class:`BrokerCore` owns the sessions, the topic tree, the retained store, the timer queue and
the table of live connections by client id. Connections call it to open and end sessions and
to distribute messages; it calls connections back to deliver. It does no socket I/O itself:
deliveries append bytes to a connection's outbox and the connection is flushed once per
event-loop iteration (:meth:`mark_dirty`), which coalesces many messages into one write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import BrokerConfig
from .message import Message
from .protocol import Properties, PropertyId
from .retained import RetainedStore
from .security.plugin_api import ClientInfo, PluginMessage
from .security.policy import SecurityPolicy, plugin_message, run_now
from .sessions import NEVER_EXPIRES, Pending, Session, SessionStore
from .timers import Clock, TimerQueue, monotonic
from .topic_tree import SubscriptionEntry, TopicTree

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["LOGGER_NAME", "BrokerCore"]

LOGGER_NAME = "mqttsec.broker"

_READ_CACHE_LIMIT = 1024


class BrokerCore:
    """Sessions, subscriptions, retained messages and message routing.

    Args:
        config: the limits in force.
        clock: monotonic clock for expiry deadlines (injected in tests).
        loop: the event loop connections run on; None for pure unit tests (then flushing
            and timers must be driven by hand).
        security: the authentication and authorization policy; None builds it from
            ``config`` (loading the password file, ACL and plugins it names).
    """

    def __init__(
        self,
        config: BrokerConfig,
        clock: Clock = monotonic,
        loop: asyncio.AbstractEventLoop | None = None,
        security: SecurityPolicy | None = None,
    ) -> None:
        self.config = config
        self.security = (
            security if security is not None else SecurityPolicy.from_config(config, clock)
        )
        # Whether deliveries are checked against the ACL; fixed for the broker's life (a
        # reload re-reads the same files), so the unchecked fast path costs one test.
        self.read_checked = self.security.acl is not None
        self.clock = clock
        self.loop = loop
        self.log = logging.getLogger(LOGGER_NAME)
        self.tree: TopicTree[Session] = TopicTree()
        self.retained = RetainedStore(clock)
        self.sessions = SessionStore(config.max_queued_messages)
        self.connections: dict[str, Connection] = {}
        self.all_connections: set[Connection] = set()
        self.timers = TimerQueue(clock, self._arm_timer)
        self._timer_handle: asyncio.TimerHandle | None = None
        self._dirty: list[Connection] = []
        self._flush_scheduled = False
        self.messages_received = 0
        self.messages_dropped = 0
        self.internal_errors: list[BaseException] = []
        self.queue_high_water = max(1, config.max_queued_messages // 2)
        self.queue_low_water = self.queue_high_water // 2
        self.congested: set[Connection] = set()
        self.throttled: set[Connection] = set()
        self.throttle_senders: set[str] = set()
        self._congestion_check: asyncio.TimerHandle | None = None

    def record_internal_error(self, exc: BaseException, context: str) -> None:
        """A bug in the broker: log it and keep it so tests and BackgroundBroker re-raise it."""
        self.log.error("internal error while %s", context, exc_info=exc)
        self.internal_errors.append(exc)

    # -- output coalescing -------------------------------------------------------------

    def mark_dirty(self, connection: Connection) -> None:
        """Remember that ``connection`` has output; it is flushed at the end of this iteration."""
        self._dirty.append(connection)
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every pending outbox with one transport write per connection."""
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = []
        for connection in dirty:
            connection.flush()

    # -- flow control ----------------------------------------------------------------------

    def note_congestion(self, subscriber: Connection, sender: str | None) -> None:
        """A live subscriber cannot keep up: throttle the publisher feeding it.

        The publisher stops being read (TCP pushes back on it) until every congested
        subscriber has drained, or until ``slow_consumer_timeout`` passes; then the slow
        subscriber is exempted (its QoS 0 messages are dropped and its queue drops the
        oldest), so one client can never stall the others for long.
        """
        if not subscriber.congested:
            subscriber.congested = True
            subscriber.congested_since = self.clock()
            self.congested.add(subscriber)
            if self._congestion_check is None and self.loop is not None:
                self._congestion_check = self.loop.call_later(
                    self.config.slow_consumer_timeout, self._check_congestion
                )
        if sender is not None:
            self.throttle_senders.add(sender)

    def throttle(self, publisher: Connection) -> None:
        """Stop reading from a publisher while subscribers it feeds are congested."""
        self.throttle_senders.discard(publisher.client_id)
        if self.congested and not publisher.throttled:
            publisher.throttled = True
            self.throttled.add(publisher)
            publisher.update_reading()

    def relieve(self, subscriber: Connection) -> None:
        """A subscriber caught up (or left); resume publishers when nobody is congested."""
        subscriber.congested = False
        self.congested.discard(subscriber)
        if not self.congested:
            self.throttle_senders.clear()
            throttled = list(self.throttled)
            self.throttled.clear()
            for publisher in throttled:
                publisher.throttled = False
                publisher.update_reading()

    def _check_congestion(self) -> None:
        self._congestion_check = None
        deadline = self.clock() - self.config.slow_consumer_timeout
        for subscriber in list(self.congested):
            if subscriber.congested_since <= deadline:
                subscriber.exempt = True
                self.log.info(
                    "client %s is a slow consumer: no longer throttling its publishers",
                    subscriber.describe(),
                )
                self.relieve(subscriber)
        if self.congested and self.loop is not None:
            self._congestion_check = self.loop.call_later(
                self.config.slow_consumer_timeout / 2, self._check_congestion
            )

    # -- timers --------------------------------------------------------------------------

    def _arm_timer(self, deadline: float) -> None:
        if self.loop is None:
            return
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        delay = max(0.0, deadline - self.clock())
        self._timer_handle = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer_handle = None
        try:
            self.timers.run_due()
        except Exception as exc:  # noqa: BLE001 -- a bug: keep the timer machinery alive
            self.record_internal_error(exc, "running timers")
        nxt = self.timers.next_deadline()
        if nxt is not None:
            self._arm_timer(nxt)

    def close(self) -> None:
        if self._congestion_check is not None:
            self._congestion_check.cancel()
            self._congestion_check = None
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None

    # -- sessions ------------------------------------------------------------------------

    def open_session(self, client_id: str, clean_start: bool) -> tuple[Session, bool]:
        """The session for a new connection and whether one was present [MQTT-3.2.2-2/3].

        With ``clean_start`` any previous session ends (its delayed will is sent); otherwise
        the previous session is resumed and its expiry and delayed will are cancelled
        [MQTT-3.1.3-9].
        """
        old = self.sessions.get(client_id)
        if old is not None and not clean_start:
            old.cancel_timers()
            return old, True
        if old is not None:
            self.end_session(old)
        return self.sessions.create(client_id), False

    def end_session(self, session: Session) -> None:
        """Discard a session: its subscriptions, queue and flights. A delayed will fires now."""
        will_timer = session.will_timer
        session.will_timer = None
        if session.expiry_timer is not None:
            session.expiry_timer.cancel()
            session.expiry_timer = None
        if will_timer is not None and not will_timer.cancelled:
            will_timer.cancel()
            will_timer.callback()
        for entry in list(session.subscriptions.values()):
            self.tree.unsubscribe(session, entry.topic_filter, entry.share_group)
        session.subscriptions.clear()
        session.queue.clear()
        session.inflight.clear()
        self.sessions.remove(session)

    def session_offline(self, session: Session) -> None:
        """The session lost its connection: end it now or when its expiry interval passes."""
        session.connection = None
        expiry = session.expiry_interval
        if expiry == 0:
            self.end_session(session)
        elif expiry != NEVER_EXPIRES:
            session.expiry_timer = self.timers.call_later(expiry, lambda: self.end_session(session))

    # -- routing -------------------------------------------------------------------------

    def distribute(self, message: Message) -> int:
        """Deliver a message to every matching subscription; returns how many sessions got it.

        Overlapping subscriptions of one session give one delivery with the highest QoS and,
        in 5.0, every matching subscription identifier [MQTT-3.3.4-2/3/5]. The no-local option
        skips the publisher's own subscriptions [MQTT-3.8.3-3].
        """
        self.messages_received += 1
        result = self.tree.match(message.topic)
        if not result:
            return 0
        sender = message.sender
        mqos = message.qos
        mretain = message.retain
        topic = message.topic
        checked = self.read_checked
        count = 0
        for session, entries in result.targets:
            if checked:
                allowed = session.read_cache.get(topic)  # inlined may_read(): the hot path
                if not (self.may_read(session, topic) if allowed is None else allowed):
                    continue
            if len(entries) == 1:
                entry = entries[0]
                if entry.no_local and session.client_id == sender:
                    continue
                qos = entry.qos if entry.qos < mqos else mqos  # noqa: FURB136 -- hot path
                retain = mretain and entry.retain_as_published
                sub_ids: tuple[int, ...] = () if entry.identifier is None else (entry.identifier,)
            else:
                picked = [e for e in entries if not (e.no_local and session.client_id == sender)]
                if not picked:
                    continue
                qos = min(mqos, max(e.qos for e in picked))
                retain = mretain and any(e.retain_as_published for e in picked)
                sub_ids = tuple(sorted({e.identifier for e in picked if e.identifier is not None}))
            connection = session.connection
            if connection is not None:  # inlined deliver(): the hot path
                connection.send_message(message, qos, retain, sub_ids)
            else:
                self.deliver(session, message, qos, retain, sub_ids)
            count += 1
        groups = result.groups
        if not groups:
            return count
        online: Callable[[Session], bool] = _is_online
        if checked:

            def online(session: Session) -> bool:
                return session.connection is not None and self.may_read(session, topic)

        for group in groups:
            member = group.pick(online)
            if member is None or (checked and not self.may_read(member.subscriber, topic)):
                continue
            qos = min(mqos, member.qos)
            retain = mretain and member.retain_as_published
            ids = () if member.identifier is None else (member.identifier,)
            self.deliver(member.subscriber, message, qos, retain, ids)
            count += 1
        return count

    def deliver(
        self, session: Session, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...]
    ) -> None:
        """Send to a live session, or queue for an offline persistent one (if it may read)."""
        if self.read_checked and not self.may_read(session, message.topic):
            return
        connection = session.connection
        if connection is not None:
            connection.send_message(message, qos, retain, sub_ids)
        elif (qos or self.config.queue_qos0_offline) and not session.enqueue(
            Pending(message, qos, retain, sub_ids)
        ):
            self.messages_dropped += 1

    def publish(self, message: Message) -> int:
        """Store a retained message (if flagged) and distribute it."""
        if message.retain and self.config.retain_available:
            self.retained.update(message)
        return self.distribute(message)

    def publish_will(self, message: Message, client: ClientInfo | None = None) -> None:
        """Publish a will message, authorized again now: the ACL may have changed since CONNECT.

        A will goes through the same checks as a PUBLISH from its client (ACL WRITE,
        ``authorize_publish``, ``on_message``); async hooks run as a task (the connection is
        gone, so nothing waits for it).
        """
        security = self.security
        if client is None:
            self.publish(message)
            return
        if not security.may_write(client.username, client.client_id, message.topic):
            self.log.info(
                "will of %r to %r no longer authorized; dropped", client.client_id, message.topic
            )
            return
        if not security.publish_hooks:
            self.publish(message)
            return
        view = plugin_message(
            message.topic, message.payload, message.qos, message.retain, message.properties, True
        )
        work = security.admit_message(client, view)
        if not security.is_async("authorize_publish", "on_message") or self.loop is None:
            self._publish_admitted_will(message, run_now(work, (False, None), "will"))
            return
        task = self.loop.create_task(work)
        task.add_done_callback(lambda done: self._publish_admitted_will(message, done.result()))

    def _publish_admitted_will(
        self, message: Message, verdict: tuple[bool, PluginMessage | None]
    ) -> None:
        allowed, changed = verdict
        if not allowed or changed is None:
            self.log.info("will to %r denied or dropped by a plugin", message.topic)
            return
        self.publish(with_plugin_changes(message, changed, self.config))

    def send_retained(self, entry: SubscriptionEntry[Session]) -> None:
        """Send the retained messages matching a new subscription, RETAIN set [MQTT-3.3.1-8].

        With an ACL, a retained message is sent only while its publisher may still write its
        topic: revoking write access revokes what that publisher left behind
        (CVE-2018-12546 class). The subscriber's READ is checked in :meth:`deliver`.
        """
        session = entry.subscriber
        sub_ids = () if entry.identifier is None else (entry.identifier,)
        security = self.security
        for message in self.retained.match(entry.topic_filter):
            origin = message.origin
            if origin is not None and not security.may_write(origin[0], origin[1], message.topic):
                continue
            qos = min(entry.qos, message.qos)
            self.deliver(session, message, qos, True, sub_ids)

    # -- security ------------------------------------------------------------------------

    def may_read(self, session: Session, topic: str) -> bool:
        """ACL READ for the session's identity, cached per (session, topic)."""
        cache = session.read_cache
        allowed = cache.get(topic)
        if allowed is None:
            if len(cache) >= _READ_CACHE_LIMIT:
                cache.clear()
            allowed = cache[topic] = self.security.may_read(
                session.username, session.client_id, topic
            )
        return allowed

    def rejudge_subscriptions(self, session: Session) -> int:
        """Drop the session's subscriptions the current ACL refuses; returns how many.

        Called for every session after a reload and for a resumed session judged by an
        older policy, so a durable session cannot keep a subscription its client lost the
        right to (CVE-2021-34434 class). Unfinished outbound flows are checked for READ
        when they are sent again.
        """
        security = self.security
        session.policy_generation = security.generation
        session.read_cache.clear()
        dropped = 0
        for text, entry in list(session.subscriptions.items()):
            if security.may_subscribe(session.username, session.client_id, text):
                continue
            self.tree.unsubscribe(session, entry.topic_filter, entry.share_group)
            del session.subscriptions[text]
            dropped += 1
        if dropped:
            self.log.info(
                "dropped %d subscription(s) of %r no longer allowed by the ACL",
                dropped,
                session.client_id,
            )
        return dropped

    def reload_security(self) -> bool:
        """Re-read the password file and ACL (SIGHUP); a broken file keeps the old policy.

        On success every cached decision is forgotten and every session's subscriptions
        are judged again. Connected clients stay connected (their credentials were checked
        when they connected, as in mosquitto).
        """
        if not self.security.reload():
            return False
        for connection in self.all_connections:
            connection.write_cache.clear()
        for session in self.sessions:
            self.rejudge_subscriptions(session)
        return True


def with_plugin_changes(message: Message, changed: PluginMessage, config: BrokerConfig) -> Message:
    """The message as an ``on_message`` plugin returned it (the same object if unchanged)."""
    user = tuple(
        value
        for value in message.properties.get_all(PropertyId.USER_PROPERTY)
        if isinstance(value, tuple)
    )
    if (
        changed.topic == message.topic
        and changed.payload == message.payload
        and changed.qos == message.qos
        and changed.retain == message.retain
        and changed.user_properties == user
    ):
        return message
    properties = message.properties
    if changed.user_properties != user:
        kept = properties.without(PropertyId.USER_PROPERTY).items()
        properties = Properties(
            [*kept, *((PropertyId.USER_PROPERTY, pair) for pair in changed.user_properties)]
        )
    result = Message(
        changed.topic,
        changed.payload,
        min(changed.qos, config.max_qos),
        changed.retain and config.retain_available,
        properties,
        message.expires_at,
        message.sender,
    )
    result.origin = message.origin
    return result


def _is_online(session: Session) -> bool:
    return session.connection is not None
