"""Timestamps: every shape a log line starts with, to RFC 3339 UTC with milliseconds.

`parse_ts(text, fmt)` converts a stamp a pattern has captured; `stamp_at(text, pos)`
is the one detector: it recognises a stamp starting at `pos` in any of the
shapes below, which the envelopes (syslog headers, a viewer's prefix) and the
reader of lines no pattern explains use. Zone-less stamps are UTC (the contract);
offsets and common zone names are converted; yearless stamps (syslog, journald)
take the year that puts them not in the future. Month names in English and in
the locales journalctl prints (glibc's `abmon`: fr, de, es, it, pt, nl, ru, pl,
zh, ja, ko).

They run once per line, so the common paths avoid `datetime`: stamps are
re-assembled from slices, and the calendar (zone offsets, validation) is
memoised per minute and per second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from ..core.memo import Memo

__all__ = ["MONTHS", "TIMESTAMP_FORMATS", "Stamp", "TsCache", "format_ts", "iso_converter", "month_number",
           "parse_ts", "stamp_at"]

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
        yearless = "%Y" not in fmt and "%y" not in fmt  # klog's `0517 15:04:22.619632`
        try:
            if yearless:  # parsed in a leap year (29 Feb exists), then given syslog's year rule
                dt = datetime.strptime(f"2000 {s}", f"%Y {fmt}")
                dt = dt.replace(year=_syslog_year(dt.month, dt.day, time.time() if now is None else now))
            else:
                dt = datetime.strptime(s, fmt)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        # Milliseconds truncated, as every other shape here (format_ts would round `.712806` up).
        return format_ts(dt.replace(microsecond=dt.microsecond // 1000 * 1000).timestamp())
    raise ValueError(f"unknown timestamp format {fmt!r}")


# --- the one detector -------------------------------------------------------------------------

# Month names: English and glibc's `abmon` of the locales journalctl is run in (one union table: no
# token names two months). CJK months are a number and 月/월.
_MONTH_NAMES = (
    ("jan", "janv.", "janv", "ene", "gen", "sty", "янв", "led"),
    ("feb", "févr.", "févr", "fevr.", "fév", "fev", "lut", "фев"),
    ("mar", "mär", "mars", "mrt", "мар"),
    ("apr", "avril", "avr.", "abr", "kwi", "апр"),
    ("may", "mai", "mei", "mag", "maj", "мая", "май"),
    ("jun", "juin", "giu", "cze", "июн"),
    ("jul", "juil.", "juil", "lug", "lip", "июл"),
    ("aug", "août", "aout", "ago", "sie", "авг"),
    ("sep", "sept.", "sept", "set", "wrz", "сен"),
    ("oct", "okt", "ott", "out", "paź", "окт"),
    ("nov", "lis", "ноя"),
    ("dec", "déc.", "déc", "dez", "dic", "gru", "дек"),
)
MONTHS: dict[str, int] = {name: i for i, names in enumerate(_MONTH_NAMES, 1) for name in names}
_ZONES = {"UTC": "+00:00", "GMT": "+00:00", "UT": "+00:00", "Z": "+00:00", "EST": "-05:00", "EDT": "-04:00",
          "CST": "-06:00", "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00",
          "CET": "+01:00", "CEST": "+02:00", "EET": "+02:00", "EEST": "+03:00", "BST": "+01:00", "JST": "+09:00",
          "KST": "+09:00", "AEST": "+10:00", "AEDT": "+11:00"}


def month_number(token: str) -> int | None:
    """`Jan`, `janv.`, `Mär`, `dic`, `9月`, ` 5월` → 1..12; None when it is not a month."""
    t = token.strip().lower()
    if t[-1:] in ("月", "월"):
        n = t[:-1]
        return int(n) if n.isdigit() and 1 <= int(n) <= 12 else None
    return MONTHS.get(t)


_MONTH_TOKEN = r"(?:[^\W\d_]{2,5}\.?|\d{1,2}[月월])"
_SYSLOG_STAMP = re.compile(
    rf"(?P<mo>{_MONTH_TOKEN}) {{1,2}}(?P<d>\d{{1,2}}) (?:(?P<y>\d{{4}}) )?"
    r"(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.(?P<fr>\d{1,9}))?"
)
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# One pattern per shape, tried at one position (`match`): each is a fixed sequence, so linear.
_SHAPES = re.compile(
    rf"(?:{_WEEKDAY},?[ ])?"
    r"""(?:
      # ISO 8601 / RFC 3339, `T` or a space, `.` or `,` fractions, a zone or a zone's name
      (?P<iy>\d{4})-(?P<imo>\d\d)-(?P<id>\d\d)[T ](?P<ih>\d\d):(?P<imi>\d\d)
          (?::(?P<is>\d\d)(?:[.,](?P<ifr>\d{1,9}))?)?
          (?P<iz>[ ]?(?:Z|z|[+-](?:0\d|1[0-4]):\d\d|[+-](?:0\d|1[0-4])(?:\d\d)?(?![\w:]))
              |[ ](?:UTC|GMT|UT|[ECMPAJK][SD]T|CES?T|EES?T|BST|AES?T|AEDT)\b)?
    | # Go's log package and GIN: 2006/01/02 15:04:05, 2006/01/02 - 15:04:05
      (?P<gy>\d{4})/(?P<gmo>\d\d)/(?P<gd>\d\d)(?:[ ]-[ ]|[ ]++|T)(?P<gh>\d\d):(?P<gmi>\d\d):(?P<gs>\d\d)
          (?:[.,](?P<gfr>\d{1,9}))?
    | # CLF 02/Jan/2006:15:04:05 -0700, werkzeug 02/Jan/2006 15:04:05
      (?P<cd>\d\d)/(?P<cmo>[A-Za-z]{3})/(?P<cy>\d{4})[:\ ](?P<ch>\d\d):(?P<cmi>\d\d):(?P<cs>\d\d)
          (?:\.(?P<cfr>\d{1,9}))?(?:[ ](?P<cz>[+-]\d{4}))?
    | # ctime, Apache's error log, uWSGI: [Mon] Jan  2 15:04:05[.000000] 2006
      (?P<tmo>[A-Z][a-z]{2})[ ]{1,2}(?P<td>\d{1,2})[ ](?P<th>\d\d):(?P<tmi>\d\d):(?P<ts>\d\d)
          (?:\.(?P<tfr>\d{1,9}))?[ ](?P<ty>\d{4})(?!\w)  # not a host `74794bfb6795` after a syslog stamp
    | # US 01/02/2006 03:04:05 PM
      (?P<umo>\d\d)/(?P<ud>\d\d)/(?P<uy>\d{4})[ ](?P<uh>\d\d):(?P<umi>\d\d):(?P<us>\d\d)(?:[ ]?(?P<uap>[AP]M))?
    )""",
    re.X,
)


class Stamp(NamedTuple):
    """A timestamp found in a line: its RFC 3339 UTC form (None when it names no valid second), where it
    ends, and whether the year was guessed (syslog, journald)."""

    ts: str | None
    end: int
    yearless: bool = False


def stamp_at(text: str, pos: int = 0, now: float | None = None) -> Stamp | None:
    """The timestamp that starts at `text[pos]`, in any shape a log line starts with; None when none does.

    ISO 8601 / RFC 3339 (`T` or a space, `.` or `,` fractions, `Z`, offsets, ` UTC`, zone names, an
    optional weekday), Go/GIN `2006/01/02 15:04:05` and `2006/01/02 - 15:04:05`, CLF and werkzeug
    `02/Jan/2006:15:04:05 -0700`, ctime/Apache `Mon Jan  2 15:04:05.000 2006`, US `01/02/2006 03:04:05 PM`,
    and yearless syslog `Jan  2 15:04:05` in English and the locales journalctl prints.
    """
    m = _SHAPES.match(text, pos)
    if m is not None:
        g = m.group
        if g("iy") is not None:
            zone = (g("iz") or "").strip()
            return Stamp(_assemble(g("iy"), g("imo"), g("id"), g("ih"), g("imi"), g("is") or "00", g("ifr"),
                                   _ZONES.get(zone, zone)), m.end())
        if g("gy") is not None:
            return Stamp(_assemble(g("gy"), g("gmo"), g("gd"), g("gh"), g("gmi"), g("gs"), g("gfr"), ""), m.end())
        if g("cy") is not None:
            mo = MONTHS.get(g("cmo").lower())
            ts = None if mo is None else _assemble(g("cy"), f"{mo:02d}", g("cd"), g("ch"), g("cmi"), g("cs"),
                                                   g("cfr"), g("cz") or "")
            return Stamp(ts, m.end())
        if g("ty") is not None:
            mo = MONTHS.get(g("tmo").lower())
            ts = None if mo is None else _assemble(g("ty"), f"{mo:02d}", f"{int(g('td')):02d}", g("th"), g("tmi"),
                                                   g("ts"), g("tfr"), "")
            return Stamp(ts, m.end())
        h = int(g("uh"))
        if g("uap") is not None:
            h = h % 12 + (12 if g("uap") == "PM" else 0)
        return Stamp(_assemble(g("uy"), g("umo"), g("ud"), f"{h:02d}", g("umi"), g("us"), None, ""), m.end())
    m = _SYSLOG_STAMP.match(text, pos)
    if m is None:
        return None
    mo = month_number(m.group("mo"))
    if mo is None:
        return None
    d = int(m.group("d"))
    year = m.group("y")
    if year is None:
        year = str(_syslog_year(mo, d, time.time() if now is None else now))
    ts = _assemble(year, f"{mo:02d}", f"{d:02d}", m.group("h"), m.group("mi"), m.group("s"), m.group("fr"), "")
    return Stamp(ts, m.end(), m.group("y") is None)
