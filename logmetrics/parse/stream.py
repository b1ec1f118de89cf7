"""One input stream (a file): what an event depends on besides its own line.

The app the stream has been recognised as (a file rarely changes format: its
own patterns are tried first), runtime-split lines (CRI `P`, Docker pieces),
multiline records (Python tracebacks, Go panics, PEM keys), llama.cpp timing
blocks (one inference event per block, one model load per loaded model), and
time: a line without its own time takes its envelope's, else — in a replay or
while catching up a backlog — the time of the line before it, or at a file's
start the next timed line's (a bounded look-ahead), or the file's time; only a
line read live takes the read time. `ts_source` says which.

`holding` is True while any of that waits for more lines: the tailer never
saves a position past it, and parallel replay reads on past a chunk's end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .compile import CompiledPattern, Matcher
from .envelopes import Envelope, merge, peel, strip_ansi, unwrap
from .generic import epoch_in, header_ts, level_in
from .timestamps import format_ts

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Orders", "Repeats", "State", "Stream"]

Event = dict[str, Any]
# Sticky app, last own time, last model load time, and the lines already seen at the last event time.
# Sticky app, last own time, last model load time, the lines seen at the last event time, and the app
# whose patterns come first for each first character.
State = tuple[str | None, str | None, float | None, "Repeats", "Orders"]
Repeats = tuple[str | None, tuple[tuple[str, int], ...]]
Orders = tuple[tuple[str, str | None], ...]
UNKNOWN = "unknown"

_BARE_STARTS = ("time=", "level=")  # slog and logfmt: no envelope starts so
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_BRACKETED = frozenset("0123456789p")  # `[PID] ` (llama.cpp) and `[pod/` (kubectl): the only envelopes in brackets
_TRACEBACK = "Traceback (most recent call last):"
# Go's runtime also opens a crash with the signal's name when it arrives in C code (cgo: llama.cpp, ggml):
# `SIGSEGV: segmentation violation`, then `PC=… m=… sigcode=…`, `signal arrived during cgo execution`.
_ML_STARTS = (_TRACEBACK, "panic: ", "fatal error: ", "SIGSEGV: ", "SIGBUS: ", "SIGABRT: ", "SIGILL: ", "SIGFPE: ")
_ML_FIRST = "TpfS"  # their first characters: most lines are ruled out without `startswith`
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
_LOOKAHEAD = 1000  # untimed lines held at a file's start, waiting for a timed one
_TIMING_KEYS = ("prompt_tokens", "prompt_ms", "completion_tokens", "eval_ms")
_REPEATS_MAX = 1000  # distinct lines remembered at one time (a burst of more may repeat unmarked)


def _pem_opens(text: str) -> bool:
    """A private key's BEGIN line whose END is not on the same line."""
    m = _PEM_OPEN.search(text)
    return m is not None and _PEM_END not in text[m.end():]


class _Matchers(dict[str, Matcher]):
    """A stream's matcher per first character: the order of the app whose pattern last matched a line
    starting with it, else of the stream's app when a line first started with it (`apps`, part of the
    stream's state). A file that interleaves two apps' lines (a shared log, a collector's) keeps each
    shape's own patterns first instead of flipping on every line."""

    __slots__ = ("_stream", "apps")

    def __init__(self, stream: Stream, apps: Orders = ()) -> None:
        super().__init__()
        self._stream = stream
        self.apps: dict[str, str | None] = dict(apps)
        for c, app in apps:
            self[c] = stream._engine.order_for(app)[c]

    def __missing__(self, first: str) -> Matcher:
        st = self._stream
        return self.use(first, st._sticky)

    def use(self, first: str, app: str | None) -> Matcher:
        """Lines starting with `first` try `app`'s patterns first from now on."""
        self.apps[first] = app
        m = self[first] = self._stream._engine.order_for(app)[first]
        return m


