"""Compiling a parser definition's patterns into fast event builders.

A pattern is data (`parsers/*.toml`); running it must not cost a generic loop
over its groups on every line. So each pattern is compiled once into a small
Python function, specialised to its groups, conversions and kind — the same
technique `dataclasses` uses for `__init__`. The generated code only ever
contains identifiers we produce and string constants passed through `repr`.
"""

from __future__ import annotations

import contextlib
import linecache
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from ..core.events import INT_KEYS, KIND_KEYS
from ..core.memo import Memo
from .conversions import DurationError, duration_ms, go_ms
from .definitions import Pattern
from .regexes import can_start_with, required_groups
from .timestamps import TsCache, iso_converter, parse_ts

__all__ = ["Code", "CompiledPattern", "Matcher", "compile_matcher", "normalise_level", "parse_logfmt"]

Event = dict[str, Any]
Converter = Callable[[Any], Any] | None

_LEVELS = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "d": "debug", "verbose": "debug",
    "info": "info", "inf": "info", "i": "info", "notice": "info", "information": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn", "w": "warn",
    "error": "error", "err": "error", "eror": "error", "e": "error", "fatal": "error",
    "critical": "error", "crit": "error", "panic": "error", "alert": "error", "emerg": "error",
    "emergency": "error", "severe": "error", "f": "error", "c": "error",
    "debg": "debug", "warni": "warn", "dbug": "debug", "crt": "error", "ftl": "error",
    # pino/bunyan numeric levels
    "10": "debug", "20": "debug", "30": "info", "40": "warn", "50": "error", "60": "error",
}


def _level(value: str) -> str | None:
    v = value.strip().strip("[]:").lower()
    found = _LEVELS.get(v)
    # Numbered sub-levels (`DEBUG3`, `VERBOSE2`, Python's `Level 5`-style names) are their level's.
    return found if found is not None or not v[-1:].isdigit() else _LEVELS.get(v.rstrip("0123456789 "))


# `WARNING` → `warn`, `FATAL`/`CRITICAL` → `error`; None for what is not a level (levels are few, lines many).
normalise_level = Memo(_level, 4096).__getitem__


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
    "ts": ("time", "ts", "timestamp", "@timestamp", "t", "date", "datetime", "asctime", "timestamp_ns"),
    "level": ("level", "lvl", "severity", "loglevel", "levelname", "log.level", "log_level"),
    "msg": ("msg", "message", "event", "text", "body"),  # `body`: OpenTelemetry's log record
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
_NESTED = frozenset(("fields", "@fields"))  # JSON objects holding a record's own keys


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

    __slots__ = ("anchored", "app", "block", "build", "declared_level", "embedded", "first", "generic", "json_body",
                 "kind", "level_by_status", "literals", "name", "plain", "raw_search", "regex", "search", "source",
                 "sticky")

    def __init__(self, app: str, p: Pattern, sticky: bool, now: Callable[[], float],
                 over_budget: Callable[[str], None] | None = None, *, embedded: bool = False) -> None:
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
        self.generic = not sticky and not embedded  # a shape every program prints (JSON, logfmt): may wrap another's
        # A request whose line cannot state a level: the builder gives it its status's (an envelope's
        # level, which comes before that, replaces it: see parse/stream.py).
        self.level_by_status = (p.kind == "request" and not self.generic and p.level is None
                                and "level" not in groups and p.logfmt is None and p.json_body is None
                                and "level" not in p.set)
        self.source, self.build = _Builder(app, p, groups, now, self.level_by_status).build()
        self.declared_level = p.level  # the format's level for lines that state none (GIN-debug: debug)
        self.embedded = embedded  # an app's output inside another's: takes the stream's app
        self.json_body = p.json_body
        self.block = p.block
        # An app's own line (or one it embeds), not part of a block, not a JSON logger's wrapper: the
        # stream's fast path.
        self.plain = (sticky or embedded) and p.block is None and p.json_body is None

    def may_start(self, c: str) -> bool:
        """False only when this pattern cannot match a line starting with `c` (the engine skips it)."""
        return not self.anchored or self.regex is None or can_start_with(self.regex, c)


class Code:
    """Python source built line by line, indented by blocks, compiled under a readable file name.

    The source is registered in `linecache`, so a traceback through generated code shows its
    lines, and a profiler (py-spy) names the file and function instead of `<string>`.
    """

    def __init__(self, name: str) -> None:
        self.filename = f"<logmetrics generated {name}>"
        self.lines: list[str] = []
        self._depth = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self._depth + text)

    @contextlib.contextmanager
    def block(self, header: str) -> Iterator[None]:
        """`header:` and its indented body."""
        self.line(header + ":")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"

    def define(self, name: str, ns: dict[str, Any]) -> Any:
        """Compile, keep the source for tracebacks, and return the function `name` it defines."""
        src = self.source
        linecache.cache[self.filename] = (len(src), None, src.splitlines(True), self.filename)
        exec(compile(src, self.filename, "exec"), ns)
        return ns[name]


