"""The broker's security policy: who may connect, publish, subscribe and receive what.

:class:`SecurityPolicy` is built once from :class:`~..config.BrokerConfig` (password file,
ACL file, plugin chain, login throttling) and answers the broker's questions; it does no I/O
on connections. The rules it applies:

* Authentication (:meth:`SecurityPolicy.admit`). On a listener with
  ``use_identity_as_username``/``use_subject_as_username`` the certificate gives the
  username and the CONNECT username and password are ignored (they cannot override it). A
  throttled address or username is refused before anything is hashed. Then plugins: any
  DENY refuses, any ALLOW accepts. Otherwise: a certificate identity is accepted; a client
  without a username is accepted only with ``allow_anonymous`` (a 5.0 password without a
  username is refused); a username is checked against the password file, or, without one,
  accepted only with ``allow_anonymous`` (mosquitto refuses it too).
* CONNACK codes: bad credentials 0x04 / 0x86, not authorized (anonymous, will topic,
  plugin default) 0x05 / 0x87, throttled 0x05 / 0x9F Connection Rate Exceeded (the code the
  5.0 spec has for "too many connection attempts"; 3.1.1 has only "not authorized").
  Mosquitto 2.0 answers 0x05 / 0x87 for a wrong password as well; we keep the two apart
  because 5.0 defines 0x86 for exactly that case.
* A will is authorized like a PUBLISH (ACL WRITE and plugins) at CONNECT time, and again
  when it is published (the ACL may have changed meanwhile; mochi-mqtt #503 class). A will
  the client may not publish refuses the CONNECT (0x05 / 0x87), so the client learns it;
  mosquitto 2.0 accepts the CONNECT and silently drops the will when it is due.
* Publishing to ``$SYS`` or ``$CONTROL/`` is always refused, with or without an ACL.
* Reload keeps the old files when a new one cannot be read or parsed (it never falls back
  to an open policy; mosquitto CVE-2017-7652 class).

Plugin hooks may be sync or async. :meth:`SecurityPolicy.is_async` says whether a hook
needs the event loop; when not, :func:`run_now` runs the chain's coroutine to completion
without one, so brokers without async plugins keep a synchronous fast path.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..protocol import (
    NO_PROPERTIES,
    ConnectReturnCode,
    Properties,
    PropertyId,
    ProtocolVersion,
    ReasonCode,
    Will,
)
from ..protocol.enums import PacketType
from ..protocol.rules import REASON_CODES
from .acl import Access, AclFile
from .identity import CertificateIdentityError, ClientCertificate, username_from_certificate
from .login_throttle import LoginThrottle
from .passwords import PasswordFile
from .plugin_api import ClientInfo, ConnectInfo, Decision, PluginMessage
from .plugins import PluginChain
from .tls import TlsSettings

if TYPE_CHECKING:
    from ..config import BrokerConfig

__all__ = [
    "RESERVED_PUBLISH_PREFIXES",
    "Admission",
    "ConnectRequest",
    "SecurityPolicy",
    "plugin_message",
    "run_now",
]

log = logging.getLogger("mqttsec.broker.security")

T = TypeVar("T")

RESERVED_PUBLISH_PREFIXES = ("$SYS", "$CONTROL/")
"""Topics no client may publish to (mosquitto drops client PUBLISH to ``$SYS`` too)."""

_BAD_CREDENTIALS = (
    ConnectReturnCode.BAD_USER_NAME_OR_PASSWORD,
    ReasonCode.BAD_USER_NAME_OR_PASSWORD,
)
_NOT_AUTHORIZED = (ConnectReturnCode.NOT_AUTHORIZED, ReasonCode.NOT_AUTHORIZED)
_THROTTLED = (ConnectReturnCode.NOT_AUTHORIZED, ReasonCode.CONNECTION_RATE_EXCEEDED)


def run_now(coro: Coroutine[Any, Any, T], fallback: T, what: str) -> T:
    """Run a coroutine that never suspends (only sync hooks inside) without an event loop.

    If it suspends after all (a plain function returned an awaitable), it is closed and
    *fallback* (a denial) is returned: fail closed, and say how to fix the plugin.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    log.error("%s: a plugin hook declared without `async def` returned an awaitable; denied", what)
    return fallback


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What authentication looks at: the CONNECT and the connection it came on."""

    client_id: str
    username: str | None
    password: bytes | None
    version: ProtocolVersion
    clean_start: bool
    peer_address: tuple[str, int] | None
    listener: str = "default"
    tls: TlsSettings | None = None
    certificate: ClientCertificate | None = None
    properties: Properties = NO_PROPERTIES
    will: Will | None = None

    def __repr__(self) -> str:
        """Keep the password out of logs."""
        return f"ConnectRequest(client_id={self.client_id!r}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to a CONNECT.

    Attributes:
        accepted: whether the client may connect.
        username: the authenticated username (certificate identity or CONNECT username).
        v311: the 3.1.1 CONNACK return code.
        v5: the 5.0 CONNACK reason code.
        reason: for the log; never a secret.
        client: the client as hooks see it (None when refused before it was known).
    """

    accepted: bool
    username: str | None
    v311: ConnectReturnCode
    v5: ReasonCode
    reason: str
    client: ClientInfo | None = None


