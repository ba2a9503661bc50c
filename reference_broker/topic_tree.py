"""The subscription tree: which subscribers a topic name reaches, fast.

Filters are stored level by level in a trie with ``+`` and ``#`` as ordinary children, so a
match walks only the branches that can match. Match results are cached per topic name and the
cache is dropped on every subscribe or unsubscribe, which makes the steady-state publish path
one dictionary lookup. Rules enforced here:

* ``+`` matches one level, ``#`` the parent level and everything below [MQTT-4.7.1-2];
* a topic starting with ``$`` is not matched by a filter starting with a wildcard
  [MQTT-4.7.2-1];
* ``$share/{group}/{filter}`` subscriptions form a group that receives each message once,
  handed to the members round-robin (MQTT 5.0 section 4.8.2).

The tree is generic in the subscriber key (any hashable, e.g. a Session object).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "MatchResult",
    "ParsedFilter",
    "SharedGroup",
    "SubscriptionEntry",
    "TopicTree",
    "is_valid_topic_name",
    "parse_filter",
]

K = TypeVar("K", bound=Hashable)

_SHARE_PREFIX = "$share/"
_CACHE_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class ParsedFilter:
    """A topic filter split into its share group (None when not shared) and the filter proper."""

    share_group: str | None
    topic_filter: str
    has_wildcard: bool


def parse_filter(text: str) -> ParsedFilter | None:
    """Check a topic filter's wildcard rules and split off ``$share/{group}/``.

    Returns:
        The parsed filter, or None when the filter is invalid: empty, ``#`` not alone in the
        last level [MQTT-4.7.1-2], ``+`` not alone in its level [MQTT-4.7.1-3], a share name
        empty or holding ``+``, ``#`` or ``/``, or a shared filter without a filter part.
    """
    group: str | None = None
    if text.startswith(_SHARE_PREFIX):
        rest = text[len(_SHARE_PREFIX) :]
        group, sep, text = rest.partition("/")
        if not sep or not group or "+" in group or "#" in group or not text:
            return None
    if not text:
        return None
    levels = text.split("/")
    last = len(levels) - 1
    wildcard = False
    for i, level in enumerate(levels):
        if "#" in level:
            if level != "#" or i != last:
                return None
            wildcard = True
        elif "+" in level:
            if level != "+":
                return None
            wildcard = True
    return ParsedFilter(group, text, wildcard)


def is_valid_topic_name(topic: str) -> bool:
    """A topic name is non-empty and holds no wildcard characters [MQTT-3.3.2-2]."""
    return bool(topic) and "+" not in topic and "#" not in topic


@dataclass(slots=True)
class SubscriptionEntry(Generic[K]):
    """One subscription of one subscriber, with its MQTT 5.0 options."""

    subscriber: K
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    identifier: int | None = None
    share_group: str | None = None


@dataclass(slots=True)
class SharedGroup(Generic[K]):
    """The members of one ``$share/{name}/{filter}``; each message goes to one of them."""

    name: str
    topic_filter: str
    members: dict[K, SubscriptionEntry[K]] = field(default_factory=dict)
    _next: int = 0

    def pick(self, available: Callable[[K], bool] | None = None) -> SubscriptionEntry[K] | None:
        """The next member round-robin, preferring those for which ``available`` is true."""
        entries = list(self.members.values())
        count = len(entries)
        if not count:
            return None
        start = self._next % count
        if available is not None:
            for offset in range(count):
                entry = entries[(start + offset) % count]
                if available(entry.subscriber):
                    self._next = start + offset + 1
                    return entry
        self._next = start + 1
        return entries[start]


@dataclass(frozen=True, slots=True)
class MatchResult(Generic[K]):
    """Who a topic name reaches: ordinary subscriptions grouped per subscriber, and groups.

    ``targets`` holds each subscriber once with every one of its matching subscriptions, so
    overlapping subscriptions yield a single delivery [MQTT-3.3.5-1].
    """

    targets: tuple[tuple[K, tuple[SubscriptionEntry[K], ...]], ...]
    groups: tuple[SharedGroup[K], ...]

    def __bool__(self) -> bool:
        return bool(self.targets) or bool(self.groups)


class _Node(Generic[K]):
    __slots__ = ("children", "groups", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K]] = {}
        self.subs: dict[K, SubscriptionEntry[K]] = {}
        self.groups: dict[str, SharedGroup[K]] = {}

    def is_empty(self) -> bool:
        return not (self.children or self.subs or self.groups)


class TopicTree(Generic[K]):
    """Subscriptions by filter, with cached topic-name matching."""

    def __init__(self, cache_limit: int = _CACHE_LIMIT) -> None:
        self._root: _Node[K] = _Node()
        self._cache: dict[str, MatchResult[K]] = {}
        self._cache_limit = cache_limit
        self._count = 0

    def __len__(self) -> int:
        """The number of subscriptions (shared members included)."""
        return self._count

    def subscribe(self, entry: SubscriptionEntry[K]) -> bool:
        """Add or replace the subscriber's subscription to ``entry.topic_filter``.

        ``entry.topic_filter`` is the filter proper (without ``$share/...``); a shared entry
        names its group in ``entry.share_group``.

        Returns:
            True when the subscription already existed and was replaced [MQTT-3.8.4-3].
        """
        node = self._root
        for level in entry.topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        self._cache.clear()
        if entry.share_group is None:
            existed = entry.subscriber in node.subs
            node.subs[entry.subscriber] = entry
        else:
            group = node.groups.get(entry.share_group)
            if group is None:
                group = node.groups[entry.share_group] = SharedGroup(
                    entry.share_group, entry.topic_filter
                )
            existed = entry.subscriber in group.members
            group.members[entry.subscriber] = entry
        if not existed:
            self._count += 1
        return existed

    def unsubscribe(self, subscriber: K, topic_filter: str, share_group: str | None = None) -> bool:
        """Remove one subscription; True when it existed."""
        path: list[tuple[_Node[K], str]] = []
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                return False
            path.append((node, level))
            node = child
        if share_group is None:
            if node.subs.pop(subscriber, None) is None:
                return False
        else:
            group = node.groups.get(share_group)
            if group is None or group.members.pop(subscriber, None) is None:
                return False
            if not group.members:
                del node.groups[share_group]
        self._count -= 1
        self._cache.clear()
        for parent, level in reversed(path):
            if not parent.children[level].is_empty():
                break
            del parent.children[level]
        return True

    def match(self, topic: str) -> MatchResult[K]:
        """Every subscription matching a topic name; cached until the tree changes."""
        result = self._cache.get(topic)
        if result is not None:
            return result
        found: list[SubscriptionEntry[K]] = []
        groups: list[SharedGroup[K]] = []
        levels = topic.split("/")
        self._walk(self._root, levels, 0, found, groups, topic.startswith("$"))
        per: dict[K, list[SubscriptionEntry[K]]] = {}
        for entry in found:
            per.setdefault(entry.subscriber, []).append(entry)
        result = MatchResult(tuple((k, tuple(v)) for k, v in per.items()), tuple(groups))
        if len(self._cache) >= self._cache_limit:
            self._cache.clear()
        self._cache[topic] = result
        return result

    def _walk(
        self,
        node: _Node[K],
        levels: list[str],
        index: int,
        found: list[SubscriptionEntry[K]],
        groups: list[SharedGroup[K]],
        dollar: bool,
    ) -> None:
        children = node.children
        wild_ok = not (dollar and index == 0)
        if wild_ok:
            hash_node = children.get("#")
            if hash_node is not None:
                found.extend(hash_node.subs.values())
                groups.extend(hash_node.groups.values())
        if index == len(levels):
            found.extend(node.subs.values())
            groups.extend(node.groups.values())
            return
        if wild_ok:
            plus_node = children.get("+")
            if plus_node is not None:
                self._walk(plus_node, levels, index + 1, found, groups, dollar)
        exact = children.get(levels[index])
        if exact is not None:
            self._walk(exact, levels, index + 1, found, groups, dollar)

    def entries(self) -> Iterator[SubscriptionEntry[K]]:
        """Every subscription in the tree (for inspection and tests)."""
        stack = [self._root]
        while stack:
            node = stack.pop()
            yield from node.subs.values()
            for group in node.groups.values():
                yield from group.members.values()
            stack.extend(node.children.values())
