"""Plugins the broker security tests load by import path (``broker_plugins:Name``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from mqttsec.reference_broker.security.plugin_api import (
    AuthResult,
    ClientInfo,
    ConnectInfo,
    Decision,
    PluginMessage,
)


class SlowTokens:
    """Async authentication: password ``token-ok`` allowed, anything else denied, after a delay."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.delay = float(options.get("delay", 0.1))

    async def authenticate(self, connect: ConnectInfo) -> AuthResult:
        await asyncio.sleep(self.delay)
        if connect.password == b"token-ok":
            return AuthResult(Decision.ALLOW)
        return AuthResult(Decision.DENY)


class Rewriter:
    """on_message: moves ``in/<rest>`` to ``<target>/<rest>`` (sync or async by option)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.target = str(options["target"])
        if options.get("async"):
            self.on_message = self._async_on_message  # type: ignore[method-assign]

    def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage:
        if message.topic.startswith("in/"):
            return message.replace(topic=f"{self.target}/{message.topic[3:]}")
        return message

    async def _async_on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage:
        await asyncio.sleep(0.01)
        return Rewriter.on_message(self, client, message)


class SlowGate:
    """Async authorize_publish/subscribe: anything with a ``deny`` level is refused."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.delay = float(options.get("delay", 0.01))

    async def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        await asyncio.sleep(self.delay)
        return "deny" not in message.topic.split("/")

    async def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> bool:
        await asyncio.sleep(self.delay)
        return "deny" not in topic_filter.split("/")


class Closable:
    """Records its ``close`` (in a file named by the ``marker`` option) so a test can see it."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.marker = str(options["marker"])

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> bool:
        return True

    def close(self) -> None:
        with open(self.marker, "a", encoding="utf-8") as out:
            out.write("closed\n")
