"""Mosquitto-compatible ACL files (``acl_file``): parsing, checks, and subscription judgement.

Syntax and matching follow mosquitto 2.0 (``src/security_default.c``):

- ``topic [read|write|readwrite|deny] <filter>`` lines before the first ``user`` line apply to
  anonymous clients (no username); after ``user <name>`` to that user (blocks with the same
  name merge). No access word means ``readwrite``. Comments start with ``#`` in column 0.
- ``pattern [read|write|readwrite|deny] <filter>`` applies to every client, wherever it
  stands, with ``%u`` (username) and ``%c`` (client id) substituted in one pass; a pattern
  with ``%u`` never applies to a client without a username.
- A check walks the client's ``topic`` rules, then the patterns; in each, ``deny`` rules come
  first. The first rule that matches and is ``deny`` refuses; the first that matches and
  grants the access allows; nothing matching refuses. An empty file refuses everything
  (CVE-2018-12550 class).
- ``$`` topics are matched only by rules starting with ``$``; publishing to ``$SYS/...`` or
  ``$share/...`` is always refused.

Deliberate differences, all narrower than mosquitto:

- A username or client id containing ``+``, ``#``, ``/`` or NUL gets no access from
  patterns (mosquitto 2.0 refuses ``+``/``#`` only; with ``/`` user ``alice/x`` reaches
  ``home/alice/x`` through ``pattern readwrite home/%u/#``, CVE-2017-7650 class). A pattern
  whose substitution creates a leading ``$`` (client id ``$SYS`` in ``%c/#``) does not apply.
- ``$SYS/broker/connection/+/state``, which mosquitto lets bridges publish, is refused too.
- Lines mosquitto accepts with a surprising meaning are refused: ``topic read`` (mosquitto:
  readwrite on a topic named "read").

Subscriptions. Mosquitto 2.0's acl_file grants every SUBSCRIBE (``MOSQ_ACL_SUBSCRIBE`` returns
success, "FIXME - implement ACL subscription strings") and drops each message at delivery
when the subscriber may not read its topic. :meth:`AclFile.check` with
:attr:`Access.SUBSCRIBE` reproduces that answer, for comparison with mosquitto only. The
broker uses :meth:`AclFile.may_subscribe`, which allows a filter only when *every* topic it can
match is readable, and answers SUBACK 0x80/0x87 otherwise; READ is still checked at delivery.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from ._filter_coverage import Coverage, filter_matches, find_uncovered_topic
from .errors import AclFileError, SecurityConfigWarning

__all__ = ["Access", "AclFile", "AclRule", "Grant", "SubscribeVerdict"]

_UNSAFE_NAME_CHARS = frozenset("+#/\x00")
_MAX_TOPIC_BYTES = 65535
_MAX_LEVELS = 200  # mosquitto's TOPIC_HIERARCHY_LIMIT
_SHARE_PREFIX = "$share/"
_CACHE_LIMIT = 4096


class Access(Enum):
    """What a client wants to do; values are mosquitto's ``MOSQ_ACL_*`` bits."""

    READ = 1
    WRITE = 2
    SUBSCRIBE = 4


class Grant(Enum):
    """The access word of a rule."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"
    DENY = "deny"

    def allows(self, access: Access) -> bool:
        """Whether this grant permits READ or WRITE (DENY permits nothing)."""
        if access is Access.READ:
            return self in (Grant.READ, Grant.READWRITE)
        if access is Access.WRITE:
            return self in (Grant.WRITE, Grant.READWRITE)
        return False


@dataclass(frozen=True, slots=True)
class AclRule:
    """One ``topic`` or ``pattern`` line.

    Attributes:
        topic: the filter as written (patterns still contain ``%u``/``%c``).
        grant: the access word.
        pattern: True for ``pattern`` lines.
        username: the ``user`` block a ``topic`` line is in; None for anonymous and patterns.
        line: 1-based line number in the source file (0 for rules built in code).
    """

    topic: str
    grant: Grant
    pattern: bool = False
    username: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class SubscribeVerdict:
    """The answer of :meth:`AclFile.judge_subscribe`.

    Attributes:
        allowed: every topic the filter can match is readable.
        example: when refused, one topic the filter matches that the client may not read.
        reason: a sentence for logs.
    """

    allowed: bool
    example: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    levels: tuple[str, ...]
    grant: Grant
    stage: int  # 0: the client's topic rules, 1: patterns


def valid_filter(text: str) -> bool:
    """Mosquitto's ``mosquitto_sub_topic_check`` plus: non-empty, no NUL."""
    if not text or "\x00" in text or len(text.encode("utf-8", "surrogatepass")) > _MAX_TOPIC_BYTES:
        return False
    levels = text.split("/")
    if len(levels) - 1 > _MAX_LEVELS:
        return False
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or (
            "#" in level and (level != "#" or i != len(levels) - 1)
        ):
            return False
    return True


