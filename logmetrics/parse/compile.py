"""Compiling a parser definition's patterns into fast event builders.

A pattern is data (`parsers/*.toml`); running it must not cost a generic loop
over its groups on every line. So each pattern is compiled once into a small
Python function, specialised to its groups, conversions and kind — the same
technique `dataclasses` uses for `__init__`. The generated code only ever
contains identifiers we produce and string constants passed through `repr`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import orjson

from ..core.events import INT_KEYS, KIND_KEYS
from .conversions import TsCache, duration_ms, go_ms, iso_converter, parse_ts
from .definitions import Pattern

__all__ = ["CompiledPattern", "can_start_with", "normalise_level", "parse_logfmt", "required_groups"]

Event = dict[str, Any]
Converter = Callable[[Any], Any] | None

_LEVELS = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "d": "debug", "verbose": "debug",
    "info": "info", "inf": "info", "i": "info", "notice": "info", "information": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn", "w": "warn",
    "error": "error", "err": "error", "eror": "error", "e": "error", "fatal": "error",
    "critical": "error", "crit": "error", "panic": "error", "alert": "error", "emerg": "error",
    "emergency": "error", "severe": "error", "f": "error", "c": "error",
}


_LEVEL_SEEN: dict[str, str | None] = {}  # as written → normalised; levels are few, lines are many


def normalise_level(value: str) -> str | None:
    """`WARNING` → `warn`, `FATAL`/`CRITICAL` → `error`; None for what is not a level."""
    hit = _LEVEL_SEEN.get(value, "")
    if hit != "":
        return hit
    out = _LEVELS.get(value.strip().strip("[]:").lower())
    if len(_LEVEL_SEEN) < 4096:
        _LEVEL_SEEN[value] = out
    return out


# A key only where a token starts: without the lookbehind, a long run of word characters
# with no `=` is retried from every position (quadratic; a 1 MiB line would hang).
_LOGFMT = re.compile(r'(?:^|(?<=\s))([\w.@/-]++)=("[^"\\]*+(?:\\.[^"\\]*+)*+"|\S*+)')


def unquote(v: str) -> str:
    """A logfmt/slog value without its quotes and escapes."""
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
        if "\\" in v:
            v = v.replace('\\"', '"').replace("\\\\", "\\")
    return v


def parse_logfmt(text: str) -> dict[str, str]:
    """`key=value key2="quoted value"` pairs; the first non-empty occurrence of a key wins."""
    out: dict[str, str] = {}
    for k, v in _LOGFMT.findall(text):
        if v[:1] == '"':
            v = unquote(v)
        if v and k not in out:
            out[k] = v
    return out


# Keys people use in logfmt/JSON lines, mapped to event keys.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("time", "ts", "timestamp", "@timestamp", "t", "date", "datetime", "asctime"),
    "level": ("level", "lvl", "severity", "loglevel", "levelname", "log.level", "log_level"),
    "msg": ("msg", "message", "event", "text"),
    "error": ("error", "err", "exception", "error_message"),
    "model": ("model", "model_name"),
    "host": ("host", "hostname"),
    "status": ("status", "status_code", "statusCode", "http_status", "response_status"),
    "duration_ms": ("duration_ms", "duration", "latency", "elapsed", "took", "response_time", "request_time"),
    "method": ("method", "http_method", "request_method"),
    "path": ("path", "url", "uri", "route", "request_uri"),
    "client": ("client", "remote_addr", "client_ip", "remote_ip", "ip"),
    "operation": ("operation", "op"),
}
_ALIAS_TO_KEY = {alias: key for key, aliases in reversed(KEY_ALIASES.items()) for alias in aliases}


def _duration_value(unit: str) -> Callable[[Any], float]:
    """A body's duration: with a unit suffix (`1245.67ms`) a Go duration, else a number in `unit`."""
    def convert(v: Any) -> float:
        raw = v if type(v) is str else str(v)
        if raw[-1:].isalpha():
            return go_ms(raw)
        return duration_ms(raw.strip().strip('"'), unit)
    return convert


def _strip_query(v: str) -> str:
    q = v.find("?")
    return v[:q] if q >= 0 else v


