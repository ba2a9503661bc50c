"""Loading broker plugins by import path, and running several of them as one chain.

A plugin is named in ``broker.toml`` as ``"package.module:factory"``; the factory (a class
or a function) is called with the plugin's options table as a dict and returns the plugin
object, whose hooks are described in :mod:`.plugin_api`. Hooks may be sync or async.

How a :class:`PluginChain` combines plugins (in configuration order):

* ``authenticate``: any DENY denies at once; otherwise any ALLOW allows (a plugin may
  authenticate clients the password file does not know, e.g. by token); if every plugin has
  no opinion, the broker's own checks decide. A certificate identity refusal
  (:class:`.identity.CertificateIdentityError`) happens before plugins and is final.
* ``authorize_publish`` / ``authorize_subscribe``: any False denies; True and None are the
  same. Hooks only narrow what the ACL allows, never widen it: the broker requires both.
* ``on_message``: piped: each plugin gets the previous one's message; None drops it. If the
  topic changed, the message is authorized again for the new topic before it goes on
  (a topic rewrite must not skip the ACL).
* Fail closed: a hook that raises, times out or returns a wrong type denies (for
  ``on_message``: drops the message), logged with the plugin's name; secrets are not logged.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mqttsec.errors import ConfigError

from .plugin_api import AuthResult, ClientInfo, ConnectInfo, Decision, PluginMessage

__all__ = [
    "DEFAULT_HOOK_TIMEOUT",
    "HOOKS",
    "LoadedPlugin",
    "PluginChain",
    "PluginConfigError",
    "PluginSpec",
    "load_plugin",
]

log = logging.getLogger(__name__)

HOOKS = ("authenticate", "authorize_publish", "authorize_subscribe", "on_message", "close")
DEFAULT_HOOK_TIMEOUT = 5.0
"""Seconds an async hook may take before it counts as a failure (denial)."""

Reauthorize = Callable[[PluginMessage], Awaitable[bool]]


class PluginConfigError(ConfigError):
    """A plugin cannot be loaded; start-up stops (never runs without a configured plugin)."""

    def __init__(self, name: str, problem: str, fix: str) -> None:
        super().__init__(f"plugin {name!r}: {problem}. Fix: {fix}")
        self.name = name
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class PluginSpec:
    """A plugin entry of ``broker.toml``.

    Attributes:
        name: how logs and errors call it (defaults to the import path).
        path: ``"package.module:attribute"``; the attribute is the factory.
        options: passed to the factory as a dict.
    """

    path: str
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.path


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin object and the hooks it implements."""

    name: str
    instance: object
    hooks: Mapping[str, Callable[..., Any]]


def load_plugin(spec: PluginSpec) -> LoadedPlugin:
    """Import the factory named by *spec*, call it with the options, find the hooks.

    Raises:
        PluginConfigError: bad path, import failure, factory failure, or no hooks at all.
    """
    name = spec.label
    module_name, sep, attribute = spec.path.partition(":")
    if not sep or not module_name or not attribute:
        raise PluginConfigError(
            name, f"path {spec.path!r} is not 'module:factory'", "write e.g. 'pkg.mod:Plugin'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginConfigError(
            name, f"cannot import {module_name!r} ({exc})", "install it or fix the path"
        ) from exc
    factory: Any = module
    for part in attribute.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise PluginConfigError(
                name, f"{module_name!r} has no {attribute!r}", "fix the name after ':'"
            )
    if not callable(factory):
        raise PluginConfigError(
            name, f"{spec.path!r} is not callable", "name a class or a factory function"
        )
    try:
        instance = factory(dict(spec.options))
    except Exception as exc:
        raise PluginConfigError(
            name, f"the factory failed: {exc}", "fix the plugin's options"
        ) from exc
    hooks = {
        hook: getattr(instance, hook) for hook in HOOKS if callable(getattr(instance, hook, None))
    }
    if not set(hooks) - {"close"}:
        raise PluginConfigError(
            name, "the plugin object has no hook method", f"implement one of {HOOKS[:4]}"
        )
    return LoadedPlugin(name, instance, hooks)


class _HookFailed(Exception):
    """A hook raised, timed out or returned a wrong type (already logged)."""


