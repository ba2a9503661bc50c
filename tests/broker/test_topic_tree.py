"""Unit tests for the subscription tree: wildcards, the $ rule, overlaps, shared groups, cache."""

from __future__ import annotations

import pytest

from mqttsec.reference_broker.protocol.topics import topic_matches
from mqttsec.reference_broker.topic_tree import (
    SubscriptionEntry,
    TopicTree,
    is_valid_topic_name,
    parse_filter,
)


def subscribe(tree: TopicTree[str], who: str, text: str, qos: int = 0, **kw: object) -> bool:
    parsed = parse_filter(text)
    assert parsed is not None
    entry = SubscriptionEntry(who, parsed.topic_filter, qos, share_group=parsed.share_group, **kw)  # type: ignore[arg-type]
    return tree.subscribe(entry)


def who(tree: TopicTree[str], topic: str) -> set[str]:
    return {k for k, _ in tree.match(topic).targets}


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "/x", True),
        ("+", "/x", False),
        ("/+", "/x", True),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("$SYS/+", "$SYS/x", True),
        ("a/+/c", "a//c", True),
        ("a/b", "a/b/", False),
        ("sport/tennis/#", "sport/tennis", True),
    ],
)
def test_match_rules(topic_filter: str, topic: str, expected: bool) -> None:
    tree: TopicTree[str] = TopicTree()
    subscribe(tree, "c", topic_filter)
    assert (who(tree, topic) == {"c"}) is expected
    assert topic_matches(topic_filter, topic) is expected  # agrees with the codec's rule


def test_overlapping_subscriptions_are_grouped_per_subscriber() -> None:
    tree: TopicTree[str] = TopicTree()
    subscribe(tree, "c", "a/+", qos=0, identifier=1)
    subscribe(tree, "c", "a/#", qos=2, identifier=2)
    subscribe(tree, "d", "a/b", qos=1)
    result = dict(tree.match("a/b").targets)
    assert sorted(e.identifier or 0 for e in result["c"]) == [1, 2]
    assert [e.qos for e in result["d"]] == [1]


def test_resubscribe_replaces_and_reports_existing() -> None:
    tree: TopicTree[str] = TopicTree()
    assert subscribe(tree, "c", "a/b", qos=0) is False
    assert subscribe(tree, "c", "a/b", qos=2) is True
    assert len(tree) == 1
    [(_, entries)] = tree.match("a/b").targets
    assert entries[0].qos == 2


def test_unsubscribe_prunes_and_invalidates_cache() -> None:
    tree: TopicTree[str] = TopicTree()
    subscribe(tree, "c", "a/+/c")
    assert who(tree, "a/b/c") == {"c"}
    assert tree.unsubscribe("c", "a/+/c") is True
    assert who(tree, "a/b/c") == set()
    assert tree.unsubscribe("c", "a/+/c") is False
    assert tree._root.is_empty()
    assert len(tree) == 0


def test_cache_is_reused_until_change() -> None:
    tree: TopicTree[str] = TopicTree()
    subscribe(tree, "c", "a/#")
    first = tree.match("a/b")
    assert tree.match("a/b") is first
    subscribe(tree, "d", "a/b")
    assert tree.match("a/b") is not first
    assert who(tree, "a/b") == {"c", "d"}


def test_cache_is_bounded() -> None:
    tree: TopicTree[str] = TopicTree(cache_limit=10)
    subscribe(tree, "c", "#")
    for i in range(100):
        tree.match(f"t/{i}")
    assert len(tree._cache) <= 10


def test_shared_group_round_robin_and_availability() -> None:
    tree: TopicTree[str] = TopicTree()
    for member in ("x", "y", "z"):
        subscribe(tree, member, "$share/g/a/+")
    subscribe(tree, "w", "$share/other/a/b")
    result = tree.match("a/b")
    assert result.targets == ()
    groups = {g.name: g for g in result.groups}
    picks = [groups["g"].pick().subscriber for _ in range(6)]  # type: ignore[union-attr]
    assert picks == ["x", "y", "z", "x", "y", "z"]
    online = {"z"}
    assert {groups["g"].pick(online.__contains__).subscriber for _ in range(4)} == {"z"}  # type: ignore[union-attr]
    assert groups["other"].pick().subscriber == "w"  # type: ignore[union-attr]
    assert tree.unsubscribe("w", "a/b", "other")
    assert [g.name for g in tree.match("a/b").groups] == ["g"]


def test_shared_and_plain_subscription_of_one_client_coexist() -> None:
    tree: TopicTree[str] = TopicTree()
    subscribe(tree, "c", "a/b")
    subscribe(tree, "c", "$share/g/a/b")
    assert len(tree) == 2
    result = tree.match("a/b")
    assert [k for k, _ in result.targets] == ["c"]
    assert len(result.groups) == 1
    assert len(list(tree.entries())) == 2


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a/#/b",
        "a#",
        "a/b+",
        "+a",
        "$share/",
        "$share/g",
        "$share//a",
        "$share/g+/a",
        "$share/g/",
    ],
)
def test_invalid_filters(text: str) -> None:
    assert parse_filter(text) is None


def test_valid_filters() -> None:
    assert parse_filter("$share/g/a/#") == parse_filter("$share/g/a/#")
    parsed = parse_filter("$share/g/a/#")
    assert parsed is not None and parsed.share_group == "g" and parsed.topic_filter == "a/#"
    assert parsed.has_wildcard
    plain = parse_filter("a/b")
    assert plain is not None and not plain.has_wildcard and plain.share_group is None


def test_topic_names() -> None:
    assert is_valid_topic_name("a/b")
    assert not is_valid_topic_name("")
    assert not is_valid_topic_name("a/+")