def _converter(key: str, unit: str, ts_format: str, now: Callable[[], float]) -> Converter:
    """How a captured value becomes the event's value (None: kept as the string it is)."""
    if key == "ts":
        if ts_format == "syslog":
            return lambda v: parse_ts(str(v), "syslog", now())
        if ts_format == "auto":  # logfmt/JSON bodies: numbers are epoch times
            return lambda v: parse_ts(str(v), "epoch" if isinstance(v, int | float) else "auto")
        if ts_format == "iso":
            return iso_converter()
        return TsCache(ts_format).__getitem__
    if key == "level":
        return lambda v: normalise_level(str(v))
    if key == "msg":
        return lambda v: unquote(v) if type(v) is str else str(v)
    if key in INT_KEYS:
        return int
    if key.endswith("_ms"):
        if unit == "go":
            return go_ms
        return _duration_value(unit)
    if key == "tokens_per_s":
        return float
    if key == "path":
        return _strip_query
    return None


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


USER_REGEX_BUDGET_S = 0.05  # per line and pattern, for regexes from users' definitions


def budgeted(rx: Any, anchored: bool, key: str, over: Callable[[str], None]) -> Callable[[str], Any]:
    """A user's regex on the `regex` engine with a time budget: over it, no match, and `over(key)` counts it.

    Built-in regexes are linear by test; a user's cannot be trusted to be, and one catastrophic
    regex must not stall reading (the engine also releases the GIL meanwhile: /metrics answers).
    """
    find = rx.match if anchored else rx.search

    def search(text: str) -> Any:
        try:
            return find(text, timeout=USER_REGEX_BUDGET_S, concurrent=True)
        except TimeoutError:
            over(key)
            return None

    return search


class CompiledPattern:
    """A pattern flattened into what the hot loop touches: prefilter literals, a matcher, a builder."""

    __slots__ = ("anchored", "app", "build", "first", "kind", "literals", "name", "raw_search", "regex", "search",
                 "source", "sticky")

    def __init__(self, app: str, p: Pattern, sticky: bool, now: Callable[[], float],
                 over_budget: Callable[[str], None] | None = None) -> None:
        """`over_budget`: given for a user's definition: its regex runs with a time budget (see `budgeted`)."""
        self.app = app
        self.name = p.name
        self.kind = p.kind
        self.sticky = sticky
        self.first = p.contains[0] if p.contains else None
        self.literals = tuple(p.contains[1:])
        groups: list[str | None] = []
        self.regex = p.regex
        self.anchored = bool(p.regex and p.regex.startswith("^"))
        self.search: Callable[[str], Any] | None = None
        self.raw_search: Callable[[str], Any] | None = None  # without a budget (for `check`)
        if p.regex:
            if over_budget is None:
                rx: Any = re.compile(p.regex)
            else:
                import regex

                rx = regex.compile(p.regex)
            # An anchored pattern needs one attempt at position 0, not a scan.
            self.raw_search = rx.match if self.anchored else rx.search
            self.search = (self.raw_search if over_budget is None
                           else budgeted(rx, self.anchored, f"parser:{app}.{p.name}", over_budget))
            names = {i: n for n, i in rx.groupindex.items()}
            groups = [names.get(i) for i in range(1, rx.groups + 1)]
        self.source, self.build = _generate(app, p, groups, now)

    def may_start(self, c: str) -> bool:
        """False only when this pattern cannot match a line starting with `c` (the engine skips it)."""
        return not self.anchored or self.regex is None or can_start_with(self.regex, c)


