"""Field conversions: durations to milliseconds, timestamps to RFC 3339 UTC.

Both run once or twice per log line, so they avoid `datetime` on the common
paths: durations are parsed to integer nanoseconds (exact, then one correctly
rounded division), timestamps are re-assembled from slices, and the only
calendar arithmetic (zone offsets, validation) is memoised per second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..core.memo import Memo

__all__ = [
    "TIMESTAMP_FORMATS",
    "DurationError",
    "TsCache",
    "duration_ms",
    "format_go_duration",
    "format_ts",
    "go_duration_ns",
    "go_ms",
    "iso_converter",
    "parse_ts",
]


class DurationError(ValueError):
    """A duration string that no supported notation explains."""


# --- durations --------------------------------------------------------------

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # micro sign U+00B5, what Go prints
    "μs": 1_000,  # Greek mu U+03BC, what people type
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
# Unit suffix of a one-unit Go duration → the exponent that turns its number into ms.
_SUFFIX_EXP = {"ms": "", "µs": "e-3", "μs": "e-3", "us": "e-3", "ns": "e-6"}
# A bare number in `unit`: its nanoseconds, the exponent that makes it ms, and how many decimals
# still give whole nanoseconds (the integer route truncates below a nanosecond).
_UNIT_SCALE = {"ms": 1_000_000, "s": 1_000_000_000, "auto": 1_000_000_000, "us": 1_000, "ns": 1}
_UNIT_EXP = {"ms": "", "s": "e3", "auto": "e3", "us": "e-3", "ns": "e-6"}
_EXACT_FRAC = {"ms": 6, "s": 9, "auto": 9, "us": 3, "ns": 0}
# Possessive digits and a `match` at each position (not `finditer`): a run of digits with no unit
# fails once, in linear time, instead of being retried from every digit.
_GO_PART = re.compile(r"(\d++(?:\.\d*+)?|\.\d++)(ns|us|µs|μs|ms|s|m|h)")


def _decimal_ns(number: str, unit_ns: int) -> int:
    """`number` × `unit_ns`, exactly, for a plain decimal string (no float rounding)."""
    whole, _, frac = number.partition(".")
    ns = int(whole or "0") * unit_ns
    if frac:
        # unit_ns is a power of ten times 1, 60 or 3600: scale the fraction in integers.
        scaled = int(frac) * unit_ns
        ns += scaled // 10 ** len(frac)
    return ns


def go_duration_ns(text: str) -> int:
    """Parse a Go `time.Duration` string (`1h2m3.5s`, `178.535µs`, `-1.5s`, `0s`) to integer ns."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = 0
    match = _GO_PART.match
    while pos < len(s):
        m = match(s, pos)
        if m is None:
            break
        total += _decimal_ns(m.group(1), _UNIT_NS[m.group(2)])
        pos = m.end()
    if pos != len(s) or not s:
        raise DurationError(f"not a Go duration: {text!r}")
    return sign * total


def duration_ms(text: str, unit: str = "go") -> float:
    """Milliseconds from a duration string.

    `unit` says how the log writes it: `go` (Go duration with unit suffixes),
    `ms` / `s` / `us` (a bare number in that unit, as nginx writes `$request_time`
    in seconds), or `auto` (a number with an optional suffix; bare means seconds).
    """
    s = text.strip()
    if unit == "go" or (unit == "auto" and s and not s[-1].isdigit() and s[-1] != "."):
        # Fast paths for one-unit values (`4.709180529s`, `1245.67ms`, `28.205µs`): float() of a
        # decimal string with an exponent is correctly rounded, so these stay exact conversions.
        if s[-1:] == "s":
            c = s[-2:-1]
            if c.isdigit():
                num, exp = s[:-1], "e3"  # seconds
            else:
                num, suffix_exp = s[:-2], _SUFFIX_EXP.get(c + "s")  # ms, µs, us, ns
                if suffix_exp is None:
                    return go_duration_ns(s) / 1_000_000
                exp = suffix_exp
            if exp is not None and num[:1].isdigit() and num.replace(".", "", 1).isdigit():
                return float(num + exp)
        return go_duration_ns(s) / 1_000_000
    scale = _UNIT_SCALE.get(unit)
    if scale is None:
        raise DurationError(f"unknown duration unit {unit!r}")
    whole, _, frac = s.partition(".")
    if whole.isdigit() and s.isascii() and (not frac or frac.isdigit()) \
            and len(frac) <= _EXACT_FRAC[unit]:
        # A plain non-negative decimal whose ns are whole: float() of it, scaled by the exponent,
        # is the same correctly rounded value as the integer route below.
        return float(s + _UNIT_EXP[unit])
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    if not body or not body.replace(".", "", 1).isdigit():
        raise DurationError(f"not a number of {unit}: {text!r}")
    return sign * _decimal_ns(body, scale) / 1_000_000


