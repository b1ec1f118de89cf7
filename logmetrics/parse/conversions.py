"""Durations to milliseconds, exactly (timestamps are timestamps.py's).

They run once or twice per log line, so they avoid floats where they would
round: a duration is parsed to integer nanoseconds, then one correctly rounded
division (or `float()` of a decimal string with an exponent, where that is the
same number).
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "duration_ms", "format_go_duration", "go_duration_ns", "go_ms"]


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
