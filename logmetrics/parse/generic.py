"""Reading a line no pattern explains: its time, level and whether it is an error, from its header.

Most programs print `[stamp] [level] message` in some order and punctuation:
`2024-08-09 11:31:53,267 - urllib3 - DEBUG - …`, `[DEBUG][2024-05-10 04:25:32][x.py:70] - …`,
`ERROR 2025-10-25T14:52:20 +1ms service=…`, `[W 2022-07-29 10:27:00.937 ServerApp] …`,
`[2512:0406/110430.418822:ERROR:viz_main_impl.cc(176)] …`. The header is the line's
first ~100 characters: the first timestamp in it (timestamps.stamp_at, at the
start of a token) and the first level word in it (upper case, or lower case
inside brackets, or one of the one-letter forms) are the line's. A level word
deep in the message says nothing. A line that states no level and reads like an
error (`Error: …`, an exception class, `… failed …`) is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .compile import normalise_level
from .timestamps import format_ts, stamp_at

__all__ = ["HEADER", "epoch_in", "errorish", "header_stamp", "header_ts", "leads", "level_in", "read_line"]

HEADER = 100  # characters of a line searched for its stamp and level
# Where a timestamp may start: the line's start, or a token's (after a space, bracket, bar, comma).
_STAMP_AT = re.compile(r"(?:^|(?<=[\s\[(|,=]))(?=\d{2}|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|[A-Z][a-z]{2}) \S)")
_LEVEL = re.compile(
    r"(?<![\w-])(TRACE|DEBUG|DEBG|DBUG|VERBOSE|INFO|NOTICE|WARNING|WARNI|WARN|ERROR|EROR|ERR|CRITICAL|CRIT|FATAL"
    r"|PANIC|EMERG|ALERT|SEVERE)(?![\w-])"
    r"|[\[<(](trace|debug|info|notice|warn|warning|error|err|crit|critical|fatal|alert|emerg|panic) *+[\]>):]"
    r"|\b(?:level|lvl|severity|loglevel)[=:]\s?\"?(\w+)"
    r"|^\[?([IWEDF])(?:\d{4} | \d{4}-\d\d-\d\d | \d{6} |:)"  # glog/klog I0517, tornado/jupyter `[W 2022-…`
    r"|\[([IWEF]):[A-Za-z]"  # onnxruntime `[W:onnxruntime:…]`
    r"|:(INFO|WARNING|ERROR|FATAL|VERBOSE\d?):"  # Chromium `[pid:MMDD/HHMMSS.us:ERROR:file.cc(n)]`
)
_EPOCH = re.compile(r"\btimestamp\"?[=:]\s?\"?(\d{10}(?:\d{3})?)\b")
# Errors without a level word: `Error: …`, an exception's class (`aiohttp.client_exceptions.X`,
# `requests.exceptions.ReadTimeout: …`), `Exception in thread …`, and messages saying something failed.
_ERRORISH = re.compile(
    r"^(?:error|fatal|panic|fatal error)\b[:!]|^(?:Error|ERROR|FATAL)\b"
    r"|^(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Failure)(?:$|[:(\s])"
    r"|^Exception in thread|Traceback \(most recent call last\)"
    r"|\b(?:error|Error)(?::| occurred| while| when)|\bgot an error\b"
    r"|\b(?:failed|failure|fatal|cannot|could not|couldn't|unable to|segmentation fault|aborted|abort)\b"
    r"|\b(?:\w+Error|\w+Exception)\b:",
)


def level_in(text: str) -> str | None:
    """The level the line's header states (see the module's docstring); None when it states none."""
    lm = _LEVEL.search(text, 0, HEADER)
    return None if lm is None else normalise_level(next(g for g in lm.groups() if g is not None))


def header_stamp(text: str, now: Callable[[], float] | None = None) -> tuple[str | None, int]:
    """The first timestamp at a token's start in the line's header and where it starts, else an epoch
    `timestamp` key (at -1); (None, -1) when there is neither."""
    t_now = now() if now is not None else None
    for m in _STAMP_AT.finditer(text, 0, HEADER):
        st = stamp_at(text, m.start(), t_now)
        if st is not None:
            return st.ts, m.start()
    return (epoch_in(text) if "timestamp" in text else None), -1


def header_ts(text: str, now: Callable[[], float] | None = None) -> str | None:
    """`header_stamp`'s time."""
    return header_stamp(text, now)[0]


def leads(text: str, pos: int) -> bool:
    """A stamp at `pos` opens the line (at most one token before it: `[W 2022-…`, `INFO 2024-…`), rather
    than being a date the message mentions (`ntpd 4.2.0a … Mon May 29 02:48:41 UTC 2006`)."""
    return pos >= 0 and text.count(" ", 0, pos) <= 1


def read_line(text: str, now: Callable[[], float] | None = None, *, leading: bool = False) -> dict[str, Any]:
    """A `log` event for a line no pattern explains (level None when the line states none).
    `leading`: only a stamp that opens the line counts (inside a wrapper that has its own time)."""
    ts, pos = header_stamp(text, now)
    if leading and not leads(text, pos):
        ts = None
    return {"ts": ts, "app": "unknown", "kind": "log", "level": level_in(text), "msg": text}


def epoch_in(text: str) -> str | None:
    """The time of a `timestamp=1717000000` (or `"timestamp":…`, ms too) key in the line."""
    e = _EPOCH.search(text)
    if e is None:
        return None
    digits = e.group(1)
    return format_ts(int(digits) / (1000 if len(digits) == 13 else 1))


# Words one of which every `_ERRORISH` match contains: most lines are ruled out by these scans alone.
_ERROR_WORDS = ("rror", "RROR", "xception", "ail", "atal", "ATAL", "Traceback", "annot", "ould", "nable",
                "egmentation", "abort", "panic")


def errorish(msg: str) -> bool:
    """A message that reads like an error though its line states no level."""
    for w in _ERROR_WORDS:
        if w in msg:
            return _ERRORISH.search(msg) is not None
    return False