def _generate(app: str, p: Pattern, groups: list[str | None], now: Callable[[], float]
              ) -> tuple[str, Callable[[re.Match[str] | None, str], Event | None]]:
    """Source and function `build(match, text) -> event | None` for one pattern.

    Raises ValueError (from a conversion) when a captured value does not convert:
    the engine then tries the next pattern.
    """
    kind = p.kind
    body_group = p.logfmt if p.logfmt is not None else p.json_body
    ns: dict[str, Any] = {}
    var = {g: f"g_{g}" for g in groups if g}
    lines = ["def build(m, text):"]
    if groups:
        unpack = ", ".join(var.get(g, f"_u{i}") if g else f"_u{i}" for i, g in enumerate(groups))
        lines.append(f"    {unpack}, = m.groups()")

    def conv(key: str, value: str) -> str:
        if key == "path":
            return f"{value}.partition('?')[0]"  # no Python frame for the query-string strip
        # A regex group is always a string: call the string function itself, not its wrapper.
        if key == "level":
            ns["normalise_level"] = normalise_level
            return f"normalise_level({value})"
        if key == "msg":
            ns["unquote"] = unquote
            return f"unquote({value})"
        c = _converter(key, p.units.get(key, "ms"), p.ts_format, now)
        if c is None:
            return value
        ns[f"c_{key}"] = c
        return f"c_{key}({value})"

    required = required_groups(p.regex) if p.regex else frozenset()

    def value(g: str) -> str:
        return conv(g, var[g]) if g in required else f"None if {var[g]} is None else {conv(g, var[g])}"

    head = {k: "None" for k in ("ts", "level", "msg")}
    for key in head:
        if key in var:
            head[key] = value(key)
    # One dict literal with every field (a single allocation), then drop the optional groups
    # that did not participate — only when one of them is missing.
    field_groups = [g for g in var if g not in head and g != body_group]
    items = "".join(f", {g!r}: {value(g)}" for g in field_groups)
    field_groups = [g for g in field_groups if g not in required]
    lines.append(
        f"    ev = {{'ts': {head['ts']}, 'app': {app!r}, 'kind': {kind!r}, "
        f"'level': {head['level']}, 'msg': {head['msg']}{items}}}"
    )
    if field_groups:
        lines += [
            f"    if None in ({', '.join(var[g] for g in field_groups)},):",
            f"        for k in {tuple(field_groups)!r}:",
            "            if ev[k] is None:",
            "                del ev[k]",
        ]
    if body_group is not None:
        keys = KIND_KEYS[kind] | {"ts", "level", "msg", "error", "model", "host"}
        ns["alias"] = {a: k for a, k in _ALIAS_TO_KEY.items() if k in keys}
        ns["body_conv"] = {k: _converter(k, p.units.get(k, "ms"), "auto", now) for k in set(ns["alias"].values())}
        src = "text" if body_group == "line" else f"({var[body_group]} or '')"
        if p.logfmt is not None:
            # The pairs straight from the regex: only the values an alias wants are unquoted.
            # The first non-empty occurrence of a key wins, as in `parse_logfmt`.
            ns["findall"], ns["unquote"] = _LOGFMT.findall, unquote
            lines += [
                f"    for a, v in findall({src}):",
                "        key = alias.get(a)",
                "        if key is None or not v or ev.get(key) is not None:",
                "            continue",
                "        if v[0] == '\"':",
                "            v = unquote(v)",
                "            if not v:",
                "                continue",
                "        c = body_conv[key]",
                "        ev[key] = v if c is None else c(v)",
            ]
        else:
            ns["loads"] = orjson.loads
            lines += [
                "    try:",
                f"        body = loads({src})",
                "    except ValueError:",
                "        return None",
                "    if type(body) is not dict:",
                "        return None",
            ]
        if p.json_body is not None:
            lines += [
            "    for a, v in body.items():",
            "        key = alias.get(a)",
            "        if key is None or v is None or v == '' or type(v) is dict or type(v) is list:",
            "            continue",
            "        if ev.get(key) is None:",
            "            c = body_conv[key]",
            "            ev[key] = v if c is None else c(v)",
            ]
    for k, v in p.set.items():
        lines.append(f"    if ev.get({k!r}) is None: ev[{k!r}] = {v!r}")
    # Defaults by kind: a request needs its status; levels and messages are never missing.
    # What only this pattern's own groups can set is known here: where a key cannot be missing
    # (a required group) or cannot be present (no group, no body, no constant), test nothing.
    def fixed(key: str) -> str:
        """'set' (always there), 'unset' (never there) or '' (decided per line)."""
        if body_group is not None or key in p.set:
            return ""
        if key not in var:
            return "unset"
        return "set" if key in required and key not in ("level", "msg", "ts") else ""

    def default(key: str, value_lines: list[str]) -> list[str]:
        if fixed(key) == "unset":
            return [x[4:] for x in value_lines]
        return [f"    if ev[{key!r}] is None:", *value_lines]

    if kind == "request":
        st = ["    st = ev['status']"] if fixed("status") == "set" else [
            "    st = ev.get('status')", "    if st is None:", "        return None"]
        method = "g_method" if fixed("method") == "set" else "ev.get('method')"
        path = "ev['path']" if fixed("path") == "set" else "ev.get('path')"
        lines += st
        lines += default("level", [f"        ev['level'] = {p.level!r}" if p.level else
                                   "        ev['level'] = 'error' if st >= 500 else 'warn' if st >= 400 else 'info'"])
        lines += default("msg", [f"        method = {method}",
                                 f"        ev['msg'] = f\"{{method}} {{{path}}} {{st}}\" if method else str(st)"])
    else:
        default_level = p.level or ("error" if kind in ("error", "timeout") else "info")
        lines += default("level", [f"        ev['level'] = {default_level!r}"])
        lines += default("msg", ["        ev['msg'] = text"])
        if kind == "error":
            lines += ["    if ev.get('error') is None:", "        ev['error'] = ev['msg']"]
    lines.append("    return ev")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<pattern {app}.{p.name}>", "exec"), ns)
    return source, ns["build"]
