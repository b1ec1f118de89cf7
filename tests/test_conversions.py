"""Durations and timestamps: exact conversions, checked against independent formatters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from logmetrics.parse.conversions import DurationError, duration_ms, format_go_duration, go_duration_ns, go_ms
from logmetrics.parse.timestamps import parse_ts


def go_string(ns: int) -> str:
    """Go's time.Duration.String(), written here from Go's documented behaviour, independently of the code."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        whole, frac = divmod(u, 1000)
        return f"{sign}{whole}{('.' + f'{frac:03d}'.rstrip('0')) if frac else ''}µs"
    if u < 1_000_000_000:
        whole, frac = divmod(u, 1_000_000)
        return f"{sign}{whole}{('.' + f'{frac:06d}'.rstrip('0')) if frac else ''}ms"
    secs, frac = divmod(u, 1_000_000_000)
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s}{('.' + f'{frac:09d}'.rstrip('0')) if frac else ''}s"
    if h:
        return f"{sign}{h}h{m}m{sec}"
    if m:
        return f"{sign}{m}m{sec}"
    return f"{sign}{sec}"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_go_duration_round_trip(ns: int) -> None:
    text = go_string(ns)
    assert go_duration_ns(text) == ns
    assert duration_ms(text, "go") == ns / 1_000_000  # one correctly rounded division: exact
    assert format_go_duration(ns) == text


@given(st.integers(min_value=0, max_value=10**15))
def test_hot_path_agrees_with_exact_path(ns: int) -> None:
    text = go_string(ns)
    assert go_ms(text) == pytest.approx(ns / 1_000_000, rel=1e-15, abs=1e-12)


@pytest.mark.parametrize(("text", "ms"), [
    ("29m59s", 1_799_000.0), ("4.709180529s", 4709.180529), ("178.535µs", 0.178535), ("178.535μs", 0.178535),
    ("1h2m3s", 3_723_000.0), ("0s", 0.0), ("720.9988ms", 720.9988), ("4h27m55s", 16_075_000.0), ("5m0s", 300_000.0),
])
def test_go_durations_from_real_logs(text: str, ms: float) -> None:
    assert duration_ms(text, "go") == ms
    assert go_ms(text) == ms


@pytest.mark.parametrize(("text", "unit", "ms"), [
    ("1245.67", "ms", 1245.67), ("0.532", "s", 532.0), ("14.998", "s", 14998.0), ("12", "us", 0.012),
])
def test_bare_numbers_in_a_stated_unit(text: str, unit: str, ms: float) -> None:
    assert duration_ms(text, unit) == ms


@pytest.mark.parametrize("bad", ["", "s", "5x", "1.2.3s", "abc", "5m3", "--5s"])
def test_bad_durations_raise(bad: str) -> None:
    with pytest.raises(DurationError):
        duration_ms(bad, "go")


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))


@given(instants, offsets, st.integers(min_value=0, max_value=9), st.sampled_from(["T", " "]),
       st.sampled_from(["colon", "compact"]))
def test_iso_with_offsets_converts_to_utc(local: datetime, tz: timezone, digits: int, sep: str, style: str) -> None:
    dt = local.replace(tzinfo=tz)
    off = dt.utcoffset() or timedelta()
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    zone = f"{sign}{hh:02d}:{mm:02d}" if style == "colon" else f"{sign}{hh:02d}{mm:02d}"
    frac = f"{dt.microsecond:06d}{'0' * 3}"[:digits]
    text = dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (f".{frac}" if digits else "") + zone
    expect = dt.replace(microsecond=int(frac.ljust(6, "0")[:6]) if digits else 0)
    assert parse_ts(text) == _iso(expect)


@given(instants)
def test_zoneless_stamps_are_utc(local: datetime) -> None:
    dt = local.replace(microsecond=0, tzinfo=UTC)
    assert parse_ts(dt.strftime("%Y/%m/%d - %H:%M:%S"), "go") == _iso(dt)  # GIN
    assert parse_ts(dt.strftime("%Y/%m/%d %H:%M:%S"), "go") == _iso(dt)  # Go log, nginx error
    assert parse_ts(dt.strftime("%d/%b/%Y:%H:%M:%S +0000"), "clf") == _iso(dt)  # nginx access
    assert parse_ts(str(int(dt.timestamp())), "epoch") == _iso(dt)


