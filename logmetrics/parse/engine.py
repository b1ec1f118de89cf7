"""The engine: raw lines in, event dicts out.

Per line: decode, strip ANSI, peel envelopes, join runtime-split and multiline
records, then try patterns — the stream's own app first (a file rarely changes
format), every other app next, the generic fallbacks last. A line nothing
explains still becomes a `log` event: nothing is dropped for not parsing.

This is the code that runs millions of times, so it trades a little elegance
for speed: compiled patterns are tuples of plain values, literal prefilters run
before any regex, and events are plain dicts (validated against the pydantic
models in the tests, not here).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core.memo import Memo
from ..core.stats import Stats
from .compile import CompiledPattern, Matcher, compile_matcher, normalise_level
from .conversions import format_ts, parse_ts
from .definitions import ClassifyRule, Definition, is_builtin, load_definitions
from .envelopes import Envelope, strip_ansi, unwrap

__all__ = ["Engine", "Stats", "Stream"]

Event = dict[str, Any]
UNKNOWN = "unknown"

_ENVELOPE_START = frozenset("{0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # JSON, timestamps, syslog months
_TRACEBACK = "Traceback (most recent call last):"
_ML_STARTS = (_TRACEBACK, "panic: ", "fatal error: ")
_ML_FIRST = "Tpf"  # their first characters: most lines are ruled out without `startswith`
_PY_EXC = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Timeout|Warning|Failure)\b|[A-Za-z_][\w.]*: ")
# A frame `pkg.(*T).Method(0xc000, 0x1)`: name characters and `(*T)` receivers, then the arguments to the
# line's end. Possessive, so a line of parentheses is rejected in one pass, not retried at each one.
_GO_FRAME = re.compile(
    r"[\w./*\[\]{}-]++(?:\([\w*.]++\)\.[\w./\[\]{}-]*+)*+\(.*\)$"
    r"|created by |\[signal |exit status |runtime\.|goroutine "
)

_PEM_BEGIN, _PEM_END = "-----BEGIN", "-----END"
_PEM_MAX_LINES = 100  # a 4096-bit RSA key is ~50 lines; an unclosed block holds no more than this
_PEM_OPEN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")


def _pem_opens(text: str) -> bool:
    """A private key's BEGIN line whose END is not on the same line."""
    m = _PEM_OPEN.search(text)
    return m is not None and _PEM_END not in text[m.end():]


# Fallback heuristics for lines no pattern explains.
_LEAD_TS = re.compile(
    r"\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|\d{4}/\d\d/\d\d(?: - | )\d\d:\d\d:\d\d(?:\.\d+)?)\]?"
)
_LEAD_LEVEL = re.compile(
    r"[\s|\[(<]*(TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|FATAL|CRITICAL|PANIC|"
    r"trace|debug|info|warning|warn|error|fatal|critical)\b"
)
_LEVEL_KV = re.compile(r"\blevel=\"?(\w+)")


class _Order(dict[str, Matcher]):
    """A matcher per ASCII first character; any other first character (and "") gets the one
    that tries every pattern."""

    def __missing__(self, first: str) -> Matcher:
        return self[""]


