"""The replay summary: per app what a newcomer asks first — how much, how bad, since when.

Numbers are exact, not bucket estimates: latencies, load times and token rates
are kept as values (`array('d')`, 8 bytes each) and sorted only when rendered,
so quantiles are the real ones. Everything is mergeable (`Summary.merge`): counts
add, value arrays concatenate, first/last take min/max, and the top-N lists are
cut only at output — so replay split across processes and merged in input order
gives the very same summary as one pass (unless one part alone exceeds a memory
guard: ERROR_LIMIT/ROUTE_LIMIT distinct messages/routes per app).

`to_dict()` is the documented, stable JSON shape (`replay --format json`); the
table (`render.py`) is drawn from that same dict, so the two never disagree.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.events import KINDS, LEVELS, token_phases
from ..core.stats import Stats
from .buckets import DEFAULT_BUCKETS
from .normalise import normalise_message, normalise_path

__all__ = ["SCHEMA_VERSION", "Summary", "quantile"]

Event = dict[str, Any]
SCHEMA_VERSION = 1
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
# Memory guards, not display caps (the output shows the top few of the complete tables): only an
# input part with more distinct messages/routes than this can make a merge differ from one pass.
ERROR_LIMIT = 10_000  # distinct normalised error messages kept per app; the rest count as "(other messages)"
ROUTE_LIMIT = 10_000  # distinct (method, path) kept per app
OTHER_MESSAGES = "(other messages)"
OTHER_ROUTE = ("other", "other")
# A file is named as poorly recognised when at least this share of at least this many of its lines
# was explained by no pattern (`logmetrics detect FILE` then says what it found in it).
POOR_SHARE = 0.2
POOR_MIN_LINES = 20

def quantile(sorted_values: array[float] | list[float], q: float) -> float:
    """Exact quantile, linear between the two nearest ranks (numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no values")
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _r(x: float) -> float:
    """Round for output: stable text, no float noise in golden files."""
    return round(x, 3)


def _stats_of(values: Iterable[float]) -> dict[str, Any] | None:
    vs = sorted(values)
    if not vs:
        return None
    out: dict[str, Any] = {"count": len(vs), "min": _r(vs[0])}
    for name, q in QUANTILES:
        out[name] = _r(quantile(vs, q))
    out["max"] = _r(vs[-1])
    out["mean"] = _r(math.fsum(vs) / len(vs))  # fsum: the same in any order
    return out


def _admit(table: dict[Any, list[Any]], key: Any, other: Any, limit: int) -> list[Any]:
    """The row for `key`, or the `other` row once `limit` distinct keys are kept (first come, first kept)."""
    row = table.get(key)
    if row is None:
        if len(table) >= limit and key != other:
            key = other
            row = table.get(key)
        if row is None:
            row = table[key] = [0, 0, ""]
    return row


class AppSummary:
    """One app's aggregates; plain containers so that merge and pickling are trivial."""

    __slots__ = ("counts", "errors", "first", "last", "latencies", "loads", "name", "no_time", "routes",
                 "status", "timeline", "timeouts", "tokens", "tps")

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[tuple[str, str, str], int] = {}  # (kind, level, file) → events
        self.first = ""  # earliest own timestamp (RFC 3339 strings order like time)
        self.last = ""
        self.no_time = 0  # events with no time of their own (`ts_source`: previous or read)
        self.status: dict[int, int] = {}
        self.latencies: array[float] = array("d")  # request duration_ms
        self.routes: dict[tuple[str, str], list[int]] = {}  # (method, path) → [requests, 5xx]
        self.timeouts: dict[str, int] = {}
        self.errors: dict[str, list[Any]] = {}  # normalised → [count, 0, first example]
        self.loads: dict[str, array[float]] = {}  # model ("" unknown) → duration_ms values
        self.tokens: dict[str, int] = {"prompt": 0, "completion": 0}
        self.tps: dict[str, array[float]] = {"prompt": array("d"), "completion": array("d")}
        self.timeline: dict[str, list[int]] = {}  # minute → [requests, 5xx, errors, timeouts]

    def merge(self, o: AppSummary) -> None:
        """Add the summary of the input that follows this one."""
        for k, n in o.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n
        if o.first and (not self.first or o.first < self.first):
            self.first = o.first
        if o.last > self.last:
            self.last = o.last
        self.no_time += o.no_time
        for code, n in o.status.items():
            self.status[code] = self.status.get(code, 0) + n
        self.latencies.extend(o.latencies)
        for route, (n, n5, _) in o.routes.items():
            row = _admit(self.routes, route, OTHER_ROUTE, ROUTE_LIMIT)
            row[0] += n
            row[1] += n5
        for op, n in o.timeouts.items():
            self.timeouts[op] = self.timeouts.get(op, 0) + n
        for msg, (n, _, example) in o.errors.items():
            row = _admit(self.errors, msg, OTHER_MESSAGES, ERROR_LIMIT)
            row[0] += n
            if not row[2]:
                row[2] = example
        for model, vs in o.loads.items():
            self.loads.setdefault(model, array("d")).extend(vs)
        for phase in ("prompt", "completion"):
            self.tokens[phase] += o.tokens[phase]
            self.tps[phase].extend(o.tps[phase])
        for minute, row in o.timeline.items():
            mine = self.timeline.get(minute)
            if mine is None:
                self.timeline[minute] = list(row)
            else:
                for i, x in enumerate(row):
                    mine[i] += x


class Summary:
    """Per-app replay summary; `observe` batches of events, `merge` parts, `to_dict` for output."""

    def __init__(self, stats: Stats | None = None, *, buckets: dict[str, list[float]] | None = None) -> None:
        self.stats = stats if stats is not None else Stats()
        b = {**DEFAULT_BUCKETS, **(buckets or {})}
        self.latency_buckets = [float(x) for x in b["logmetrics_request_duration_seconds"]]
        self.apps: dict[str, AppSummary] = {}

    def write(self, events: Sequence[Event]) -> None:
        """Add a batch of events: a handful of dict operations per event, values kept for exact quantiles."""
        apps = self.apps
        for e in events:
            app = e["app"]
            a = apps.get(app)
            if a is None:
                a = apps[app] = AppSummary(app)
            kind = e["kind"]
            key = (kind, e["level"], e["file"])
            counts = a.counts
            counts[key] = counts.get(key, 0) + 1
            src = e.get("ts_source")
            if src is not None:
                a.no_time += 1
            if src == "read":  # the replay's own clock, not the log's: out of the time span and timeline
                minute = None
            else:
                ts = e["ts"]
                if ts > a.last:
                    a.last = ts
                if ts < a.first or not a.first:
                    a.first = ts
                minute = ts[:16]
            if kind == "log":
                continue
            if kind == "request":
                status = e["status"]
                a.status[status] = a.status.get(status, 0) + 1
                dur = e.get("duration_ms")
                if dur is not None:
                    a.latencies.append(dur)
                path = e.get("path")
                route = (e.get("method") or "", "" if path is None else normalise_path(path))
                row = a.routes.get(route) or _admit(a.routes, route, OTHER_ROUTE, ROUTE_LIMIT)
                row[0] += 1
                if status >= 500:
                    row[1] += 1
                if minute is not None:
                    t = a.timeline.get(minute)
                    if t is None:
                        t = a.timeline[minute] = [0, 0, 0, 0]
                    t[0] += 1
                    if status >= 500:
                        t[1] += 1
            elif kind == "error" or kind == "timeout":
                if kind == "error":
                    raw = e.get("error") or e["msg"]
                    msg = normalise_message(raw)
                    row = a.errors.get(msg) or _admit(a.errors, msg, OTHER_MESSAGES, ERROR_LIMIT)
                    row[0] += 1
                    if not row[2]:
                        row[2] = raw
                    col = 2
                else:
                    op = e.get("operation") or ""
                    a.timeouts[op] = a.timeouts.get(op, 0) + 1
                    col = 3
                if minute is not None:
                    t = a.timeline.get(minute)
                    if t is None:
                        t = a.timeline[minute] = [0, 0, 0, 0]
                    t[col] += 1
            elif kind == "model_load":
                dur = e.get("duration_ms")
                if dur is not None:
                    model = e.get("model") or ""
                    vs = a.loads.get(model)
                    if vs is None:
                        vs = a.loads[model] = array("d")
                    vs.append(dur)
            elif kind == "inference":
                for phase, n, rate in token_phases(e):
                    if n is not None:
                        a.tokens[phase] += n
                    if rate is not None:
                        a.tps[phase].append(rate)

    def merge(self, other: Summary) -> None:
        """Add the summary of the input that follows this one (Stats too, unless it is the same object)."""
        if other is self:
            raise ValueError("cannot merge a summary into itself")
        for name, oa in other.apps.items():
            a = self.apps.get(name)
            if a is None:
                a = self.apps[name] = AppSummary(name)
            a.merge(oa)
        if other.stats is not self.stats:
            self.stats.merge(other.stats)

    # -- output -------------------------------------------------------------------------------

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """The stable JSON shape (docs/replay.md); keys and orders never depend on the input order."""
        st = self.stats
        apps = [self._app_dict(self.apps[name], top) for name in sorted(self.apps)]
        firsts = [a["first_ts"] for a in apps if a["first_ts"]]
        lasts = [a["last_ts"] for a in apps if a["last_ts"]]
        return {
            "schema": "logmetrics.replay.summary",
            "version": SCHEMA_VERSION,
            "lines_read": st.lines,
            "bytes_read": st.bytes,
            "events": sum(a["events"] for a in apps),
            "lines_malformed": dict(sorted(st.malformed.items())),
            "first_ts": min(firsts) if firsts else None,
            "last_ts": max(lasts) if lasts else None,
            "apps": apps,
            "poorly_recognized_files": self._poor_files(),
        }

    def _poor_files(self) -> list[dict[str, Any]]:
        """Files with at least POOR_SHARE of at least POOR_MIN_LINES lines unrecognised, worst first
        (counted over every line read, before --app/--since/--until, like `lines_read`)."""
        st = self.stats
        out = []
        for file, lines in st.file_lines.items():
            bad = min(st.file_unrecognized.get(file, 0), lines)
            if lines >= POOR_MIN_LINES and bad >= POOR_SHARE * lines:
                out.append((-bad / lines, file, lines, bad))
        return [{"file": file, "lines": lines, "lines_unrecognized": bad, "recognized_ratio": _r(1 - bad / lines)}
                for _, file, lines, bad in sorted(out)]

    def _app_dict(self, a: AppSummary, top: int) -> dict[str, Any]:
        kinds = dict.fromkeys(KINDS, 0)
        levels = dict.fromkeys(LEVELS, 0)
        files: dict[str, int] = {}
        for (kind, level, file), n in a.counts.items():
            kinds[kind] = kinds.get(kind, 0) + n
            levels[level] = levels.get(level, 0) + n
            files[file] = files.get(file, 0) + n
        events = sum(kinds.values())
        unrecognized = min(self.stats.unrecognized.get(a.name, 0), events)
        requests = sum(a.status.values())
        n5xx = sum(n for code, n in a.status.items() if code >= 500)
        lat = sorted(a.latencies)
        hist = [0] * (len(self.latency_buckets) + 1)
        j = 0
        for v in lat:  # sorted: one pass walks the buckets
            s = v / 1000.0
            while j < len(self.latency_buckets) and s > self.latency_buckets[j]:
                j += 1
            hist[j] += 1
        routes = sorted(a.routes.items(), key=lambda kv: (-kv[1][0], kv[0]))
        errors = sorted(a.errors.items(), key=lambda kv: (-kv[1][0], kv[0]))
        loads_all = [v for vs in a.loads.values() for v in vs]
        load_stats = _stats_of(v / 1000.0 for v in loads_all)
        minutes = [[m, *row] for m, row in sorted(a.timeline.items())]
        return {
            "app": a.name,
            "events": events,
            "lines_unrecognized": unrecognized,
            "recognized_ratio": _r((events - unrecognized) / events) if events else None,
            "files": dict(sorted(files.items())),
            "first_ts": a.first or None,
            "last_ts": a.last or None,
            "events_without_time": a.no_time,
            "kinds": kinds,
            "levels": levels,
            "requests": {
                "count": requests,
                "status": {str(code): n for code, n in sorted(a.status.items())},
                "5xx": n5xx,
                "5xx_ratio": _r(n5xx / requests) if requests else None,
                "latency_ms": _stats_of(lat),
                "latency_histogram": [
                    {"le": le, "count": n}
                    for le, n in zip([*self.latency_buckets, "+Inf"], hist, strict=True)
                ],
                "top_routes": [{"method": m, "path": p, "count": n, "5xx": n5} for (m, p), (n, n5, _) in
                               routes[:top]],
            },
            "timeouts": {
                "count": sum(a.timeouts.values()),
                "by_operation": dict(sorted(a.timeouts.items(), key=lambda kv: (-kv[1], kv[0]))),
            },
            "errors": {
                "count": kinds["error"],
                "distinct": len(a.errors),
                "top": [{"message": m, "count": n, "example": ex} for m, (n, _, ex) in errors[:top]],
            },
            "model_loads": {
                "count": len(loads_all),
                "seconds": load_stats,
                "by_model": {m: len(vs) for m, vs in sorted(a.loads.items())},
            },
            "tokens": {
                "prompt": a.tokens["prompt"],
                "completion": a.tokens["completion"],
                "per_second": {phase: _stats_of(a.tps[phase]) for phase in ("prompt", "completion")},
            },
            "timeline": {
                "columns": ["minute", "requests", "5xx", "errors", "timeouts"],
                "rows": minutes,
            },
        }
