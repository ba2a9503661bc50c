"""Unit and property tests of the mosquitto-compatible ACL engine (no broker needed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mqttsec.reference_broker.security._filter_coverage import filter_matches
from mqttsec.reference_broker.security.acl import Access, AclFile, AclRule, Grant
from mqttsec.reference_broker.security.errors import AclFileError, SecurityConfigWarning

R, W, S = Access.READ, Access.WRITE, Access.SUBSCRIBE

ACL = """\
# anonymous clients
topic read public/#
topic write anon/in

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic read $SYS/#
topic   write   spaced topic/x

user bob
topic bob/+/data
topic write shared/#

user alice
topic read merged/#

pattern readwrite home/%u/#
pattern read devices/%c/#
pattern deny home/%u/locked
pattern write out/%c/%u
"""


@pytest.fixture(scope="module")
def acl() -> AclFile:
    return AclFile.parse(ACL, source="acl.conf")


@pytest.mark.parametrize(
    "username, client_id, topic, access, allowed",
    [
        # anonymous rules: only before the first `user` line, only for clients without username
        (None, "c", "public/news", R, True),
        (None, "c", "public", R, True),  # a/# matches the parent a
        (None, "c", "public/news", W, False),
        (None, "c", "anon/in", W, True),
        (None, "c", "anon/in", R, False),
        ("carol", "c", "public/news", R, False),  # a named user does not get anonymous rules
        # user rules, deny first wherever written, merged blocks
        ("alice", "c", "alice/x/y", W, True),
        ("alice", "c", "alice/secret", R, False),
        ("alice", "c", "alice/secret/deep", W, False),
        ("alice", "c", "merged/a", R, True),
        ("alice", "c", "spaced topic/x", W, True),
        ("alice", "c", "bob/1/data", R, False),
        ("bob", "c", "bob/1/data", R, True),  # no access word: readwrite
        ("bob", "c", "bob/1/data", W, True),
        ("bob", "c", "bob/1/2/data", R, False),
        ("bob", "c", "shared/x", R, False),
        # $ topics: only rules starting with $ match; publishing to $SYS / $share never allowed
        ("alice", "c", "$SYS/broker/uptime", R, True),
        ("alice", "c", "$SYS/broker/uptime", W, False),
        ("bob", "c", "$SYS/broker/uptime", R, False),
        ("alice", "c", "$share/g/alice/x", W, False),
        # patterns: %u, %c, pattern denies come first, %u patterns skip anonymous clients
        ("bob", "c", "home/bob/kitchen", W, True),
        ("bob", "c", "home/bob/locked", R, False),
        ("bob", "c", "home/alice/kitchen", R, False),
        ("alice", "c", "home/alice/locked", R, False),
        ("alice", "dev1", "devices/dev1/temp", R, True),
        ("alice", "dev1", "devices/dev2/temp", R, False),
        ("alice", "dev1", "out/dev1/alice", W, True),
        (None, "dev1", "devices/dev1/temp", R, True),
        (None, "dev1", "out/dev1/%u", W, False),
        # invalid topics are never allowed
        ("alice", "c", "alice/+", R, False),
        ("alice", "c", "", W, False),
        ("alice", "c", "alice/\x00", W, False),
    ],
)
def test_check(
    acl: AclFile, username: str | None, client_id: str, topic: str, access: Access, allowed: bool
) -> None:
    assert acl.check(username, client_id, topic, access) is allowed


@pytest.mark.parametrize(
    "username, client_id, topic",
    [
        ("#", "c", "home/#/x"),  # CVE-2017-7650: '#' username
        ("+", "c", "home/+/x"),
        ("bob/x", "c", "home/bob/x/y"),  # mosquitto 2.0 allows '/': reaches bob's subtree
        ("bob", "+", "devices/+/x"),
        ("bob", "a/b", "devices/a/b/x"),
        ("bob", "$SYS", "$SYS/broker/uptime"),  # leading '$' from a substitution
    ],
)
def test_dangerous_names_get_nothing_from_patterns(
    acl: AclFile, username: str, client_id: str, topic: str
) -> None:
    assert not acl.check(username, client_id, topic, R)
    assert not acl.check(username, client_id, topic, W)


def test_substitution_is_one_pass() -> None:
    acl = AclFile.parse("pattern read x/%c/y\n")
    assert acl.check("u", "%u", "x/%u/y", R)
    assert not acl.check("u", "%u", "x/u/y", R)


def test_empty_file_denies_everything() -> None:
    acl = AclFile.parse("# nothing\n\n")
    for topic in ("a", "$SYS/x", "#"):
        assert not acl.check(None, "c", topic, R)
        assert not acl.check("u", "c", topic, W)
    assert not acl.may_subscribe("u", "c", "a")


def test_subscribe_mosquitto_semantics_vs_strict(acl: AclFile) -> None:
    """mosquitto 2.0's acl_file grants every SUBSCRIBE; may_subscribe refuses leaking filters."""
    assert acl.check("bob", "c", "#", S)  # mosquitto: granted, messages dropped at delivery
    assert not acl.check("bob", "c", "a/#/b", S)
    assert not acl.may_subscribe("bob", "c", "#")
    verdict = acl.judge_subscribe("alice", "c", "alice/#")
    assert not verdict.allowed and verdict.example == "alice/secret"
    assert acl.may_subscribe("alice", "c", "alice/public/#")
    assert acl.may_subscribe("alice", "c", "$SYS/#")
    assert not acl.may_subscribe("alice", "c", "#")
    assert acl.may_subscribe("bob", "c", "bob/+/data")
    assert acl.may_subscribe("bob", "c", "home/bob/kitchen/#")
    assert acl.judge_subscribe("bob", "c", "home/bob/+").example == "home/bob/locked"
    assert acl.may_subscribe("alice", "c", "$share/grp/alice/public/#")
    assert not acl.may_subscribe("alice", "c", "$share/grp/alice/#")
    assert not acl.may_subscribe("alice", "c", "$share/grp")
    assert not acl.may_subscribe("alice", "c", "alice/#/x")