class Stream:
    """One input stream (a file): its sticky app, split-line and multiline buffers."""

    __slots__ = ("_engine", "_last_ts", "_located", "_ml", "_ml_env", "_ml_kind", "_order", "_part", "_part_env",
                 "_sticky", "container", "file", "host")

    def __init__(self, engine: Engine, file: str, container: str | None, app_hint: str | None,
                 host: str | None = None) -> None:
        self._engine = engine
        self.file = file
        self.container = container
        self.host = host
        self._sticky: str | None = engine.app_for_hint(app_hint) if app_hint else None
        self._order = engine.order_for(self._sticky)
        self._part: list[str] = []  # CRI `P` / Docker no-newline pieces
        self._part_env: Envelope | None = None
        self._ml: list[str] = []  # a traceback or panic being collected
        self._ml_env: Envelope | None = None
        self._ml_kind = ""
        self._last_ts: str | None = None  # the last time a line of this stream carried
        self._located = bool(container or host)  # anything to add to events besides line and file

    @property
    def app(self) -> str:
        """The app this stream has been recognised as (`unknown` before any line matched)."""
        return self._sticky or UNKNOWN

    @property
    def holding(self) -> bool:
        """True while a split line or a multiline record waits for its end (positions must not pass it)."""
        return bool(self._part or self._ml)

    def state(self) -> tuple[str | None, str | None, bool]:
        """What the next line's event depends on: sticky app, last own time, something held."""
        return self._sticky, self._last_ts, self.holding

    def restore(self, sticky: str | None, last_ts: str | None) -> None:
        """Continue as if the lines before had just been read (parallel replay seams); drops held lines."""
        self._sticky = sticky
        self._order = self._engine.order_for(sticky)
        self._last_ts = last_ts
        self._part.clear()
        self._part_env = None
        self._ml, self._ml_env = [], None

    def feed(self, lines: Iterable[bytes | str]) -> list[Event]:
        """Events for these lines (framed already: without their newlines, cut to max_line — see
        sources/framing.py), in order; may hold back a multiline record."""
        eng = self._engine
        stats = eng.stats
        max_line = eng.max_line
        out: list[Event] = []
        append = out.append
        parse = self._parse
        n = 0
        for raw in lines:
            n += 1
            if type(raw) is bytes:
                try:
                    text = raw.decode()
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", "replace")
                    stats.malformed["invalid_utf8"] += 1
            else:
                text = str(raw)
            if text:
                if text[-1] == "\r":
                    text = text[:-1]
                if "\x1b" in text:
                    text = strip_ansi(text)
                # Only a line starting like an envelope can be one (`{`, a digit, a capital for
                # syslog, or a compose `name |`): skip the call for the rest.
                c0 = text[:1]  # "" when the line was only "\r" or an escape sequence
                if c0 in _ENVELOPE_START or (c0 != "[" and "|" in text and text.find("|", 0, 80) > 0):
                    env = unwrap(text, eng.now)
                else:
                    env = None
            else:
                env = None
            if env is not None:
                text = env.text
                if "\x1b" in text:
                    text = strip_ansi(text)
                if env.partial or self._part:
                    self._part.append(text)
                    if self._part_env is None:
                        self._part_env = env
                    if env.partial and sum(map(len, self._part)) < max_line:
                        continue
                    text = "".join(self._part)[:max_line]
                    env = self._part_env._replace(text=text, partial=False)
                    self._part.clear()
                    self._part_env = None
            if self._ml:
                if self._ml_continues(text):
                    self._ml.append(text)
                    kind = self._ml_kind
                    if kind == "pem":
                        ends = _PEM_END in text or len(self._ml) >= _PEM_MAX_LINES
                    else:
                        ends = kind == "py" and text[:1] not in (" ", "\t", "") and _PY_EXC.match(text) is not None
                    if ends or len(self._ml) >= 1000:
                        append(self._ml_flush())
                    continue
                append(self._ml_flush())
            if text[:1] in _ML_FIRST and text.startswith(_ML_STARTS):
                self._ml, self._ml_env = [text], env
                self._ml_kind = "py" if text[0] == "T" else "go"
                continue
            if _PEM_BEGIN in text and _pem_opens(text):
                # A private key printed over several lines: one event, so redaction sees the whole block.
                self._ml, self._ml_env, self._ml_kind = [text], env, "pem"
                continue
            append(parse(text, env))
        stats.lines += n
        return out

    def flush(self) -> list[Event]:
        """Emit whatever is held (end of file, idle, rotation, shutdown)."""
        out: list[Event] = []
        if self._part:
            env = self._part_env
            text = "".join(self._part)[: self._engine.max_line]
            self._part.clear()
            self._part_env = None
            out.append(self._parse(text, env._replace(text=text, partial=False) if env else None))
        if self._ml:
            out.append(self._ml_flush())
        return out

    def _ml_continues(self, text: str) -> bool:
        if not text or text[0] in " \t" or self._ml_kind == "pem":
            return True
        if self._ml_kind == "py":
            return text.startswith(("During handling", "The above exception", _TRACEBACK)) or bool(
                _PY_EXC.match(text)
            )
        return bool(_GO_FRAME.match(text)) or text.startswith(("goroutine ", "panic: ", "[recovered]"))

    def _ml_flush(self) -> Event:
        lines, env = self._ml, self._ml_env
        self._ml, self._ml_env = [], None
        if self._ml_kind == "pem":  # the first line's event, holding the whole block
            ev = self._parse(lines[0], env)
            ev["line"] = "\n".join(lines)
            return ev
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        if self._ml_kind == "py":
            msg = next((x for x in reversed(lines) if x and x[0] not in " \t"), lines[0])
        else:
            msg = lines[0]
        ev = self._parse(lines[0], env)  # the first line's facts (time, app), then the whole record
        level = ev["level"] if ev["level"] in ("error", "warn") else "error"
        rec: Event = {k: ev[k] for k in ("ts", "ts_source", "app") if k in ev}
        rec.update(kind="error", level=level, msg=msg)
        for k in ("container", "stream", "host"):
            if k in ev:
                rec[k] = ev[k]
        rec["error"] = msg
        rec["line"] = "\n".join(lines)
        rec["file"] = self.file
        return rec

    # -- one line -----------------------------------------------------------------------

    def _parse(self, text: str, env: Envelope | None) -> Event:
        ev, cp = self._order[text[:1]](text)
        eng = self._engine
        if ev is not None and cp is not None:
            if cp.sticky:
                if cp.app != self._sticky:
                    self._sticky = cp.app
                    self._order = eng.order_for(cp.app)
            else:
                ev["app"] = self._app_for(env)
        else:
            ev = eng.fallback(text)
            app = ev["app"] = self._app_for(env)
            eng.stats.unrecognized[app] += 1
        kind = ev["kind"]
        if kind == "log" or kind == "error":
            eng.classify(ev)
        # Finish: time (own, envelope's, inherited or read), where it came from, the line itself.
        ts = ev["ts"]
        if ts is not None:
            self._last_ts = ts
        elif env is not None and env.ts is not None:
            ev["ts"] = self._last_ts = env.ts
        elif self._last_ts is not None and eng.inherit_ts:
            ev["ts"] = self._last_ts
            ev["ts_source"] = "previous"
        else:
            ev["ts"] = format_ts(eng.now())
            ev["ts_source"] = "read"
        if env is not None:
            c = env.container or self.container
            if c:
                ev["container"] = c
            if env.stream:
                ev["stream"] = env.stream
            h = env.host or self.host
            if h and "host" not in ev:
                ev["host"] = h
        elif self._located:
            if self.container:
                ev["container"] = self.container
            if self.host and "host" not in ev:
                ev["host"] = self.host
        ev["line"] = text
        ev["file"] = self.file
        return ev

    def _app_for(self, env: Envelope | None) -> str:
        if self._sticky:
            return self._sticky
        if env is not None and env.app_hint:
            return self._engine.app_for_hint(env.app_hint) or UNKNOWN
        return UNKNOWN