class PluginChain:
    """Several plugins run in order, with the semantics described in the module docstring."""

    def __init__(
        self, plugins: Sequence[LoadedPlugin], *, timeout: float = DEFAULT_HOOK_TIMEOUT
    ) -> None:
        self.plugins = tuple(plugins)
        self.timeout = timeout

    @classmethod
    def from_specs(
        cls, specs: Sequence[PluginSpec], *, timeout: float = DEFAULT_HOOK_TIMEOUT
    ) -> PluginChain:
        """Load every plugin (all or nothing: the first failure raises PluginConfigError)."""
        return cls([load_plugin(spec) for spec in specs], timeout=timeout)

    def implements(self, hook: str) -> bool:
        """Whether any plugin has *hook* (the broker may skip building arguments if not)."""
        return any(hook in plugin.hooks for plugin in self.plugins)

    async def _call(self, plugin: LoadedPlugin, hook: str, *args: object) -> object:
        try:
            result = plugin.hooks[hook](*args)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self.timeout)
        except TimeoutError as exc:
            log.error(
                "plugin %r: %s timed out after %.1fs; failing closed",
                plugin.name,
                hook,
                self.timeout,
            )
            raise _HookFailed from exc
        except Exception as exc:
            log.exception(
                "plugin %r: %s raised %s; failing closed", plugin.name, hook, type(exc).__name__
            )
            raise _HookFailed from exc
        return result

    def _wrong_type(
        self, plugin: LoadedPlugin, hook: str, result: object, expected: str
    ) -> _HookFailed:
        log.error(
            "plugin %r: %s returned %s, expected %s; failing closed",
            plugin.name,
            hook,
            type(result).__name__,
            expected,
        )
        return _HookFailed()

    async def authenticate(self, connect: ConnectInfo) -> AuthResult:
        """The chain's authentication answer (NO_OPINION: the broker's own checks decide)."""
        allowed: AuthResult | None = None
        for plugin in self.plugins:
            if "authenticate" not in plugin.hooks:
                continue
            try:
                result = await self._call(plugin, "authenticate", connect)
            except _HookFailed:
                return AuthResult(Decision.DENY, reason=f"plugin {plugin.name!r} failed")
            if result is None:
                continue
            if isinstance(result, bool):
                result = AuthResult(Decision.ALLOW if result else Decision.DENY)
            if not isinstance(result, AuthResult):
                self._wrong_type(plugin, "authenticate", result, "AuthResult, bool or None")
                return AuthResult(Decision.DENY, reason=f"plugin {plugin.name!r} failed")
            if result.decision is Decision.DENY:
                reason = result.reason or f"denied by plugin {plugin.name!r}"
                return AuthResult(Decision.DENY, result.reason_code, reason)
            if result.decision is Decision.ALLOW and allowed is None:
                allowed = AuthResult(
                    Decision.ALLOW, reason=result.reason or f"allowed by plugin {plugin.name!r}"
                )
        return allowed or AuthResult(Decision.NO_OPINION)

    async def _all_allow(self, hook: str, *args: object) -> bool:
        for plugin in self.plugins:
            if hook not in plugin.hooks:
                continue
            try:
                result = await self._call(plugin, hook, *args)
            except _HookFailed:
                return False
            if result is None or result is True:
                continue
            if result is not False:
                self._wrong_type(plugin, hook, result, "bool or None")
            return False
        return True

    async def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        """False if any plugin denies (or fails); the broker's ACL must allow as well."""
        return await self._all_allow("authorize_publish", client, message)

    async def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> bool:
        """False if any plugin denies the filter (or fails); the ACL must allow as well."""
        return await self._all_allow("authorize_subscribe", client, topic_filter, qos)

    async def on_message(
        self, client: ClientInfo, message: PluginMessage, *, reauthorize: Reauthorize | None = None
    ) -> PluginMessage | None:
        """Pipe *message* through every ``on_message``; None means drop it.

        Args:
            client: the publisher.
            message: the message as published (after authorization).
            reauthorize: called with the message whenever a plugin changed its topic; it
                must run the full publish check (ACL and ``authorize_publish``) for the new
                topic. Without it, a topic change drops the message.
        """
        for plugin in self.plugins:
            if "on_message" not in plugin.hooks:
                continue
            try:
                result = await self._call(plugin, "on_message", client, message)
            except _HookFailed:
                return None
            if result is None:
                log.debug("plugin %r dropped a message on %r", plugin.name, message.topic)
                return None
            if not isinstance(result, PluginMessage):
                self._wrong_type(plugin, "on_message", result, "PluginMessage or None")
                return None
            if result.topic != message.topic and (
                reauthorize is None or not await reauthorize(result)
            ):
                log.warning(
                    "plugin %r moved a message from %r to %r, which is not authorized; dropped",
                    plugin.name,
                    message.topic,
                    result.topic,
                )
                return None
            message = result
        return message

    async def close(self) -> None:
        """Call every plugin's ``close`` (errors are logged, not raised: shutdown goes on)."""
        for plugin in self.plugins:
            if "close" in plugin.hooks:
                try:
                    await self._call(plugin, "close")
                except _HookFailed:
                    pass
