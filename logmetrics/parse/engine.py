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
from .compile import CompiledPattern, Matcher, compile_matcher
from .definitions import ClassifyRule, Definition, is_builtin, load_definitions
from .generic import errorish, read_line
from .stream import Stream

__all__ = ["Engine", "Stats", "Stream"]

Event = dict[str, Any]
UNKNOWN = "unknown"

class _Order(dict[str, Matcher]):
    """A matcher per ASCII first character, made the first time a line starts with it (a stream
    sees a handful); any other first character (and "") gets the one that tries every pattern."""

    __slots__ = ("_make", "_patterns")

    def __init__(self, patterns: tuple[CompiledPattern, ...], make: Callable[[tuple[CompiledPattern, ...]], Matcher]
                 ) -> None:
        super().__init__()
        self._patterns, self._make = patterns, make

    def __missing__(self, first: str) -> Matcher:
        if len(first) == 1 and first < "\x80":
            m = self[first] = self._make(tuple(cp for cp in self._patterns if cp.may_start(first)))
        else:
            m = self[first] = self[""] if first else self._make(self._patterns)
        return m


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
        self._hint_names: list[tuple[str, str]] = []  # (flattened name, app) for app_for_hint
        for d in self.definitions:
            user = None if is_builtin(d) else over
            compiled = [CompiledPattern(d.app, p, not (d.fallback or d.embedded), now, user, embedded=d.embedded)
                        for p in d.patterns]
            if d.fallback:
                fallbacks.extend(compiled)
            else:
                self._by_app.setdefault(d.app, []).extend(compiled)
                self._hint_names += [(re.sub(r"[^a-z0-9]", "", h.lower()), d.app) for h in (*d.hints, d.app)]
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
               host: str | None = None, file_time: float | None = None) -> Stream:
        """A new stream for one file; `app_hint` (from a path or container name) is a hint at most;
        `file_time` (its mtime) is the time of lines that have none and nothing to take one from."""
        return Stream(self, file, container, app_hint, host, file_time)

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
            order = self._orders[app] = _Order((*first, *rest, *self._fallbacks), self._matcher)
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
        return next((a for name, a in self._hint_names if name in flat), None)

    def _phrase_in(self, text: str) -> str | None:
        assert self._rules_rx is not None
        m = self._rules_rx.search(text)
        return m.group(0) if m is not None else None

    # -- building events ------------------------------------------------------------------

    def fallback(self, text: str, *, leading: bool = False) -> Event:
        """A `log` event for a line no pattern explains: time and level from its header (generic.py);
        `leading`: only a stamp that opens the line is its time."""
        return read_line(text, self.now, leading=leading)

    def classify(self, ev: Event) -> None:
        """Timeouts and crash phrases read alike in every app: re-kind `log`/`error` events by them.

        The phrase is looked for in the message and the error, not in the whole line: that is where
        programs put it, and a timestamp or URL elsewhere in the line says nothing about the outcome.
        A level the line states wins over the phrase (`level=INFO … i/o timeout` is an info timeout);
        a line that states none takes the rule's, and reads as an error when it says something failed.
        """
        level = ev["level"]
        if self._rules_rx is not None:
            err = ev.get("error")
            text = ev["msg"] if err is None else f"{ev['msg']}\n{err}"
            found = self._phrases[text]
            if found is not None:
                rule = self._rules[found]
                if rule.kind == "timeout" and ev["kind"] != "timeout":
                    ev["kind"] = "timeout"
                    ev["operation"] = rule.operation
                    if level is None and rule.level:
                        ev["level"] = rule.level
                    return
                if rule.kind == "error":
                    ev["kind"] = "error"
                    ev.setdefault("error", ev["msg"])
                    if level is None:
                        ev["level"] = "error"
                    return
        if ev["kind"] == "log" and (level == "error" or (level is None and errorish(ev["msg"]))):
            ev["kind"] = "error"
            ev["level"] = "error"
            ev.setdefault("error", ev["msg"])