def _accept(client: ClientInfo, reason: str) -> Admission:
    return Admission(
        True, client.username, ConnectReturnCode.ACCEPTED, ReasonCode.SUCCESS, reason, client
    )


def _refuse(
    codes: tuple[ConnectReturnCode, ReasonCode], username: str | None, reason: str
) -> Admission:
    return Admission(False, username, codes[0], codes[1], reason)


def plugin_message(
    topic: str, payload: bytes, qos: int, retain: bool, properties: Properties, will: bool = False
) -> PluginMessage:
    """The plugin view of a message (5.0 user properties kept in order)."""
    pairs: tuple[tuple[str, str], ...] = ()
    if properties and PropertyId.USER_PROPERTY in properties:
        pairs = tuple(
            value
            for value in properties.get_all(PropertyId.USER_PROPERTY)
            if isinstance(value, tuple)
        )
    return PluginMessage(topic, payload, qos, retain, pairs, will)


class SecurityPolicy:
    """Authentication and authorization decisions for one broker.

    Args:
        allow_anonymous: accept clients without a username (and without certificate identity).
        passwords: the password file's users, or None.
        acl: the ACL, or None (no topic restrictions beyond the reserved topics).
        chain: the plugins, or None.
        throttle: failed-login throttling, or None.
        disconnect_on_denied_publish: close clients whose PUBLISH is denied.
        password_file, acl_file: where ``passwords``/``acl`` came from, for :meth:`reload`.
    """

    def __init__(
        self,
        *,
        allow_anonymous: bool = False,
        passwords: PasswordFile | None = None,
        acl: AclFile | None = None,
        chain: PluginChain | None = None,
        throttle: LoginThrottle | None = None,
        disconnect_on_denied_publish: bool = False,
        password_file: str | None = None,
        acl_file: str | None = None,
    ) -> None:
        self.allow_anonymous = allow_anonymous
        self.passwords = passwords
        self.acl = acl
        self.chain = chain if chain is not None and chain.plugins else None
        self.throttle = throttle
        self.disconnect_on_denied_publish = disconnect_on_denied_publish
        self.password_file = password_file
        self.acl_file = acl_file
        self.generation = 0
        hooks = self.chain.plugins if self.chain is not None else ()
        self.hooks = frozenset(name for plugin in hooks for name in plugin.hooks)
        self._async_hooks = frozenset(
            name
            for plugin in hooks
            for name, hook in plugin.hooks.items()
            if inspect.iscoroutinefunction(hook)
            or inspect.iscoroutinefunction(getattr(hook, "__call__", None))  # noqa: B004
        )
        self.publish_hooks = bool(self.hooks & {"authorize_publish", "on_message"})
        self.subscribe_hooks = "authorize_subscribe" in self.hooks

    @classmethod
    def from_config(cls, config: BrokerConfig, clock: Callable[[], float]) -> SecurityPolicy:
        """Load the files and plugins the configuration names.

        Raises:
            ConfigError: a file is missing or malformed, or a plugin cannot be loaded.
        """
        passwords = PasswordFile.load(config.password_file) if config.password_file else None
        acl = AclFile.load(config.acl_file) if config.acl_file else None
        chain = PluginChain.from_specs(config.plugins) if config.plugins else None
        throttle = (
            LoginThrottle(config.login_throttle_attempts, config.login_throttle_window, clock)
            if config.login_throttle_attempts
            else None
        )
        return cls(
            allow_anonymous=config.allow_anonymous,
            passwords=passwords,
            acl=acl,
            chain=chain,
            throttle=throttle,
            disconnect_on_denied_publish=config.disconnect_on_denied_publish,
            password_file=config.password_file,
            acl_file=config.acl_file,
        )

    @property
    def checks_messages(self) -> bool:
        """Whether PUBLISH and delivery need any check beyond the reserved topics."""
        return self.acl is not None or self.publish_hooks

    def is_async(self, *hooks: str) -> bool:
        """Whether any plugin implements one of *hooks* with ``async def``."""
        return not self._async_hooks.isdisjoint(hooks)

    # -- reload ------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the password and ACL files; on any failure keep the current ones.

        Returns:
            True when the new files are in force, False when the old ones were kept.
        """
        try:
            passwords = PasswordFile.load(self.password_file) if self.password_file else None
            acl = AclFile.load(self.acl_file) if self.acl_file else None
        except Exception as exc:  # noqa: BLE001 -- MemoryError included: never open up
            log.error("security reload failed, keeping the previous password file and ACL: %s", exc)
            return False
        self.passwords = passwords
        self.acl = acl
        self.generation += 1
        log.info("security reloaded (password file and ACL), generation %d", self.generation)
        return True

    # -- authentication ----------------------------------------------------------------------

    async def admit(self, request: ConnectRequest) -> Admission:
        """Decide a CONNECT: identity, throttling, plugins, password file, anonymous, will."""
        tls = request.tls
        try:
            cert_username = (
                username_from_certificate(
                    request.certificate,
                    use_identity_as_username=tls.use_identity_as_username,
                    use_subject_as_username=tls.use_subject_as_username,
                )
                if tls is not None
                else None
            )
        except CertificateIdentityError as exc:
            return _refuse(_BAD_CREDENTIALS, None, exc.reason)
        username = cert_username if cert_username is not None else request.username
        address = request.peer_address[0] if request.peer_address is not None else None
        throttle = self.throttle
        if throttle is not None and throttle.is_throttled(address, username):
            return _refuse(_THROTTLED, username, "too many failed logins; throttled")
        client = ClientInfo(
            request.client_id,
            username,
            request.version,
            request.peer_address,
            request.listener,
            request.certificate,
        )
        verdict, login_failure = await self._authenticate(
            request, client, cert_username is not None
        )
        if not verdict.accepted:
            if login_failure and throttle is not None:
                throttle.record_failure(address, username)
            return verdict
        will = request.will
        if will is not None:
            message = plugin_message(
                will.topic, will.payload, int(will.qos), will.retain, will.properties, will=True
            )
            if not await self.authorize_publish(client, message):
                return _refuse(
                    _NOT_AUTHORIZED, username, f"will topic {will.topic!r} not authorized"
                )
        return verdict

    async def _authenticate(
        self, request: ConnectRequest, client: ClientInfo, cert_identity: bool
    ) -> tuple[Admission, bool]:
        """The authentication verdict and whether a refusal counts as a failed login."""
        username = client.username
        chain = self.chain
        if chain is not None and "authenticate" in self.hooks:
            connect = ConnectInfo(client, request.password, request.clean_start, request.properties)
            result = await chain.authenticate(connect)
            if result.decision is Decision.DENY:
                code = result.reason_code
                v5 = ReasonCode.NOT_AUTHORIZED
                if code is not None and code in REASON_CODES[PacketType.CONNACK]:
                    v5 = ReasonCode(code)
                v311 = (
                    ConnectReturnCode.BAD_USER_NAME_OR_PASSWORD
                    if v5 is ReasonCode.BAD_USER_NAME_OR_PASSWORD
                    else ConnectReturnCode.NOT_AUTHORIZED
                )
                return _refuse((v311, v5), username, result.reason or "denied by a plugin"), True
            if result.decision is Decision.ALLOW:
                return _accept(client, result.reason or "allowed by a plugin"), False
        if cert_identity:
            return _accept(client, "certificate identity"), False
        if username is None:
            if request.password is not None:
                return _refuse(_BAD_CREDENTIALS, None, "password without a user name"), True
            if self.allow_anonymous:
                return _accept(client, "anonymous"), False
            return _refuse(_NOT_AUTHORIZED, None, "anonymous clients are not allowed"), False
        if self.passwords is not None:
            ok = self.passwords.verify(username, request.password or b"")
            if ok and request.password is not None:
                return _accept(client, "password"), False
            return _refuse(_BAD_CREDENTIALS, username, "wrong user name or password"), True
        if self.allow_anonymous:
            return _accept(client, "user name not verified (no password file)"), False
        return _refuse(
            _BAD_CREDENTIALS, username, "no password file to check the user against"
        ), True

    # -- authorization -----------------------------------------------------------------------

    def may_write(self, username: str | None, client_id: str, topic: str) -> bool:
        """ACL WRITE (and the reserved topics) for a topic name."""
        if topic.startswith(RESERVED_PUBLISH_PREFIXES):
            return False
        acl = self.acl
        return acl is None or acl.check(username, client_id, topic, Access.WRITE)

    def may_read(self, username: str | None, client_id: str, topic: str) -> bool:
        """ACL READ for a topic name (True without an ACL)."""
        acl = self.acl
        return acl is None or acl.check(username, client_id, topic, Access.READ)

    def may_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        """The ACL's exact judgement of a filter (every topic it can match must be readable)."""
        acl = self.acl
        if acl is None:
            return True
        verdict = acl.judge_subscribe(username, client_id, topic_filter)
        if not verdict.allowed:
            log.info("subscription %r of %r refused: %s", topic_filter, client_id, verdict.reason)
        return verdict.allowed

    async def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        """ACL WRITE and every plugin's ``authorize_publish`` (both must allow)."""
        if not self.may_write(client.username, client.client_id, message.topic):
            return False
        if self.chain is not None and "authorize_publish" in self.hooks:
            return await self.chain.authorize_publish(client, message)
        return True

    async def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage | None:
        """Run the ``on_message`` plugins; a changed topic is authorized again first."""
        if self.chain is None or "on_message" not in self.hooks:
            return message

        async def reauthorize(changed: PluginMessage) -> bool:
            return await self.authorize_publish(client, changed)

        return await self.chain.on_message(client, message, reauthorize=reauthorize)

    async def admit_message(
        self, client: ClientInfo, message: PluginMessage
    ) -> tuple[bool, PluginMessage | None]:
        """Authorize a PUBLISH (or will), then let ``on_message`` change or drop it.

        Returns:
            (authorized, message to distribute or None to drop it).
        """
        if not await self.authorize_publish(client, message):
            return False, None
        return True, await self.on_message(client, message)

    async def authorize_subscriptions(
        self, client: ClientInfo, requests: Sequence[tuple[str, int]]
    ) -> list[bool]:
        """Every plugin's ``authorize_subscribe`` for each (filter, QoS), judged separately."""
        chain = self.chain
        if chain is None or not self.subscribe_hooks:
            return [True] * len(requests)
        return [await chain.authorize_subscribe(client, f, qos) for f, qos in requests]
