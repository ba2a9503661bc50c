"""Decide whether every topic a filter matches satisfies a predicate over matching rules.

Used by the ACL to refuse a SUBSCRIBE when *any* topic the filter could match may not be read.
Topic levels are unbounded strings, but only the literals written in the rules (and the
filter) can tell two topics apart, so a search over "each literal, or one fresh string" per
level is exact. The search walks states ``(filter position, live rule positions)``; states
repeat quickly (``#`` absorbs, rules die), and a visited set makes it terminate. A state cap
bounds the work against pathological rule sets; hitting it answers "not proven" (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from ..protocol.topics import levels_match as filter_matches

__all__ = ["Coverage", "CoverageResult", "filter_matches", "find_uncovered_topic"]

MAX_STATES = 20_000


class _Fresh(Enum):
    """A level value equal to no literal; PLAIN must not start with ``$``, DOLLAR must."""

    PLAIN = "plain"
    DOLLAR = "dollar"


_Level = str | _Fresh


def _is_dollar(value: _Level) -> bool:
    return value is _Fresh.DOLLAR or (isinstance(value, str) and value.startswith("$"))


class Coverage(Enum):
    """PROVEN: every topic satisfies the predicate. UNCOVERED: a counterexample exists.
    GAVE_UP: the search hit :data:`MAX_STATES` (treat as not proven)."""

    PROVEN = "proven"
    UNCOVERED = "uncovered"
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class CoverageResult:
    coverage: Coverage
    example: str | None = None  # a topic matched by the filter that fails the predicate


def _advance(pattern: Sequence[str], pos: int, value: _Level, first_level: bool) -> int | None:
    """The position after consuming one topic level, or None when the pattern cannot."""
    if pos >= len(pattern):
        return None
    level = pattern[pos]
    if level in ("+", "#"):
        if first_level and _is_dollar(value):
            return None
        return pos if level == "#" else pos + 1
    return pos + 1 if level == value else None


def _ends_here(pattern: Sequence[str], pos: int) -> bool:
    return pos == len(pattern) or (pos == len(pattern) - 1 and pattern[pos] == "#")


def find_uncovered_topic(
    topic_filter: Sequence[str],
    rules: Sequence[Sequence[str]],
    predicate: Callable[[frozenset[int]], bool],
    *,
    max_states: int = MAX_STATES,
) -> CoverageResult:
    """Search for a topic matched by *topic_filter* whose matching rules fail *predicate*.

    Args:
        topic_filter: a valid filter, split into levels (no ``$share`` prefix).
        rules: valid filters, split into levels; indices are passed to *predicate*.
        predicate: given the indices of the rules matching one topic, whether that topic is
            acceptable (e.g. readable).
        max_states: work bound.
    """
    literals = {lv for rule in rules for lv in rule} | set(topic_filter)
    start = (0, frozenset((i, 0) for i in range(len(rules))), 0)
    stack: list[tuple[int, frozenset[tuple[int, int]], int, tuple[_Level, ...]]] = [(*start, ())]
    seen: set[tuple[int, frozenset[tuple[int, int]], bool, bool]] = set()
    while stack:
        fpos, live, depth, path = stack.pop()
        valid_topic = depth > 1 or (depth == 1 and path[0] != "")  # "" is no topic
        # Validity is part of the state: "" then "x" reaches the same positions as "" alone,
        # but only the longer one is a topic whose readability must be judged.
        key = (fpos, live, depth > 0, valid_topic)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > max_states:
            return CoverageResult(Coverage.GAVE_UP)
        if valid_topic and _ends_here(topic_filter, fpos):
            matched = frozenset(i for i, p in live if _ends_here(rules[i], p))
            if not predicate(matched):
                return CoverageResult(Coverage.UNCOVERED, _render(path, literals))
        if fpos >= len(topic_filter):
            continue
        current = topic_filter[fpos]
        values: list[_Level]
        if current in ("+", "#"):
            values = [_Fresh.PLAIN]
            if depth == 0:
                values.append(_Fresh.DOLLAR)
            values.extend({rules[i][p] for i, p in live if p < len(rules[i])} - {"+", "#"})
        else:
            values = [current]
        for value in values:
            nfpos = _advance(topic_filter, fpos, value, depth == 0)
            if nfpos is None:
                continue
            moved = ((i, _advance(rules[i], p, value, depth == 0)) for i, p in live)
            nlive = frozenset((i, np) for i, np in moved if np is not None)
            stack.append((nfpos, nlive, depth + 1, (*path, value)))
    return CoverageResult(Coverage.PROVEN)


def _render(path: Sequence[_Level], literals: set[str]) -> str:
    """A concrete topic for *path*: fresh levels become strings equal to no literal."""
    fresh = "x"
    while fresh in literals or "$" + fresh in literals:
        fresh += "x"
    out = []
    for value in path:
        if value is _Fresh.PLAIN:
            out.append(fresh)
        elif value is _Fresh.DOLLAR:
            out.append("$" + fresh)
        else:
            out.append(value)
    return "/".join(out)