def test_may_subscribe_needs_union_of_rules() -> None:
    """Coverage by several rules together (no single rule covers the filter)."""
    acl = AclFile.parse("topic read a\ntopic read a/+/#\ntopic read a/b\n")
    assert acl.may_subscribe(None, "c", "a/#")
    acl2 = AclFile.parse("topic read a/+/#\n")
    assert acl2.judge_subscribe(None, "c", "a/#").example == "a"


def test_user_grant_beats_pattern_deny() -> None:
    acl = AclFile.parse("user u\ntopic read x/u\npattern deny x/%u\n")
    assert acl.check("u", "c", "x/u", R)


def test_write_only_rule_does_not_stop_the_walk() -> None:
    acl = AclFile.parse("user u\ntopic write a/#\ntopic read a/b\n")
    assert acl.check("u", "c", "a/b", R)
    assert not acl.check("u", "c", "a/c", R)


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("topic\n", 1, "without a topic"),
        ("\nuser\n", 2, "without a name"),
        ("topic read\n", 1, "has no topic"),  # mosquitto: readwrite on topic "read"
        ("topic reed a/b\n", 1, "invalid access type"),
        ("topic read a/#/b\n", 1, "invalid topic filter"),
        ("topic read a/b+\n", 1, "invalid topic filter"),
        ("pattern read +x\n", 1, "invalid topic filter"),
        ("usr bob\n", 1, "unknown keyword"),
        ("  # indented comment\n", 1, "unknown keyword"),  # mosquitto refuses it too
        ("topic\tread\ta\n", 1, "unknown keyword"),  # tabs do not separate words
    ],
)
def test_bad_lines(text: str, line: int, fragment: str) -> None:
    with pytest.raises(AclFileError) as info:
        AclFile.parse(text, source="acl.conf")
    assert info.value.line == line and info.value.path == "acl.conf"
    assert fragment in info.value.problem and info.value.fix


def test_warnings_for_surprising_lines() -> None:
    with pytest.warns(SecurityConfigWarning, match="every client"):
        AclFile.parse("pattern read everyone/#\n")
    with pytest.warns(SecurityConfigWarning, match="literally"):
        AclFile.parse("topic read a/%u\n")


