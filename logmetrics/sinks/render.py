"""The replay summary as a terminal report: headlines first, then per app the details and two pictures.

Drawn from `Summary.to_dict()` only, so the table and `--format json` always agree.
Pictures where people would rather look than read: the latency distribution as
horizontal bars, and a per-minute timeline of requests/5xx/errors/timeouts as
sparklines. Deterministic: fixed width and no colour when not on a terminal,
no wall clock.
"""

from __future__ import annotations

import io
import math
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .summary import POOR_SHARE

__all__ = ["WIDTH", "fmt_ms", "headline", "render_table"]

WIDTH = 110
SKIPPED_SHOWN = 10  # files a replay passed over, named one per line; the rest counted
_SPARK = " ▁▂▃▄▅▆▇█"
_BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"


def _n(x: int | float) -> str:
    return f"{x:,}"


def fmt_ms(ms: float) -> str:
    """A duration the way people say it: 180µs, 42ms, 4.2s, 2m10s, 1h02m."""
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.1f}s"
    total = round(s)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"


def _fmt_le(le: float | str) -> str:
    return "+Inf" if isinstance(le, str) else fmt_ms(le * 1000)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _top_counts(d: dict[str, int], limit: int = 3) -> str:
    items = list(d.items())
    shown = ", ".join(f"{k or '?'} {_n(v)}" for k, v in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def headline(app: dict[str, Any]) -> str:
    """`ollama: 1,234 requests, 37 5xx (3.0%), p95 2m10s, 12 timeouts (runner_start 8, …)`: the gist."""
    parts: list[str] = []
    req = app["requests"]
    if req["count"]:
        parts.append(f"{_n(req['count'])} requests")
        parts.append(f"{_n(req['5xx'])} 5xx ({_pct(req['5xx'], req['count'])})")
        if req["latency_ms"]:
            parts.append(f"p95 {fmt_ms(req['latency_ms']['p95'])}")
    else:
        parts.append(f"{_n(app['events'])} events, no requests")
    to = app["timeouts"]
    if to["count"]:
        parts.append(f"{_n(to['count'])} timeouts ({_top_counts(to['by_operation'])})")
    else:
        parts.append("no timeouts")
    if app["errors"]["count"]:
        parts.append(f"{_n(app['errors']['count'])} errors")
    return f"{app['app']}: " + ", ".join(parts)


# -- pictures -------------------------------------------------------------------------------------


def _bar(value: int, peak: int, width: int) -> str:
    if peak <= 0 or value <= 0:
        return ""
    eighths = max(1, round(8 * width * value / peak))
    return "█" * (eighths // 8) + (_BAR_EIGHTHS[eighths % 8] if eighths % 8 else "")


def latency_bars(app: dict[str, Any], width: int = 50) -> Table | None:
    """The request-latency distribution: one bar per bucket, empty buckets at the ends left out."""
    hist = app["requests"]["latency_histogram"]
    counts = [h["count"] for h in hist]
    nz = [i for i, c in enumerate(counts) if c]
    if not nz:
        return None
    total = sum(counts)
    peak = max(counts)
    t = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    t.add_column(justify="right", style="dim")
    t.add_column(no_wrap=True, width=width, style="cyan")
    t.add_column(justify="right")
    t.add_column(justify="right", style="dim")
    prev = "0"
    for i in range(nz[0], nz[-1] + 1):
        le = hist[i]["le"]
        label = f"> {prev}" if isinstance(le, str) else f"{prev} – {_fmt_le(le)}"
        t.add_row(label, _bar(counts[i], peak, width), _n(counts[i]), _pct(counts[i], total))
        prev = _fmt_le(le)
    return t


def _minutes(first: str, last: str) -> int:
    """Minutes between two `YYYY-MM-DDTHH:MM` stamps, without datetime parsing in the loop."""
    from datetime import datetime

    a = datetime.fromisoformat(first + ":00+00:00")
    b = datetime.fromisoformat(last + ":00+00:00")
    return int((b - a).total_seconds() // 60)


def timeline(app: dict[str, Any], width: int = 72) -> Table | None:
    """Requests, 5xx, errors and timeouts per minute (or per few minutes for long logs) as sparklines."""
    rows = app["timeline"]["rows"]
    if not rows:
        return None
    first, last = rows[0][0], rows[-1][0]
    span = _minutes(first, last) + 1
    per = max(1, math.ceil(span / width))
    cols = math.ceil(span / per)
    series = [[0] * cols for _ in range(4)]
    for row in rows:
        c = _minutes(first, row[0]) // per
        for i in range(4):
            series[i][c] += row[1 + i]
    t = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    t.add_column(style="dim", no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    styles = ("cyan", "red", "magenta", "yellow")
    names = ("requests", "5xx", "errors", "timeouts")
    for i, name in enumerate(names):
        vals = series[i]
        total = sum(vals)
        if i > 0 and total == 0:
            continue
        peak = max(vals)
        line = "".join(_SPARK[0] if v == 0 else _SPARK[max(1, math.ceil(8 * v / peak))] for v in vals)
        t.add_row(name, Text(line, style=styles[i]), f"{_n(total)} (max {_n(peak)}/{per}m)")
    axis = first[11:16].ljust(cols)
    end = last[11:16]
    if cols > len(end) + 6:
        axis = axis[: cols - len(end)] + end
    unit = "1 column = 1 minute" if per == 1 else f"1 column = {per} minutes"
    t.add_row("", Text(axis, style="dim"), Text(unit, style="dim"))
    return t


# -- the report -----------------------------------------------------------------------------------


def _kv_table() -> Table:
    t = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    t.add_column(style="bold", no_wrap=True, min_width=12)
    t.add_column(overflow="fold")
    return t


def _app_section(app: dict[str, Any]) -> list[RenderableType]:
    out: list[RenderableType] = []
    title = Text(f" {app['app']} ", style="bold reverse")
    out.append(Text(""))
    out.append(Text.assemble(title, " ", headline(app).split(": ", 1)[1]))
    kv = _kv_table()
    ratio = app["recognized_ratio"]
    rec = f"{100 * ratio:.1f}% recognised" if ratio is not None else ""
    kv.add_row("events", f"{_n(app['events'])} ({rec}, {_n(app['lines_unrecognized'])} unrecognised lines)")
    time_span = f"{app['first_ts'] or '-'} → {app['last_ts'] or '-'}"
    if app["events_without_time"]:
        time_span += f"  ({_n(app['events_without_time'])} events carry no time of their own)"
    kv.add_row("time", time_span)
    kv.add_row("files", ", ".join(f"{f} ({_n(n)})" for f, n in app["files"].items()))
    kv.add_row("kinds", " · ".join(f"{k} {_n(v)}" for k, v in app["kinds"].items() if v))
    kv.add_row("levels", " · ".join(f"{k} {_n(v)}" for k, v in app["levels"].items() if v))
    req = app["requests"]
    if req["count"]:
        kv.add_row("status", " · ".join(f"{c} {_n(n)}" for c, n in req["status"].items()))
        lat = req["latency_ms"]
        if lat:
            kv.add_row("latency", "  ".join(
                f"{q} {fmt_ms(lat[q])}" for q in ("min", "p50", "p90", "p95", "p99", "max")
            ) + f"  ({_n(lat['count'])} timed)")
    to = app["timeouts"]
    if to["count"]:
        kv.add_row("timeouts", " · ".join(f"{op or '?'} {_n(n)}" for op, n in to["by_operation"].items()))
    loads = app["model_loads"]
    if loads["count"]:
        s = loads["seconds"]
        models = " · ".join(f"{m} {_n(n)}" for m, n in loads["by_model"].items() if m)
        text = (f"{_n(loads['count'])}: min {fmt_ms(s['min'] * 1000)}  p50 {fmt_ms(s['p50'] * 1000)}  "
                f"max {fmt_ms(s['max'] * 1000)}")
        kv.add_row("model loads", text + (f"  ({models})" if models else ""))
    tok = app["tokens"]
    tps = tok["per_second"]
    if tok["prompt"] or tok["completion"] or tps["prompt"] or tps["completion"]:
        parts = []
        for phase in ("prompt", "completion"):
            st = tps[phase]
            rate = f", median {st['p50']:,.1f} tok/s" if st else ""
            parts.append(f"{phase} {_n(tok[phase])}{rate}")
        kv.add_row("tokens", " · ".join(parts))
    out.append(kv)
    bars = latency_bars(app)
    if bars is not None:
        out.append(Text("request latency", style="bold"))
        out.append(bars)
    tl = timeline(app)
    if tl is not None:
        out.append(Text("timeline (UTC)", style="bold"))
        out.append(tl)
    if app["errors"]["top"]:
        et = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, expand=False)
        et.add_column("count", justify="right")
        et.add_column("top errors (numbers, ids and addresses normalised)", overflow="fold")
        for row in app["errors"]["top"][:5]:
            et.add_row(_n(row["count"]), row["message"])
        out.append(et)
    routes = [r for r in req["top_routes"] if r["path"] or r["method"]]
    if routes:
        rt = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
        rt.add_column("requests", justify="right")
        rt.add_column("5xx", justify="right")
        rt.add_column("top routes", overflow="fold")
        for r in routes[:5]:
            rt.add_row(_n(r["count"]), _n(r["5xx"]), f"{r['method']} {r['path']}".strip())
        out.append(rt)
    return out


def render_table(data: dict[str, Any], *, width: int = WIDTH, color: bool = False) -> str:
    """The whole report as text; `color` only for a terminal."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="standard" if color else None,
                      force_terminal=color, no_color=not color, highlight=False, emoji=False,
                      legacy_windows=False, soft_wrap=False)
    apps = data["apps"]
    head = Text.assemble(
        ("logmetrics replay", "bold"),
        f": {_n(data['lines_read'])} lines ({_bytes(data['bytes_read'])}), {_n(data['events'])} events, "
        f"{len(apps)} apps, {_span(data['first_ts'], data['last_ts'])}",
    )
    items: list[RenderableType] = [head, Text("")]
    for app in sorted(apps, key=lambda a: (-a["events"], a["app"])):
        items.append(Text("  " + headline(app)))
    malformed = data["lines_malformed"]
    if malformed:
        items.append(Text("  lines cut or undecodable: " + ", ".join(f"{k} {_n(v)}" for k, v in
                                                                      malformed.items())))
    poor = data.get("poorly_recognized_files") or []
    if poor:
        items.append(Text(""))
        items.append(Text(f"poorly recognised files (≥ {POOR_SHARE:.0%} of their lines matched no pattern; "
                          "`logmetrics detect FILE` shows why)", style="bold"))
        for f in poor:
            items.append(Text(f"  {f['file']}: {_pct(f['lines_unrecognized'], f['lines'])} unrecognised "
                              f"({_n(f['lines_unrecognized'])} of {_n(f['lines'])} lines)", overflow="fold"))
    skipped = data.get("skipped") or []  # what a folder walk or glob passed over (replay adds it)
    if skipped:
        items.append(Text(""))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for s in skipped[:SKIPPED_SHOWN]:
            grid.add_row("skipped", f"{s['path']} ({s['why']})")
        if len(skipped) > SKIPPED_SHOWN:
            grid.add_row("skipped", f"and {_n(len(skipped) - SKIPPED_SHOWN)} more (--format json lists them)")
        items.append(grid)
    for app in sorted(apps, key=lambda a: (-a["events"], a["app"])):
        items.extend(_app_section(app))
    console.print(Group(*items))
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def _bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _span(first: str | None, last: str | None) -> str:
    """`2026-11-03 08:30:00 → 10:59:38 UTC` (the date once when both ends share it)."""
    if not first or not last:
        return "no timestamps"
    a, b = first[:19].replace("T", " "), last[:19].replace("T", " ")
    if a[:10] == b[:10]:
        b = b[11:]
    return f"{a} → {b} UTC"