class Engine:
    """Compiled parser definitions plus the state shared by all streams."""

    def __init__(
        self,
        definitions: list[Definition] | None = None,
        *,
        max_line: int = 1 << 20,
        now: Callable[[], float] = time.time,
        stats: Stats | None = None,
        inherit_ts: bool = False,
    ) -> None:
        """`inherit_ts`: a line without a time takes the previous line's (replay of old files,
        where the read time says nothing); off, it takes the read time (live tailing)."""
        self.definitions = load_definitions() if definitions is None else definitions
        self.max_line = max_line
        self.now = now
        self.inherit_ts = inherit_ts
        self.stats = stats if stats is not None else Stats()
        self._by_app: dict[str, list[CompiledPattern]] = {}
        fallbacks: list[CompiledPattern] = []
        rules: list[ClassifyRule] = []
        over = None if all(map(is_builtin, self.definitions)) else self._over_budget
        for d in self.definitions:
            user = None if is_builtin(d) else over
            compiled = [CompiledPattern(d.app, p, not d.fallback, now, user) for p in d.patterns]
            if d.fallback:
                fallbacks.extend(compiled)
            else:
                self._by_app.setdefault(d.app, []).extend(compiled)
            rules.extend(d.classify)
        self.apps = tuple(self._by_app)
        self._fallbacks = tuple(fallbacks)
        self._orders: dict[str | None, _Order] = {}
        self._matchers: dict[tuple[int, ...], Matcher] = {}  # by the patterns' identities
        # Case-sensitive on purpose: an IGNORECASE alternation scans ~15x slower, and a phrase
        # is written the way the program prints it (list both spellings where both occur).
        self._rules = {r.contains: r for r in rules}
        self._rules_rx = (
            re.compile("|".join(re.escape(k) for k in sorted(self._rules, key=len, reverse=True)))
            if self._rules
            else None
        )
        self._hints: Memo[str, str | None] = Memo(self._app_in, 10_000)
        # classify: text → the rule phrase in it (None: none); messages repeat (slog lines differ in their
        # fields, not their msg), so the search runs once per message.
        self._phrases: Memo[str, str | None] = Memo(self._phrase_in, 4096)

    def _over_budget(self, key: str) -> None:
        self.stats.budget_exceeded[key] += 1

    def stream(self, file: str, *, container: str | None = None, app_hint: str | None = None,
               host: str | None = None) -> Stream:
        """A new stream for one file; `app_hint` (from a path or container name) is a hint at most."""
        return Stream(self, file, container, app_hint, host)

    def parse_lines(self, lines: Iterable[bytes | str], file: str = "-") -> list[Event]:
        """Events for lines (framed already) of one stream, flushed (tests, samples, the library API)."""
        s = self.stream(file)
        return s.feed(lines) + s.flush()

    def order_for(self, app: str | None) -> _Order:
        """Patterns in the order a stream of `app` tries them: its own, every other app's, the fallbacks;
        by a line's first character, leaving out the anchored patterns that cannot start with it."""
        order = self._orders.get(app)
        if order is None:
            first = self._by_app.get(app or "", [])
            rest = [cp for a, cps in self._by_app.items() if a != app for cp in cps]
            cps = (*first, *rest, *self._fallbacks)
            # Every ASCII first character gets its own matcher; any other line (and "") tries them all.
            order = _Order({"": self._matcher(cps)})
            for c in map(chr, range(128)):
                order[c] = self._matcher(tuple(cp for cp in cps if cp.may_start(c)))
            self._orders[app] = order
        return order

    def _matcher(self, cps: tuple[CompiledPattern, ...]) -> Matcher:
        key = tuple(map(id, cps))
        found = self._matchers.get(key)
        if found is None:
            found = self._matchers[key] = compile_matcher(cps)
        return found

    def first_pattern(self, app: str, line: str) -> str | None:
        """The name of the first of `app`'s patterns that gives an event for `line` (what `check` reports
        as covered): the engine's own matcher, restricted to that app."""
        _ev, cp = self._matcher(tuple(self.patterns(app)))(line)
        return cp.name if cp is not None else None

    def patterns(self, app: str) -> list[CompiledPattern]:
        """One app's compiled patterns, in their definition's order (fallbacks under their own name)."""
        if app in self._by_app:
            return list(self._by_app[app])
        return [cp for cp in self._fallbacks if cp.app == app]

    def app_for_hint(self, hint: str) -> str | None:
        """The known app a container/program/path name points at (`miner-ollama-1` → ollama)."""
        return self._hints[hint]

    def _app_in(self, hint: str) -> str | None:
        flat = re.sub(r"[^a-z0-9]", "", hint.lower())
        return next((a for a in self.apps if a in flat), None)

    def _phrase_in(self, text: str) -> str | None:
        assert self._rules_rx is not None
        m = self._rules_rx.search(text)
        return m.group(0) if m is not None else None

    # -- building events ------------------------------------------------------------------

    def fallback(self, text: str) -> Event:
        """A `log` event for a line no pattern explains: time and level by heuristics."""
        ts = None
        level = None
        m = _LEAD_TS.match(text)
        rest_at = 0
        if m is not None:
            ts = parse_ts(m.group(1), "auto", self.now())
            rest_at = m.end()
        lm = _LEAD_LEVEL.match(text, rest_at)
        if lm is not None:
            level = normalise_level(lm.group(1))
        elif "level=" in text:
            km = _LEVEL_KV.search(text)
            if km is not None:
                level = normalise_level(km.group(1))
        return {"ts": ts, "app": UNKNOWN, "kind": "log", "level": level or "info", "msg": text}

    def classify(self, ev: Event) -> None:
        """Timeouts and crash phrases read alike in every app: re-kind `log`/`error` events by them.

        The phrase is looked for in the message and the error, not in the whole line: that is where
        programs put it, and a timestamp or URL elsewhere in the line says nothing about the outcome.
        """
        if self._rules_rx is not None:
            err = ev.get("error")
            text = ev["msg"] if err is None else f"{ev['msg']}\n{err}"
            found = self._phrases[text]
            if found is not None:
                rule = self._rules[found]
                if rule.kind == "timeout" and ev["kind"] != "timeout":
                    ev["kind"] = "timeout"
                    ev["operation"] = rule.operation
                    if ev["level"] == "info" and rule.level:
                        ev["level"] = rule.level
                    return
                if rule.kind == "error":
                    ev["kind"] = "error"
                    ev.setdefault("error", ev["msg"])
                    return
        if ev["kind"] == "log" and ev["level"] == "error":
            ev["kind"] = "error"
            ev.setdefault("error", ev["msg"])
