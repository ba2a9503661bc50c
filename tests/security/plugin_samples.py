"""Small plugins for the plugin loader and chain tests, importable as ``plugin_samples:...``."""

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

CALLS: list[str] = []


class Fixed:
    """Answers every hook with the value given in options (``answer``); records calls."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.answer = options.get("answer")
        self.tag = options.get("tag", "fixed")

    def authenticate(self, connect: ConnectInfo) -> object:
        CALLS.append(f"{self.tag}.authenticate")
        return self.answer

    def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> object:
        CALLS.append(f"{self.tag}.authorize_publish")
        return self.answer

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> object:
        CALLS.append(f"{self.tag}.authorize_subscribe")
        return self.answer


class AsyncFixed(Fixed):
    """The same answers from async hooks (after yielding to the loop once)."""

    async def authenticate(self, connect: ConnectInfo) -> object:
        await asyncio.sleep(0)
        return super().authenticate(connect)

    async def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> object:
        await asyncio.sleep(0)
        return super().authorize_publish(client, message)

    async def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> object:
        await asyncio.sleep(0)
        return super().authorize_subscribe(client, topic_filter, qos)


class Broken:
    """Every hook raises (the chain must fail closed)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        pass

    def authenticate(self, connect: ConnectInfo) -> AuthResult:
        raise RuntimeError("boom")

    async def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        raise RuntimeError("async boom")

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> bool:
        raise KeyError("x")

    def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage:
        raise RuntimeError("boom")

    def close(self) -> None:
        raise RuntimeError("close boom")


class Hangs:
    """An async hook that never answers (the chain's timeout must deny)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        pass

    async def authenticate(self, connect: ConnectInfo) -> bool:
        await asyncio.Event().wait()
        return True


class Tagger:
    """on_message: appends a user property naming itself (sync or async by option)."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.tag = str(options["tag"])
        self.topic = options.get("move_to")

    async def on_message(self, client: ClientInfo, message: PluginMessage) -> PluginMessage:
        message = message.with_user_property("seen-by", self.tag)
        if self.topic:
            message = message.replace(topic=self.topic)
        return message


class Dropper:
    def __init__(self, options: Mapping[str, Any]) -> None:
        pass

    def on_message(self, client: ClientInfo, message: PluginMessage) -> None:
        return None


class Closing:
    closed = False

    def __init__(self, options: Mapping[str, Any]) -> None:
        pass

    def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        return True

    async def close(self) -> None:
        Closing.closed = True


def factory(options: Mapping[str, Any]) -> Fixed:
    """A factory function rather than a class."""
    return Fixed(options)


def refuses(options: Mapping[str, Any]) -> Fixed:
    raise ValueError("option 'x' is required")


class NoHooks:
    def __init__(self, options: Mapping[str, Any]) -> None:
        pass


NOT_CALLABLE = 42
DENY = AuthResult(Decision.DENY, 0x8A, "banned")