def test_load_errors_and_rules(tmp_path: Path) -> None:
    with pytest.raises(AclFileError, match="cannot read"):
        AclFile.load(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_bytes(b"topic read a\ntopic read \xff\n")
    with pytest.raises(AclFileError) as info:
        AclFile.load(bad)
    assert info.value.line == 2
    good = tmp_path / "good"
    good.write_text("topic a\nuser u\ntopic deny b\r\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        acl = AclFile.load(good)
    assert acl.rules == (
        AclRule("a", Grant.READWRITE, False, None, 1),
        AclRule("b", Grant.DENY, False, "u", 3),
    )


# ---------------------------------------------------------------- properties

LEVEL = st.sampled_from(["a", "b", "", "$x", "c d", "é"])
TOPIC = st.lists(LEVEL, min_size=1, max_size=4).map("/".join).filter(bool)


@st.composite
def topic_filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.one_of(LEVEL, st.just("+")), min_size=1, max_size=4))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels) or "+"


@functools.cache
def _libmosquitto() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("mosquitto")
    return ctypes.CDLL(name) if name else None


@pytest.mark.mosquitto
@settings(max_examples=400, deadline=None)
@given(topic_filter=topic_filters(), topic=TOPIC)
def test_matching_agrees_with_libmosquitto(topic_filter: str, topic: str) -> None:
    """Our matcher vs libmosquitto's mosquitto_topic_matches_sub, the one acl_file uses."""
    lib = _libmosquitto()
    assert lib is not None, "libmosquitto not found (apt-get install libmosquitto1)"
    result = ctypes.c_bool(False)
    rc = lib.mosquitto_topic_matches_sub(
        topic_filter.encode(), topic.encode(), ctypes.byref(result)
    )
    assert rc == 0
    assert filter_matches(topic_filter.split("/"), topic.split("/")) is result.value


WIDE_PATTERNS = AclFile.parse(
    "pattern readwrite %u/#\npattern readwrite x/%u\npattern readwrite %c\n"
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(alphabet="ab+#/$", min_size=1, max_size=5),
    topic=TOPIC,
    access=st.sampled_from([R, W]),
)
def test_dangerous_username_never_widens(name: str, topic: str, access: Access) -> None:
    """A username containing + # / grants at most what the literal topic rules grant."""
    assume(any(c in name for c in "+#/"))
    assert not WIDE_PATTERNS.check(name, "cid", topic, access)
    assert not WIDE_PATTERNS.check("user", name, topic, access)


ACL_TEXTS = st.lists(
    st.tuples(
        st.sampled_from(["topic", "pattern"]),
        st.sampled_from(["read", "write", "readwrite", "deny"]),
        topic_filters(),
    ),
    max_size=5,
).map(lambda rules: "user u\n" + "".join(f"{k} {g} {t}\n" for k, g, t in rules))


@settings(max_examples=200, deadline=None)
@given(text=ACL_TEXTS, topic_filter=topic_filters(), topics=st.lists(TOPIC, max_size=8))
def test_may_subscribe_is_exact(text: str, topic_filter: str, topics: list[str]) -> None:
    """Allowed: every matching topic is readable. Refused: the example is matched and unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acl = AclFile.parse(text)
    verdict = acl.judge_subscribe("u", "cid", topic_filter)
    levels = topic_filter.split("/")
    if verdict.allowed:
        for topic in topics:
            if filter_matches(levels, topic.split("/")):
                assert acl.check("u", "cid", topic, R), (topic, text)
    else:
        assert verdict.example is not None
        assert filter_matches(levels, verdict.example.split("/"))
        assert not acl.check("u", "cid", verdict.example, R)


def test_coverage_search_gives_up_closed() -> None:
    """Past the work bound the search answers GAVE_UP, which may_subscribe treats as refused."""
    from mqttsec.reference_broker.security._filter_coverage import Coverage, find_uncovered_topic

    rules = [["a", "#"]]
    assert find_uncovered_topic(["a", "#"], rules, bool).coverage is Coverage.PROVEN
    assert find_uncovered_topic(["a", "#"], rules, bool, max_states=1).coverage is Coverage.GAVE_UP


def test_filter_under_empty_first_level_is_judged() -> None:
    """``/#`` matches ``/a``: an empty first level is no topic, but what follows it is."""
    acl = AclFile.parse("user u\ntopic read /b\n")
    verdict = acl.judge_subscribe("u", "cid", "/#")
    assert not verdict.allowed
    assert verdict.example is not None and verdict.example.startswith("/")