@pytest.mark.parametrize(("text", "fmt", "out"), [
    ("2024-12-30T12:58:37.344+03:00", "auto", "2024-12-30T09:58:37.344Z"),
    ("24/Oct/2022:07:39:32 +0800", "clf", "2022-10-23T23:39:32.000Z"),
    ("2021-08-04T21:35:34.052786076+02:00", "iso", "2021-08-04T19:35:34.052Z"),
    ("1701615522123", "epoch", "2023-12-03T14:58:42.123Z"),
    ("2024-02-30T00:00:00Z", "iso", None),  # no such day
    ("2024-13-01T00:00:00Z", "auto", None),
    ("not a time", "auto", None),
])
def test_timestamps(text: str, fmt: str, out: str | None) -> None:
    assert parse_ts(text, fmt) == out


def test_yearless_syslog_takes_the_year_that_is_not_in_the_future() -> None:
    jan_2 = datetime(2026, 1, 2, 12, tzinfo=UTC).timestamp()
    assert parse_ts("Dec 31 23:59:59", "syslog", jan_2) == "2025-12-31T23:59:59.000Z"
    assert parse_ts("Jan  2 10:00:00", "syslog", jan_2) == "2026-01-02T10:00:00.000Z"


def test_canonical_iso_fast_path_checks_every_character() -> None:
    from logmetrics.parse.timestamps import iso_converter

    conv = iso_converter()
    assert conv("2024-06-02T18:43:45.634Z") == "2024-06-02T18:43:45.634Z"
    assert conv("2024-06-02T18:43:45.\x0034Z") is None  # same second, bad fraction: found by the fuzzer
    assert conv("2024-06-02T18:43:45.६३४Z") is None  # non-ASCII digits
    assert conv("2024\x0006-02T18:43:45.634Z") is None
    assert parse_ts("2024-06-02T18:43:45.634Z") == "2024-06-02T18:43:45.634Z"
    assert parse_ts("2024-06-02T18:43:45.\x0034Z") is None  # the same shortcut in parse_ts itself
    assert parse_ts("2024-06-02T18:43:45.\x0034Z", "iso") is None


@given(st.integers(0, 10_000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24), st.integers(0, 60),
       st.integers(0, 60))
def test_utc_second_calendar_check_agrees_with_datetime(y: int, mo: int, d: int, h: int, mi: int, s: int) -> None:
    """The UTC fast path validates by hand; it must reject exactly what `datetime` rejects."""
    from logmetrics.parse import timestamps as conversions

    stamp = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    try:
        datetime(y, mo, d, h, mi, s)
        expected: str | None = stamp
    except ValueError:
        expected = None
    conversions._OFFSET_SECOND.clear()
    conversions._MINUTE_OK.clear()
    assert conversions._utc_second(stamp, "Z") == expected
    assert conversions._utc_second(stamp, "") == expected  # again, from the minute's cached check
    other_s = (s + 7) % 60  # another second of the same minute, after the minute was checked
    try:
        datetime(y, mo, d, h, mi, other_s)
        other_ok = True
    except ValueError:
        other_ok = False
    assert (conversions._utc_second(f"{stamp[:17]}{other_s:02d}", "Z") is not None) == other_ok


@given(st.datetimes(), st.integers(0, 20), st.sampled_from("0123456789/:- T.xZ\u0663\u00b2"), st.booleans())
def test_gin_stamp_shortcut_agrees_with_the_regex_path(dt: datetime, at: int, char: str, mutate: bool) -> None:
    """`YYYY/MM/DD - HH:MM:SS` skips the regex; it must convert (or refuse) exactly as the regex path does."""
    from logmetrics.parse import timestamps as conversions

    text = dt.strftime("%Y/%m/%d - %H:%M:%S")
    if mutate:
        text = text[:at] + char + text[at + 1:]
    stripped = text.strip().strip('"')
    m = conversions._GO.match(stripped)
    expected = None
    if m is not None:
        y, mo, d, h, mi, sec, frac = m.groups()
        expected = conversions._assemble(y, mo, d, h, mi, sec, frac, "")
    assert parse_ts(text, "go") == expected


@given(st.from_regex(r"[0-9]{1,14}(\.[0-9]{0,12})?", fullmatch=True), st.sampled_from(["ms", "s", "us", "ns", "auto"]))
@example("1.0000001", "ms")  # one decimal past a whole nanosecond, in each unit
@example("1.0000000001", "s")
@example("1.0001", "us")
@example("1.5", "ns")
def test_bare_number_shortcut_is_the_exact_integer_route(text: str, unit: str) -> None:
    """`float(text + exponent)` is only taken where it equals the whole-nanosecond integer route."""
    from logmetrics.parse import conversions

    assert duration_ms(text, unit) == conversions._decimal_ns(text, conversions._UNIT_SCALE[unit]) / 1_000_000