class _Builder:
    """Writes `build(m, text) -> event | None` for one pattern (see `CompiledPattern`).

    Decided once here, not per line: which groups every match sets (no None test), which keys only
    this pattern's groups can set (no default test where they cannot be missing or present), and
    which conversion each group needs (a direct call for string groups, no wrapper).
    """

    def __init__(self, app: str, p: Pattern, groups: list[str | None], now: Callable[[], float],
                 level_by_status: bool = False) -> None:
        self.app, self.p, self.now = app, p, now
        self.level_by_status = level_by_status
        self.kind = p.kind
        self.body = p.logfmt if p.logfmt is not None else p.json_body  # the group holding key=value / JSON
        self.var = {g: f"g_{g}" for g in groups if g}
        self.groups = groups
        self.required = required_groups(p.regex) if p.regex else frozenset()
        self.ns: dict[str, Any] = {}
        self.code = Code(f"pattern {app}.{p.name}")

    def build(self) -> tuple[str, Callable[[re.Match[str] | None, str], Event | None]]:
        with self.code.block("def build(m, text)"):
            if self.groups:
                names = ", ".join(self.var.get(g, f"_u{i}") if g else f"_u{i}" for i, g in enumerate(self.groups))
                self.code.line(f"{names}, = m.groups()")
            self._event()
            if self.body is not None:
                self._body()
            for k, v in self.p.set.items():
                self.code.line(f"if ev.get({k!r}) is None: ev[{k!r}] = {v!r}")
            if self.kind == "request":
                self._request_defaults()
            else:
                self._defaults()
            self.code.line("return ev")
        return self.code.source, self.code.define("build", self.ns)

    # -- the event from the groups --------------------------------------------------------------

    def _conv(self, key: str, value: str) -> str:
        if key == "path":
            return f"{value}.partition('?')[0]"  # no Python frame for the query-string strip
        # A regex group is always a string: call the string function itself, not its wrapper.
        if key == "level":
            self.ns["normalise_level"] = normalise_level
            return f"normalise_level({value})"
        if key == "msg":
            self.ns["unquote"] = unquote
            return f"unquote({value})"
        c = _converter(key, self.p.units.get(key, "ms"), self.p.ts_format, self.now)
        if c is None:
            return value
        self.ns[f"c_{key}"] = c
        return f"c_{key}({value})"

    def _value(self, g: str) -> str:
        v = self.var[g]
        return self._conv(g, v) if g in self.required else f"None if {v} is None else {self._conv(g, v)}"

    def _event(self) -> None:
        """One dict literal with every field (a single allocation), then the optional groups that did
        not take part dropped — tested only when one of them is missing."""
        head = {k: self._value(k) if k in self.var else "None" for k in ("ts", "level", "msg")}
        fields = [g for g in self.var if g not in head and g != self.body]
        items = "".join(f", {g!r}: {self._value(g)}" for g in fields)
        self.code.line(f"ev = {{'ts': {head['ts']}, 'app': {self.app!r}, 'kind': {self.kind!r}, "
                       f"'level': {head['level']}, 'msg': {head['msg']}{items}}}")
        optional = [g for g in fields if g not in self.required]
        if optional:
            with self.code.block(f"if None in ({', '.join(self.var[g] for g in optional)},)"), \
                    self.code.block(f"for k in {tuple(optional)!r}"), self.code.block("if ev[k] is None"):
                self.code.line("del ev[k]")

    # -- a key=value or JSON body fills what the groups left unset --------------------------------

    def _body(self) -> None:
        keys = KIND_KEYS[self.kind] | {"ts", "level", "msg", "error", "model", "host"}
        alias = self.ns["alias"] = {a: k for a, k in _ALIAS_TO_KEY.items() if k in keys}
        self.ns["body_conv"] = {k: _converter(k, self.p.units.get(k, "ms"), "auto", self.now)
                                for k in set(alias.values())}
        src = "text" if self.body == "line" else f"({self.var[self.body or '']} or '')"
        code = self.code
        if self.p.logfmt is not None:
            # The pairs straight from the regex: only the values an alias wants are unquoted.
            # The first non-empty occurrence of a key wins, as in `parse_logfmt`.
            self.ns["findall"], self.ns["unquote"] = _LOGFMT.findall, unquote
            with code.block(f"for a, v in findall({src})"):
                code.line("key = alias.get(a)")
                with code.block("if key is None or not v or ev.get(key) is not None"):
                    code.line("continue")
                with code.block("if v[0] == '\"'"):
                    code.line("v = unquote(v)")
                    with code.block("if not v"):
                        code.line("continue")
                code.line("c = body_conv[key]")
                code.line("ev[key] = v if c is None else c(v)")
            return
        self.ns["loads"] = orjson.loads
        with code.block("try"):
            code.line(f"body = loads({src})")
        with code.block("except ValueError"):
            code.line("return None")
        with code.block("if type(body) is not dict"):
            code.line("return None")
        # One level of nesting where loggers put the record's own fields: Rust tracing's `fields`,
        # logstash's `@fields`. Keys of the top level come first.
        self.ns["nested"] = _NESTED
        with code.block("for a, v in body.items()"):
            code.line("key = alias.get(a)")
            with code.block("if key is None or v is None or v == '' or type(v) is dict or type(v) is list"):
                with code.block("if type(v) is dict and a in nested"), code.block("for a, v in v.items()"):
                    code.line("key = alias.get(a)")
                    with code.block("if key is not None and v is not None and v != '' and type(v) is not dict "
                                    "and type(v) is not list and ev.get(key) is None"):
                        code.line("c = body_conv[key]")
                        code.line("ev[key] = v if c is None else c(v)")
                code.line("continue")
            with code.block("if ev.get(key) is None"):
                code.line("c = body_conv[key]")
                code.line("ev[key] = v if c is None else c(v)")

    # -- defaults by kind: a request needs its status; levels and messages are never missing --------

    def _fixed(self, key: str) -> str:
        """'set' (always there), 'unset' (never there) or '' (decided per line): what only this
        pattern's own groups can set is known here, and where it is known nothing is tested."""
        if self.body is not None or key in self.p.set:
            return ""
        if key not in self.var:
            return "unset"
        return "set" if key in self.required and key not in ("level", "msg", "ts") else ""

    @contextlib.contextmanager
    def _unless_set(self, key: str) -> Iterator[None]:
        if self._fixed(key) == "unset":
            yield
        else:
            with self.code.block(f"if ev[{key!r}] is None"):
                yield

    def _request_defaults(self) -> None:
        code = self.code
        if self._fixed("status") == "set":
            code.line("st = ev['status']")
        else:
            code.line("st = ev.get('status')")
            with code.block("if st is None"):
                code.line("return None")
        method = "g_method" if self._fixed("method") == "set" else "ev.get('method')"
        path = "ev['path']" if self._fixed("path") == "set" else "ev.get('path')"
        with self._unless_set("msg"):
            code.line(f"method = {method}")
            code.line(f"ev['msg'] = f\"{{method}} {{{path}}} {{st}}\" if method else str(st)")
        if self.level_by_status:
            code.line("ev['level'] = 'error' if st >= 500 else 'warn' if st >= 400 else 'info'")

    def _defaults(self) -> None:
        with self._unless_set("msg"):
            self.code.line("ev['msg'] = text")
        if self.kind == "error":
            with self.code.block("if ev.get('error') is None"):
                self.code.line("ev['error'] = ev['msg']")


