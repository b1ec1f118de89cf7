"""What a regex admits, read from its parse tree: the first characters of a match, the groups every match sets.

The engine dispatches on a line's first character and skips patterns that cannot
start with it; the builders skip None tests for groups every match sets. Both
answers must err on the safe side (say "may" wrongly, never "cannot" wrongly),
so anything not understood answers "may".
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["ascii_starts", "can_start_with", "required_groups"]

# --- which first characters an anchored regex admits ---------------------------------------
# The engine dispatches on a line's first character: a pattern anchored at `^` whose regex
# cannot start with that character is never tried. The answer must be a superset (it may say
# yes wrongly, never no wrongly), so anything not understood below answers yes.

_CATEGORY_RX = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
}
_ASCII = frozenset(chr(i) for i in range(128))


def _in_class(items: list[tuple[Any, Any]], c: str) -> bool:
    negate = False
    hit = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            hit = hit or chr(av) == c
        elif name == "RANGE":
            hit = hit or av[0] <= ord(c) <= av[1]
        elif name == "CATEGORY" and str(av) in _CATEGORY_RX:
            hit = hit or re.match(_CATEGORY_RX[str(av)], c) is not None
        else:
            return True  # not understood: may match
    return hit != negate


def _firsts(items: list[tuple[Any, Any]], chars: frozenset[str]) -> tuple[frozenset[str], bool]:
    """Which of `chars` this sequence's match can start with, and whether it can match the empty string."""
    found: set[str] = set()
    for op, av in items:
        name = str(op)
        if name == "AT" or name in ("ASSERT", "ASSERT_NOT"):
            continue  # zero-width: the next item decides
        if name == "LITERAL":
            got, nullable = chars & {chr(av)}, False
        elif name == "NOT_LITERAL":
            got, nullable = chars - {chr(av)}, False
        elif name == "IN":
            got, nullable = frozenset(c for c in chars if _in_class(av, c)), False
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            got, nullable = _firsts(list(av[2]), chars)
            nullable = nullable or av[0] == 0
        elif name == "SUBPATTERN":
            if av[1]:  # flags switched on inside the group (IGNORECASE, …)
                return chars, False
            got, nullable = _firsts(list(av[3]), chars)
        elif name == "ATOMIC_GROUP":
            got, nullable = _firsts(list(av), chars)
        elif name == "BRANCH":
            results = [_firsts(list(alt), chars) for alt in av[1]]
            got = frozenset().union(*(r[0] for r in results))
            nullable = any(r[1] for r in results)
        else:  # ANY, back-references, conditionals, …
            return chars, False
        found |= got
        if not nullable:
            return frozenset(found), False
    return frozenset(found), True


def can_start_with(regex: str, c: str) -> bool:
    """Whether `re.match(regex, line)` can succeed on a line whose first character is `c`."""
    if len(c) == 1 and ord(c) < 128:
        return c in ascii_starts(regex)
    return c in _first_chars(regex, frozenset(c))


@functools.lru_cache(maxsize=1024)
def ascii_starts(regex: str) -> frozenset[str]:
    """The ASCII characters a match of `regex` (at a line's start) may begin with; computed once per regex."""
    return _first_chars(regex, _ASCII)


def _first_chars(regex: str, chars: frozenset[str]) -> frozenset[str]:
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parsed(regex, _parser)
        if parsed.state.flags & (re.IGNORECASE | re.MULTILINE):
            return chars
        found, nullable = _firsts(list(parsed), chars)
        return chars if nullable else found
    except Exception:  # an internal parser that changed: no restriction, never a wrong "no"
        return chars


@functools.lru_cache(maxsize=64)
def _parsed(regex: str, parser: Any) -> Any:
    return parser.parse(regex)


def required_groups(regex: str) -> frozenset[str]:
    """Named groups that take part in every match (not under `?`, `*`, `|`, a lookaround or a
    conditional): their builder code skips the None checks. Anything not understood: none."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parsed(regex, _parser)
        names = {i: n for n, i in parsed.state.groupdict.items()}
        found: set[str] = set()

        def walk(items: list[tuple[Any, Any]]) -> None:
            for op, av in items:
                name = str(op)
                if name == "SUBPATTERN":
                    if av[0] in names:
                        found.add(names[av[0]])
                    walk(list(av[3]))
                elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
                    walk(list(av[2]))
                elif name == "ATOMIC_GROUP":
                    walk(list(av))

        walk(list(parsed))
        return frozenset(found)
    except Exception:  # an internal parser that changed: every group may be missing
        return frozenset()