def go_ms(text: str) -> float:
    """`duration_ms(text, "go")` for the hot path: one-unit values without a function maze."""
    tail = text[-2:]
    try:
        if tail == "ms":
            return float(text[:-2])
        if tail == "µs" or tail == "μs" or tail == "us":
            return float(text[:-2] + "e-3")
        if text[-1:] == "s" and tail[0].isdigit() and "m" not in text and "h" not in text:
            return float(text[:-1] + "e3")
    except ValueError:
        pass
    return go_duration_ns(text) / 1_000_000


def format_go_duration(ns: int) -> str:
    """Format integer nanoseconds the way Go's `Duration.String` does (for tests and the demo)."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                out = _trim(u, size) + unit
                break
    else:
        h, rem = divmod(u, 3_600_000_000_000)
        m, rem = divmod(rem, 60_000_000_000)
        out = _trim(rem, 1_000_000_000) + "s"
        if h:
            out = f"{h}h{m}m{out}"
        elif m:
            out = f"{m}m{out}"
    return ("-" + out) if neg else out


def _trim(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


# --- timestamps --------------------------------------------------------------

TIMESTAMP_FORMATS = ("auto", "iso", "go", "clf", "epoch", "syslog")

_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s?(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?"
)
_GO = re.compile(r"(\d{4})/(\d\d)/(\d\d)(?: - | +|T)(\d\d):(\d\d):(\d\d)(?:[.,](\d+))?")
_CLF = re.compile(r"(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?: ([+-]\d{4}))?")
_SYSLOG = re.compile(r"(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                        "oct", "nov", "dec"), 1)}

_CACHE_MAX = 8_192
_UTC_NAMES = ("Z", "z", "UTC")


_SECOND_SHAPE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _looks_canonical(s: str) -> bool:
    """Shaped like our own output `YYYY-MM-DDTHH:MM:SS.mmmZ` (the second and digits still to check)."""
    return len(s) == 24 and s[23] == "Z" and s[19] == "." and s[10] == "T"


def _ascii_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _utc_second(local: str, offset: str) -> str | None:
    """`YYYY-MM-DDTHH:MM:SS` (as written, with its offset) as the UTC second, None when it is not one."""
    if len(local) != 19:
        return None
    if not offset or offset in _UTC_NAMES:
        # A miss here happens once per second of log; lines of one minute share the checked part
        # (shape, calendar, hour, minute), so only the seconds are looked at per second.
        sec = local[17:19]
        return local if _MINUTE_OK[local[:17]] and sec.isdecimal() and int(sec) < 60 else None
    return _OFFSET_SECOND[(local, offset)]


def _shifted(key: tuple[str, str]) -> str | None:
    local, offset = key
    if _SECOND_SHAPE.fullmatch(local) is None:
        return None
    try:
        dt = datetime(int(local[0:4]), int(local[5:7]), int(local[8:10]),
                      int(local[11:13]), int(local[14:16]), int(local[17:19]))
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        return (dt - timedelta(minutes=sign * minutes)).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


# 'YYYY-MM-DDTHH:MM:' (UTC) -> whether that minute exists: the calendar checked once per minute.
_MINUTE_OK: Memo[str, bool] = Memo(lambda minute: _valid_utc(minute + "00"), _CACHE_MAX)
# (YYYY-MM-DDTHH:MM:SS as written, a non-UTC offset) -> the UTC second, or None when invalid.
_OFFSET_SECOND: Memo[tuple[str, str], str | None] = Memo(_shifted, _CACHE_MAX)


def _valid_utc(local: str) -> bool:
    """`YYYY-MM-DDTHH:MM:SS` naming a real UTC second: the calendar by hand (datetime costs ~4x more)."""
    if _SECOND_SHAPE.fullmatch(local) is None:
        return False
    y, mo, d = int(local[0:4]), int(local[5:7]), int(local[8:10])
    return (y >= 1 and 1 <= mo <= 12 and 1 <= d <= _month_days(y, mo) and int(local[11:13]) < 24
            and int(local[14:16]) < 60 and int(local[17:19]) < 60)


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(y: int, mo: int) -> int:
    if mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        return 29
    return _DAYS[mo - 1]


def _assemble(y: str, mo: str, d: str, h: str, mi: str, s: str, frac: str | None, offset: str) -> str | None:
    sec = _utc_second(f"{y}-{mo}-{d}T{h}:{mi}:{s}", offset)
    if sec is None:
        return None
    ms = (frac or "")[:3].ljust(3, "0")
    return f"{sec}.{ms}Z"


def TsCache(fmt: str) -> Memo[str, str | None]:
    """`parse_ts` for one format, memoised: a hit is a C-level dict lookup (lines share seconds)."""
    return Memo(lambda text: _parse_ts(text, fmt, None), _CACHE_MAX)


def iso_converter() -> Callable[[str], str | None]:
    """`parse_ts(v, "iso")` for a field written as RFC 3339: the canonical `…sss.mmmZ` form
    (unique per line, so not worth caching) is checked by its second and returned as is."""
    cache = TsCache("iso")
    valid: Memo[str, bool] = Memo(lambda sec: _utc_second(sec, "") is not None, _CACHE_MAX)

    def convert(v: str) -> str | None:
        if len(v) == 24 and v[23] == "Z" and v[19] == "." and v[10] == "T":  # _looks_canonical, inlined
            ok = valid[v[:19]]
            ms = v[20:23]
            return v if ok and ms.isdigit() and ms.isascii() else None
        return cache[v]

    return convert


def format_ts(epoch_seconds: float) -> str:
    """RFC 3339 UTC with milliseconds for a POSIX time (read times, epoch fields)."""
    whole, ms = divmod(round(epoch_seconds * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


def _parse_epoch(s: str) -> str | None:
    whole, _, frac = s.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    n = len(whole)
    if n <= 10:
        value = float(s)
    elif n <= 13:
        value = int(whole) / 1_000
    elif n <= 16:
        value = int(whole) / 1_000_000
    else:
        value = int(whole) / 1_000_000_000
    try:
        return format_ts(value)
    except (OverflowError, OSError, ValueError):
        return None


def _syslog_year(month: int, day: int, now: float) -> int:
    """The year a yearless syslog stamp belongs to: this year unless that is in the future."""
    today = datetime.fromtimestamp(now, UTC)
    year = today.year
    if (month, day) > (today.month, today.day + 1):
        year -= 1
    return year


def parse_ts(text: str, fmt: str = "auto", now: float | None = None) -> str | None:
    """Normalise a timestamp to `YYYY-MM-DDTHH:MM:SS.mmmZ`; None when it is not one.

    Zone-less stamps are taken as UTC (the contract); offsets are converted.
    `fmt` is one of TIMESTAMP_FORMATS or a `strptime` pattern (slow path).
    """
    if fmt == "syslog":  # a yearless stamp depends on `now`: not remembered
        return _parse_ts(text, fmt, now)
    return _TS_CACHE[(text, fmt)]


# (text, format) -> result: lines within one second share their stamp (GIN, nginx, syslog).
_TS_CACHE: Memo[tuple[str, str], str | None] = Memo(lambda key: _parse_ts(key[0], key[1], None), _CACHE_MAX)


def _parse_ts(text: str, fmt: str, now: float | None) -> str | None:
    s = text.strip().strip('"')
    if not s:
        return None
    if fmt == "auto":
        if _looks_canonical(s):
            fmt = "iso"
        elif s[0].isdigit():
            c4 = s[4:5]
            fmt = "iso" if c4 == "-" else "go" if c4 == "/" else "clf" if s[2:3] == "/" else "epoch"
        else:
            fmt = "syslog"
    if fmt == "iso":
        if _looks_canonical(s):
            return s if _utc_second(s[:19], "") is not None and _ascii_digits(s[20:23]) else None
        m = _ISO.match(s)
        if m is None:
            return None
        y, mo, d, h, mi, sec_, frac, off = m.groups()
        return _assemble(y, mo, d, h, mi, sec_, frac, off or "")
    if fmt == "go":
        if len(s) == 21 and s[4] == "/" and s[7] == "/" and s[10:13] == " - ":  # GIN's exact shape
            sec = _utc_second(f"{s[:4]}-{s[5:7]}-{s[8:10]}T{s[13:]}", "")
            return None if sec is None else sec + ".000Z"
        m = _GO.match(s)
        if m is None:
            return None
        y, mo, d, h, mi, sec_, frac = m.groups()
        return _assemble(y, mo, d, h, mi, sec_, frac, "")
    if fmt == "clf":
        m = _CLF.match(s)
        if m is None:
            return None
        d, mon, y, h, mi, sec_, frac, off = m.groups()
        mo_n = _MONTHS.get(mon.lower())
        if mo_n is None:
            return None
        return _assemble(y, f"{mo_n:02d}", d, h, mi, sec_, frac, off or "")
    if fmt == "epoch":
        return _parse_epoch(s)
    if fmt == "syslog":
        m = _SYSLOG.match(s)
        if m is None:
            return None
        mon, d, h, mi, sec_, frac = m.groups()
        mo_n = _MONTHS.get(mon.lower())
        if mo_n is None:
            return None
        year = _syslog_year(mo_n, int(d), time.time() if now is None else now)
        return _assemble(str(year), f"{mo_n:02d}", f"{int(d):02d}", h, mi, sec_, frac, "")
    if "%" in fmt:
        try:
            dt = datetime.strptime(s, fmt)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return format_ts(dt.timestamp())
    raise ValueError(f"unknown timestamp format {fmt!r}")