# A line's first character → a function trying, in order, the patterns that can match a line
# starting with it; it returns the event and the pattern that gave it, or (None, None).
Matcher = Callable[[str], "tuple[Event | None, CompiledPattern | None]"]


def compile_matcher(cps: tuple[CompiledPattern, ...]) -> Matcher:
    """One straight-line function for a sequence of patterns: the prefilters, matcher and builder
    of each inlined in order, so the hot loop pays no per-step unpacking or None tests. It returns
    which pattern matched too: `check` and the engine read the same answer."""
    ns: dict[str, Any] = {"_ERRS": (ValueError, DurationError)}
    code = Code("matcher " + " ".join(f"{cp.app}.{cp.name}" for cp in cps)[:200])
    with code.block("def match(text)"):
        for i, cp in enumerate(cps):
            ns[f"P{i}"], ns[f"B{i}"] = cp, cp.build
            tests = [f"{lit!r} in text" for lit in (cp.first, *cp.literals) if lit is not None]
            with contextlib.ExitStack() as blocks:
                if tests:
                    blocks.enter_context(code.block(f"if {' and '.join(tests)}"))
                arg = "None"
                if cp.search is not None:
                    ns[f"S{i}"] = cp.search
                    code.line(f"m = S{i}(text)")
                    blocks.enter_context(code.block("if m is not None"))
                    arg = "m"
                with code.block("try"):
                    code.line(f"ev = B{i}({arg}, text)")
                with code.block("except _ERRS"):  # a captured value that does not convert: not this pattern
                    code.line("ev = None")
                with code.block("if ev is not None"):
                    code.line(f"return ev, P{i}")
        code.line("return None, None")
    matcher: Matcher = code.define("match", ns)
    return matcher
