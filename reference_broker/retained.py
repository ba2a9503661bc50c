"""Retained messages: at most one per topic name, found by topic filter.

Stored in a trie keyed by topic level so a wildcard subscription walks only the branches it
can match, not every retained topic. A retained message with an empty payload deletes the
topic's message and is not stored [MQTT-3.3.1-10/11]. Messages past their Message Expiry
Interval are dropped lazily when looked up, using the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator

from .message import Message
from .timers import Clock, monotonic

__all__ = ["RetainedStore"]


class _Node:
    __slots__ = ("children", "message")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.message: Message | None = None


class RetainedStore:
    """The broker's retained messages.

    Args:
        clock: monotonic seconds, used to drop expired messages.
        max_messages: upper bound on stored topics; a new topic beyond it is not stored
            (an existing one is still replaced), so retained data cannot grow without bound.
    """

    def __init__(self, clock: Clock = monotonic, max_messages: int = 1_000_000) -> None:
        self._root = _Node()
        self._clock = clock
        self._count = 0
        self._max = max_messages

    def __len__(self) -> int:
        return self._count

    def update(self, message: Message) -> bool:
        """Store ``message`` as its topic's retained message, or delete it if its payload is empty.

        Returns:
            False when a new topic was refused because the store is full.
        """
        levels = message.topic.split("/")
        if not message.payload:
            self._delete(levels)
            return True
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                if self._count >= self._max:
                    return False
                child = node.children[level] = _Node()
            node = child
        if node.message is None:
            if self._count >= self._max:
                return False
            self._count += 1
        node.message = message
        return True

    def get(self, topic: str) -> Message | None:
        """The retained message for one topic name, if any and not expired."""
        node: _Node | None = self._root
        for level in topic.split("/"):
            assert node is not None
            node = node.children.get(level)
            if node is None:
                return None
        message = node.message if node is not None else None
        if message is not None and message.is_expired(self._clock()):
            self._delete(topic.split("/"))
            return None
        return message

    def _delete(self, levels: list[str]) -> None:
        path: list[tuple[_Node, str]] = []
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                return
            path.append((node, level))
            node = child
        if node.message is None:
            return
        node.message = None
        self._count -= 1
        for parent, level in reversed(path):
            child = parent.children[level]
            if child.children or child.message is not None:
                break
            del parent.children[level]

    def match(self, topic_filter: str) -> list[Message]:
        """Every unexpired retained message whose topic matches a (valid) topic filter.

        A leading wildcard does not match topics that start with ``$`` [MQTT-4.7.2-1].
        """
        now = self._clock()
        found: list[Message] = []
        expired: list[Message] = []
        self._walk(self._root, topic_filter.split("/"), 0, found)
        live: list[Message] = []
        for message in found:
            (expired if message.is_expired(now) else live).append(message)
        for message in expired:
            self._delete(message.topic.split("/"))
        return live

    def _walk(self, node: _Node, levels: list[str], index: int, found: list[Message]) -> None:
        if index == len(levels):
            if node.message is not None:
                found.append(node.message)
            return
        level = levels[index]
        if level == "#":
            if node.message is not None and index > 0:
                found.append(node.message)  # "a/#" matches "a" itself
            for name, child in node.children.items():
                if index == 0 and name.startswith("$"):
                    continue
                found.extend(_all_below(child))
            return
        if level == "+":
            for name, child in node.children.items():
                if index == 0 and name.startswith("$"):
                    continue
                self._walk(child, levels, index + 1, found)
            return
        exact = node.children.get(level)
        if exact is not None:
            self._walk(exact, levels, index + 1, found)

    def __iter__(self) -> Iterator[Message]:
        yield from _all_below(self._root)


def _all_below(node: _Node) -> Iterator[Message]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.message is not None:
            yield current.message
        stack.extend(current.children.values())