def valid_topic(text: str) -> bool:
    """A topic name a client may publish to: a valid filter without wildcards."""
    return valid_filter(text) and "+" not in text and "#" not in text


def _expand(pattern: str, username: str | None, client_id: str) -> str:
    """Substitute ``%c`` and ``%u`` in one left-to-right pass (never inside a substitution)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        pair = pattern[i : i + 2]
        if pair == "%c":
            out.append(client_id)
            i += 2
        elif pair == "%u" and username is not None:
            out.append(username)
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


class AclFile:
    """A parsed ACL; immutable, safe to share between connections and threads."""

    def __init__(self, rules: Iterable[AclRule], source: str = "<rules>") -> None:
        self.source = source
        self.rules: tuple[AclRule, ...] = tuple(rules)
        users: dict[str | None, list[AclRule]] = {}
        for rule in self.rules:
            if not rule.pattern:
                users.setdefault(rule.username, []).append(rule)
        self._users = {name: _deny_first(rules) for name, rules in users.items()}
        self._patterns = _deny_first(r for r in self.rules if r.pattern)
        self._cache: dict[tuple[str | None, str], tuple[_Compiled, ...]] = {}

    # ------------------------------------------------------------------ loading

    @classmethod
    def parse(cls, text: str, source: str = "<string>") -> AclFile:
        """Parse ACL text; *source* names the file in errors.

        Raises:
            AclFileError: a line is malformed (file, line and fix in the message).

        Warns:
            SecurityConfigWarning: a ``pattern`` without ``%u``/``%c`` (it applies to every
                client) or a ``topic`` line containing ``%u``/``%c`` (matched literally).
        """
        rules: list[AclRule] = []
        user: str | None = None
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            keyword, _, rest = line.lstrip(" ").partition(" ")
            rest = rest.strip(" ")
            if keyword == "user":
                if not rest.strip():
                    raise AclFileError(
                        source, lineno, "`user` without a name", "write `user <username>`"
                    )
                user = rest.strip()
                continue
            if keyword not in ("topic", "pattern"):
                raise AclFileError(
                    source,
                    lineno,
                    f"unknown keyword {keyword[:40]!r}",
                    "lines start with `user`, `topic` or `pattern`; comments with `#` in column 1",
                )
            rules.append(_parse_rule(keyword, rest, user, source, lineno))
        return cls(rules, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AclFile:
        """Read and parse an ACL file (UTF-8).

        Raises:
            AclFileError: unreadable, not UTF-8, or malformed.
        """
        name = os.fspath(path)
        try:
            with open(name, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise AclFileError(
                name,
                None,
                f"cannot read the ACL file ({exc.strerror})",
                "check the path and that the broker's user may read it",
            ) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AclFileError(
                name,
                data[: exc.start].count(b"\n") + 1,
                "the line is not valid UTF-8",
                "topics and usernames are UTF-8 strings in MQTT; re-save the file as UTF-8",
            ) from None
        return cls.parse(text, source=name)

    # ------------------------------------------------------------------ checks

    def check(self, username: str | None, client_id: str, topic: str, access: Access) -> bool:
        """Whether the client may READ (receive) or WRITE (publish) *topic*.

        For :attr:`Access.SUBSCRIBE`, mosquitto 2.0's answer: True for any valid filter (its
        acl_file does not judge subscriptions). Use :meth:`may_subscribe` to decide SUBACKs.
        """
        if access is Access.SUBSCRIBE:
            return valid_filter(topic)
        if not valid_topic(topic):
            return False
        if access is Access.WRITE and topic.startswith(
            ("$SYS", "$share")
        ):  # prefixes, as mosquitto
            return False
        levels = tuple(topic.split("/"))
        compiled = self._compile(username, client_id)
        matched = frozenset(i for i, r in enumerate(compiled) if filter_matches(r.levels, levels))
        return _decide(compiled, matched, access)

    def may_subscribe(self, username: str | None, client_id: str, topic_filter: str) -> bool:
        """Whether every topic *topic_filter* can match is readable (fail closed)."""
        return self.judge_subscribe(username, client_id, topic_filter).allowed

    def judge_subscribe(
        self, username: str | None, client_id: str, topic_filter: str
    ) -> SubscribeVerdict:
        """Judge a subscription exactly: refused when any topic it matches is unreadable.

        ``$share/<group>/<filter>`` is judged by its inner filter. An invalid filter is
        refused. If the proof needs more than a bounded amount of work, refused.
        """
        inner = topic_filter
        if topic_filter.startswith(_SHARE_PREFIX):
            group, sep, inner = topic_filter[len(_SHARE_PREFIX) :].partition("/")
            if not group or not sep or "+" in group or "#" in group:
                return SubscribeVerdict(
                    False, None, f"malformed shared subscription {topic_filter!r}"
                )
        if not valid_filter(inner):
            return SubscribeVerdict(False, None, f"invalid topic filter {topic_filter!r}")
        compiled = self._compile(username, client_id)
        result = find_uncovered_topic(
            inner.split("/"),
            [r.levels for r in compiled],
            lambda matched: _decide(compiled, matched, Access.READ),
        )
        if result.coverage is Coverage.PROVEN:
            return SubscribeVerdict(True, None, "every matching topic is readable")
        if result.coverage is Coverage.GAVE_UP:
            return SubscribeVerdict(False, None, "the ACL is too complex to prove the filter safe")
        return SubscribeVerdict(
            False, result.example, f"the filter matches {result.example!r}, which may not be read"
        )

    # ------------------------------------------------------------------ internals

    def _compile(self, username: str | None, client_id: str) -> tuple[_Compiled, ...]:
        """The client's rules in check order, patterns expanded; cached per identity."""
        key = (username, client_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        out = [
            _Compiled(tuple(r.topic.split("/")), r.grant, 0) for r in self._users.get(username, ())
        ]
        unsafe = bool(_UNSAFE_NAME_CHARS.intersection(client_id)) or (
            username is not None and bool(_UNSAFE_NAME_CHARS.intersection(username))
        )
        if not unsafe:
            for rule in self._patterns:
                if "%u" in rule.topic and username is None:
                    continue
                expanded = _expand(rule.topic, username, client_id)
                if expanded.startswith("$") and not rule.topic.startswith("$"):
                    continue  # a name starting with '$' must not reach $SYS and friends
                if valid_filter(expanded):
                    out.append(_Compiled(tuple(expanded.split("/")), rule.grant, 1))
        compiled = tuple(out)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = compiled
        return compiled


def _deny_first(rules: Iterable[AclRule]) -> tuple[AclRule, ...]:
    ordered = list(rules)
    return tuple(
        [r for r in ordered if r.grant is Grant.DENY]
        + [r for r in ordered if r.grant is not Grant.DENY]
    )


def _decide(compiled: tuple[_Compiled, ...], matched: frozenset[int], access: Access) -> bool:
    """Mosquitto's walk: per stage, a matching deny refuses, a matching grant allows."""
    for stage in (0, 1):
        for i, rule in enumerate(compiled):
            if rule.stage != stage or i not in matched:
                continue
            if rule.grant is Grant.DENY:
                return False
            if rule.grant.allows(access):
                return True
    return False


def _parse_rule(keyword: str, rest: str, user: str | None, source: str, lineno: int) -> AclRule:
    words = rest.split(" ", 1)
    if not rest:
        raise AclFileError(
            source,
            lineno,
            f"`{keyword}` without a topic",
            f"write `{keyword} [read|write|readwrite|deny] <topic>`",
        )
    if len(words) == 1:
        if words[0] in {g.value for g in Grant}:
            raise AclFileError(
                source,
                lineno,
                f"`{keyword} {words[0]}` has no topic (mosquitto would read it as readwrite on a topic named {words[0]!r})",
                f"write `{keyword} {words[0]} <topic>`, or `{keyword} readwrite {words[0]}` if you mean that topic",
            )
        grant, topic = Grant.READWRITE, words[0]
    else:
        try:
            grant = Grant(words[0])
        except ValueError:
            raise AclFileError(
                source,
                lineno,
                f"invalid access type {words[0][:40]!r}",
                "use read, write, readwrite or deny (topics containing spaces need the access word)",
            ) from None
        topic = words[1].strip(" ")
        if not topic:
            raise AclFileError(
                source,
                lineno,
                f"`{keyword} {grant.value}` without a topic",
                f"write `{keyword} {grant.value} <topic>`",
            )
    if not valid_filter(topic):
        raise AclFileError(
            source,
            lineno,
            f"invalid topic filter {topic[:80]!r}",
            "'+' and '#' must fill a whole level and '#' must be last (e.g. `a/+/b`, `a/#`)",
        )
    if keyword == "pattern" and "%u" not in topic and "%c" not in topic:
        warnings.warn(
            f"{source}:{lineno}: pattern {topic!r} has no %u or %c, so it applies to every client",
            SecurityConfigWarning,
            stacklevel=3,
        )
    if keyword == "topic" and ("%u" in topic or "%c" in topic):
        warnings.warn(
            f"{source}:{lineno}: `topic` lines match %u/%c literally; use `pattern` to substitute",
            SecurityConfigWarning,
            stacklevel=3,
        )
    return AclRule(
        topic, grant, keyword == "pattern", None if keyword == "pattern" else user, lineno
    )