class Stream:
    """One input stream (a file): its sticky app, held lines and records, and its time."""

    __slots__ = ("_ahead", "_block", "_block_env", "_block_lines", "_engine", "_last_load", "_last_ts", "_located",
                 "_ml", "_ml_env", "_ml_kind", "_order", "_part", "_part_env", "_ready", "_rep", "_rep_first",
                 "_rep_ts", "_sticky", "container", "file", "file_time", "host", "inherit_ts")

    def __init__(self, engine: Engine, file: str, container: str | None, app_hint: str | None,
                 host: str | None = None, file_time: float | None = None) -> None:
        self._engine = engine
        self.file = file
        self.container = container
        self.host = host
        self.file_time = file_time  # the file's mtime: the time of what has none and nothing to inherit
        self.inherit_ts = engine.inherit_ts  # replay, or a backlog: never the read time
        self._sticky: str | None = engine.app_for_hint(app_hint) if app_hint else None
        self._order = _Matchers(self)
        self._part: list[str] = []  # CRI `P` / Docker no-newline pieces
        self._part_env: Envelope | None = None
        self._ml: list[str] = []  # a traceback, panic or PEM key being collected
        self._ml_env: Envelope | None = None
        self._ml_kind = ""
        self._block: Event | None = None  # a llama.cpp timing block being collected
        self._block_lines: list[str] = []
        self._block_env: Envelope | None = None
        self._last_load: float | None = None  # the last `load time` seen (every block repeats it)
        self._ahead: list[Event] = []  # untimed events at the file's start, waiting for a time
        self._ready: list[Event] = []  # events completed by the line just parsed, before its own
        self._last_ts: str | None = None  # the last time a line of this stream carried
        self._located = bool(container or host)  # anything to add to events besides line and file
        # The time of the last event out, the first line at it, and (once a second line has it) how
        # often each line had it: most times carry one line, and those cost no dictionary.
        self._rep_ts: str | None = None
        self._rep_first: str | None = None
        self._rep: dict[str, int] | None = None

    _fast = True  # `feed` inlines the common line (detection turns it off to see every line's pattern)

    @property
    def app(self) -> str:
        """The app this stream has been recognised as (`unknown` before any line matched)."""
        return self._sticky or UNKNOWN

    @property
    def holding(self) -> bool:
        """True while lines wait for their record's end or a time (positions must not pass them)."""
        return bool(self._part or self._ml or self._block is not None or self._ahead)

    def state(self) -> tuple[str | None, str | None, float | None, Repeats, Orders, bool]:
        """What the next line's event depends on: sticky app, last own time, last model load, the lines
        seen at the last time, the pattern order per first character, something held."""
        rep = self._rep
        seen = tuple(rep.items()) if rep is not None else ((self._rep_first, 0),) if self._rep_first is not None else ()
        orders = tuple(sorted(self._order.apps.items(), key=lambda kv: kv[0]))
        return self._sticky, self._last_ts, self._last_load, (self._rep_ts, seen), orders, self.holding

    def restore(self, sticky: str | None, last_ts: str | None, last_load: float | None,
                repeats: Repeats = (None, ()), orders: Orders = ()) -> None:
        """Continue as if the lines before had just been read (parallel replay seams); drops held lines."""
        self._rep_ts, seen = repeats
        self._rep_first = seen[0][0] if seen else None
        self._rep = dict(seen) if len(seen) > 1 or (seen and seen[0][1]) else None
        self._sticky = sticky
        self._order = _Matchers(self, orders)
        self._last_ts = last_ts
        self._last_load = last_load
        self._part.clear()
        self._part_env = None
        self._ml, self._ml_env = [], None
        self._block, self._block_lines, self._block_env = None, [], None
        self._ahead.clear()
        self._ready.clear()

    def feed(self, lines: Iterable[bytes | str]) -> list[Event]:
        """Events for these lines (framed already: without their newlines, cut to max_line — see
        sources/framing.py), in order; may hold back a record, a timing block or untimed lines."""
        eng = self._engine
        stats = eng.stats
        max_line = eng.max_line
        out: list[Event] = []
        append = out.append
        parse = self._general
        ready = self._ready
        fast = self._fast
        classify = eng.classify
        file = self.file
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
                # The shapes that are never inside an envelope (a GIN access line, slog) skip the call.
                # Only a line starting like an envelope can be one: skip the call for the rest (a GIN
                # line, slog and logfmt: `[` is only kubectl's `[pod/` or llama.cpp's `[PID] `; a lower-case
                # start only a syslog month in some locales, `tag[pid]: ` or a compose `name |`).
                c0 = text[:1]  # "" when the line was only "\r" or an escape sequence
                if c0 == "[":
                    env = unwrap(text, eng.now) if text[1:2] in _BRACKETED and (
                        text[1] != "p" or text.startswith("[pod/")) else None
                elif c0 in _LOWER:
                    env = None if text.startswith(_BARE_STARTS) or not (
                        (":" in text[9:22] and (text[3:4] == " " or text[4:5] == " " or ". " in text[3:6]))
                        or "]: " in text[:80] or "|" in text[:80]) else unwrap(text, eng.now)
                elif c0.isdigit() and text[10:11] == "T" and "=" in text[20:36] and " std" not in text[19:48]:
                    env = None  # an ISO stamp, then `key=value`: a logfmt line (a wrapper has a host or stream)
                else:
                    env = unwrap(text, eng.now) if c0 else None
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
                    elif kind == "py-end":  # after the exception line: only a chained cause continues it
                        ends = False
                        if text.startswith(_TRACEBACK):
                            self._ml_kind = "py"
                    else:
                        ends = False
                        if kind == "py" and text[:1] not in (" ", "\t", "") and _PY_EXC.match(text) is not None:
                            self._ml_kind = "py-end"  # complete, unless `The above exception …` follows
                    if ends or len(self._ml) >= 1000:
                        self._ml_flush()
                        out += ready
                        ready.clear()
                    continue
                self._ml_flush()
            if text[:1] in _ML_FIRST and text.startswith(_ML_STARTS):
                self._close_block()
                self._ml, self._ml_env = [text], env
                self._ml_kind = "py" if text[0] == "T" else "go"
            elif _PEM_BEGIN in text and _pem_opens(text):
                # A private key printed over several lines: one event, so redaction sees the whole block.
                self._close_block()
                self._ml, self._ml_env, self._ml_kind = [text], env, "pem"
            else:
                if fast and env is None:
                    ev, cp = self._order[text[:1]](text)
                    if cp is not None and cp.plain and self._block is None and ev is not None and (
                            ev["ts"] is not None
                            or (self._last_ts is not None and self.inherit_ts and "timestamp" not in text)):
                        # The common line, inlined: an app's own line, bare, timed or inheriting a time,
                        # no block open; what `_general` does for it, in the same order.
                        if not cp.sticky:  # an app's output inside another's: the stream's app
                            ev["app"] = self._sticky or cp.app
                        elif cp.app != self._sticky:
                            self._sticky = cp.app
                            self._order.use(text[:1], cp.app)
                        kind = ev["kind"]
                        if kind == "log" or kind == "error":
                            if ev["level"] is None:
                                self._levels(ev, cp)
                            else:
                                classify(ev)
                        elif ev["level"] is None:
                            self._levels(ev, cp)
                        ts = ev["ts"]
                        if ts is None:
                            ts = ev["ts"] = self._last_ts
                            ev["ts_source"] = "previous"
                        else:
                            self._last_ts = ts
                        if self._located:
                            self._locate(ev, None, text)
                        else:
                            ev["line"] = text
                            ev["file"] = file
                        if self._ahead:  # untimed lines at the file's start take this time
                            self._release(ts, "next")
                        if ts != self._rep_ts:  # `_mark`, inlined
                            self._rep_ts, self._rep_first, self._rep = ts, text, None
                        else:
                            self._repeat(ev, text)
                        if ready:  # a record this line closed, untimed lines it gave a time: before it
                            out += ready
                            ready.clear()
                        append(ev)
                        continue
                    ev = self._general(text, None, (ev, cp))
                else:
                    ev = parse(text, env)
                if ready:  # events this line completed (a timing block, untimed lines it gave a time)
                    out += ready
                    ready.clear()
                if ev is not None:
                    append(ev)
                continue
            if ready:
                out += ready
                ready.clear()
        stats.lines += n
        stats.file_lines[self.file] += n
        return out

    def _mark(self, ev: Event) -> None:
        """`repeat: n` on the n-th event identical to an earlier one at the same time (the same line
        printed twice in a second, untimed lines that inherit one time), so that stores which keep one
        of identical entries (Loki) keep them all. Called in the order events go out, with their time."""
        ts, line = ev["ts"], ev["line"]
        if ts != self._rep_ts:
            self._rep_ts, self._rep_first, self._rep = ts, line, None
        else:
            self._repeat(ev, line)

    def _repeat(self, ev: Event, line: str) -> None:
        """`_mark` for a second or later event at the same time."""
        rep = self._rep
        if rep is None:
            first = self._rep_first
            if line == first:
                self._rep = {line: 1}
                ev["repeat"] = 1
            else:
                self._rep = {first: 0, line: 0} if first is not None else {line: 0}
            return
        n = rep.get(line)
        if n is None:
            if len(rep) >= _REPEATS_MAX:
                rep.clear()
            rep[line] = 0
        else:
            rep[line] = n + 1
            ev["repeat"] = n + 1

    def settle(self) -> list[Event]:
        """Caught up with a backlog: untimed lines still waiting at the file's start take the file's time
        now (what follows is read live), instead of waiting for an idle flush."""
        self.inherit_ts = False
        if not self._ahead:
            return []
        self._release(*self._file_time())
        out = self._ready[:]
        self._ready.clear()
        return out

    def flush(self) -> list[Event]:
        """Emit whatever is held (end of file, idle, rotation, shutdown)."""
        if self._part:
            env = self._part_env
            text = "".join(self._part)[: self._engine.max_line]
            self._part.clear()
            self._part_env = None
            ev = self._general(text, env._replace(text=text, partial=False) if env else None)
            if ev is not None:
                self._ready.append(ev)
        if self._ml:
            self._ml_flush()
        self._close_block()
        if self._ahead:  # nothing timed came: the file's own time, else (only then) the read time
            held = self._ahead[:]
            self._ahead.clear()
            ts, source = self._file_time()
            for ev in held:
                ev["ts"], ev["ts_source"] = ts, source
                self._mark(ev)
            self._ready += held
        out = self._ready[:]
        self._ready.clear()
        return out

    # -- multiline records ---------------------------------------------------------------------------

    def _ml_continues(self, text: str) -> bool:
        if not text or text[0] in " \t" or self._ml_kind == "pem":
            return True
        if self._ml_kind == "py":
            return text.startswith(("During handling", "The above exception", _TRACEBACK)) or bool(
                _PY_EXC.match(text)
            )
        if self._ml_kind == "py-end":
            return text.startswith(("During handling", "The above exception", _TRACEBACK))
        return bool(_GO_FRAME.match(text)) or text.startswith(("goroutine ", "panic: ", "[recovered]", "PC=",
                                                                "signal arrived during "))

    def _ml_flush(self) -> None:
        """The record collected so far as one event (to `_ready`, or held for a time)."""
        lines, env = self._ml, self._ml_env
        self._ml, self._ml_env = [], None
        ev, _cp, env, _ = self._event(lines[0], env)  # the first line's facts (time, app), then the whole record
        if self._ml_kind != "pem":  # a traceback or a panic: one error
            while len(lines) > 1 and not lines[-1].strip():
                lines.pop()
            if self._ml_kind != "go":
                msg = next((x for x in reversed(lines) if x and x[0] not in " \t"), lines[0])
            else:
                msg = lines[0]
            level = ev["level"] if ev["level"] in ("error", "warn") else "error"
            rec: Event = {k: ev[k] for k in ("ts", "app") if k in ev}
            rec.update(kind="error", level=level, msg=msg, error=msg)
            ev = rec
        done = self._finish(ev, env, "\n".join(lines))
        if done is not None:
            self._ready.append(done)

    # -- llama.cpp timing blocks ----------------------------------------------------------------------

    def _timing(self, ev: Event, env: Envelope | None, text: str) -> None:
        """A line of a timing block: fields into the block; a new `load time` value is a model load.

        llama.cpp prints `load time` in every block, the same value for as long as the model stays
        loaded: only a changed value is a load. In a stream Ollama writes, loads are its own
        `llama runner started in …` lines, so `load time` lines count none.
        """
        if ev["kind"] == "model_load":  # the first line of a block (after perf's sampler line)
            if self._block is not None and any(k in self._block for k in _TIMING_KEYS):
                self._close_block()
            load = ev["duration_ms"]
            if load != self._last_load and self._sticky != "ollama":
                done = self._finish(ev, env, text)
                if done is not None:
                    self._ready.append(done)
            self._last_load = load
            self._block_lines.append(text)
            self._block_env = self._block_env or env
            return
        block = self._block
        fields = {k: ev[k] for k in _TIMING_KEYS if k in ev}
        if block is not None and any(k in block for k in fields):  # a second prompt eval: the next block
            self._close_block()
            block = None
        if block is None:
            block = self._block = ev
            self._block_env = self._block_env or env
        else:
            block.update(fields)
            if "tokens_per_s" in ev and ("completion_tokens" in ev or "eval_ms" in ev
                                         or "completion_tokens" not in block):
                block["tokens_per_s"] = ev["tokens_per_s"]  # the generation rate, else the prompt's
            if block["ts"] is None and ev["ts"] is not None:
                block["ts"] = ev["ts"]
        self._block_lines.append(text)

    def _close_block(self) -> None:
        block, lines, env = self._block, self._block_lines, self._block_env
        self._block, self._block_lines, self._block_env = None, [], None
        if block is None:
            return
        done = self._finish(block, env, "\n".join(lines))
        if done is not None:
            self._ready.append(done)

    # -- one line -------------------------------------------------------------------------------------

    def _general(self, text: str, env: Envelope | None,
                 matched: tuple[Event | None, CompiledPattern | None] | None = None) -> Event | None:
        """The line's event, or None while it waits (in a timing block, or for a time): every line that
        `feed`'s inlined common case does not take (wrappers, blocks, untimed lines; `matched`: the
        patterns' answer, if asked already)."""
        ev, cp, env, text = self._event(text, env, matched)
        if cp is not None and cp.block is not None:
            self._timing(ev, env, text)
            return None
        if self._block is not None:
            self._close_block()
        return self._finish(ev, env, text)

    def _levels(self, ev: Event, cp: CompiledPattern | None, wrapper_level: str | None = None) -> None:
        """Classify and level an event: the level the line states wins, then its format's, then its
        wrapper's (syslog's PRI, busybox's facility.level, journald's PRIORITY), then its kind's (a
        request's by its status)."""
        if ev["level"] is None:
            if cp is not None and cp.declared_level is not None:
                ev["level"] = cp.declared_level
            elif wrapper_level is not None:
                ev["level"] = wrapper_level
        kind = ev["kind"]
        if kind == "log" or kind == "error":
            self._engine.classify(ev)
            kind = ev["kind"]
        if ev["level"] is None:
            if kind == "request":
                st = ev["status"]
                ev["level"] = "error" if st >= 500 else "warn" if st >= 400 else "info"
            else:
                ev["level"] = "error" if kind == "error" or kind == "timeout" else "info"

    def _event(self, text: str, env: Envelope | None,
               matched: tuple[Event | None, CompiledPattern | None] | None = None
               ) -> tuple[Event, CompiledPattern | None, Envelope | None, str]:
        """The line's event before its time (pattern, app, kind, level), and the line itself (inside
        the envelopes that only its content proved). `matched`: the patterns' answer, if asked already."""
        eng = self._engine
        ev, cp = self._order[text[:1]](text) if matched is None else matched
        if cp is None or cp.generic:
            # Unrecognised, or only a shape every program prints: maybe an app's line inside a wrapper
            # that only its content proves (a viewer's stamp, a quote, a JSON logger's message).
            again = self._reread(text, env, ev, cp)
            if again is not None:
                ev, cp, text, env = again
        if ev is not None and cp is not None:
            if cp.sticky:
                if cp.app != self._sticky:
                    self._sticky = cp.app
                    self._order.use(text[:1], cp.app)
            else:
                app = self._app_for(env)
                ev["app"] = cp.app if cp.embedded and app == UNKNOWN else app
        else:
            # Inside a wrapper with a time, the line's own stamp must open the line to win over it.
            ev = eng.fallback(text, leading=env is not None and env.ts is not None)
            app = ev["app"] = self._app_for(env)
            eng.stats.unrecognized[app] += 1
            eng.stats.file_unrecognized[self.file] += 1
        if cp is not None and cp.generic and ev["ts"] is None:  # a shape without a time: the header's
            ev["ts"] = header_ts(text, eng.now)
        env_level = env.level if env is not None else None
        if ev["level"] is None and cp is not None and cp.generic:  # a JSON/logfmt line without a level key
            ev["level"] = level_in(text)  # its header's
        elif env_level is not None and cp is not None and cp.level_by_status:
            ev["level"] = None  # the builder's level by status: the wrapper's comes before it
        self._levels(ev, cp, env_level)
        return ev, cp, env, text

    def _finish(self, ev: Event, env: Envelope | None, text: str) -> Event | None:
        """Time (own, envelope's, inherited, the next line's, the file's or read), location, the line.
        None when the event waits for a time (untimed lines at a file's start)."""
        ts = ev["ts"]
        if ts is None and "timestamp" in text:
            ts = ev["ts"] = epoch_in(text)  # llama.cpp's `| … timestamp=1717000000 …` tails
        if ts is None and env is not None and env.ts is not None:
            ts = ev["ts"] = env.ts
        if ts is not None:
            self._last_ts = ts
            if self._ahead:  # the untimed lines before it take this time
                self._release(ts, "next")
        elif self._last_ts is not None and self.inherit_ts:
            ev["ts"] = self._last_ts
            ev["ts_source"] = "previous"
        elif self.inherit_ts:
            if len(self._ahead) < _LOOKAHEAD:  # a file's start: wait for the next timed line
                self._locate(ev, env, text)
                self._ahead.append(ev)
                return None
            self._release(*self._file_time())
            ev["ts"], ev["ts_source"] = self._file_time()
        else:
            ev["ts"] = format_ts(self._engine.now())
            ev["ts_source"] = "read"
        self._locate(ev, env, text)
        self._mark(ev)
        return ev

    def _file_time(self) -> tuple[str, str]:
        t = self.file_time
        return (format_ts(t), "file") if t is not None else (format_ts(self._engine.now()), "read")

    def _release(self, ts: str, source: str) -> None:
        """The untimed lines held at the file's start, with this time, before what comes next."""
        for held in self._ahead:
            held["ts"], held["ts_source"] = ts, source
            self._mark(held)
        self._ready += self._ahead
        self._ahead.clear()

    def _locate(self, ev: Event, env: Envelope | None, text: str) -> None:
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

    def _reread(self, text: str, env: Envelope | None, ev: Event | None, cp: CompiledPattern | None
                ) -> tuple[Event, CompiledPattern, str, Envelope | None] | None:
        """An app's line inside this one: a JSON logger's message (pino, bunyan, winston), or past
        envelopes only their content proves (envelopes.peel). The inner line decides app, kind, level
        and time; the wrapper's fill what it leaves unset. None when nothing inside is recognised."""
        eng = self._engine
        if ev is not None and cp is not None and cp.json_body is not None:
            inner = ev["msg"]
            if type(inner) is str and 8 <= len(inner) < len(text):
                wrapper = Envelope(inner, "json", ts=ev["ts"], level=ev["level"], host=ev.get("host"))
                got = self._app_line(inner, merge(env, wrapper))
                if got is not None:
                    return got
        t, e = text, env
        for _ in range(4):
            w = peel(t, eng.now)
            if w is None:
                return None
            e, t = merge(e, w), w.text
            if not t:
                return None
            got = self._app_line(t, e)
            if got is not None:
                return got
        return None

    def _app_line(self, text: str, env: Envelope | None) -> tuple[Event, CompiledPattern, str, Envelope | None] | None:
        """`text` (its strict envelopes peeled) if an app's pattern recognises it."""
        inner = unwrap(text, self._engine.now)
        if inner is not None:
            env, text = merge(env, inner), inner.text
        ev, cp = self._order[text[:1]](text)
        if ev is not None and cp is not None and not cp.generic:
            return ev, cp, text, env
        return None

    def _app_for(self, env: Envelope | None) -> str:
        if self._sticky:
            return self._sticky
        if env is not None and env.app_hint:
            return self._engine.app_for_hint(env.app_hint) or UNKNOWN
        return UNKNOWN
