"""Events → the contract's Prometheus metrics, plus the pipeline's self-metrics.

Calling prometheus_client per event costs ~2 µs a line, more than parsing it
cheaply, so events are aggregated into plain dicts keyed by label tuples and
turned into metric families only when scraped (`collect`). The same sink serves
`replay --format prom` and the live tailer's `/metrics`.

Cardinality is bounded: paths are normalised (query string dropped, ids, UUIDs
and hashes collapsed) and every label of every metric shows at most `label_limit`
distinct values, first seen first kept; later values become `other` (counted in
`logmetrics_label_overflow_total`). That cap is applied when families are built,
over series kept in first-seen order, so that two sinks fed consecutive parts of
a stream and merged in order (`merge`) expose exactly what one sink fed the whole
stream exposes — what parallel replay relies on. Memory is bounded separately:
a label keeps at most `memory_limit` raw values (default 50 × label_limit, at
least 10,000) and folds the rest into `other` at once; only a part that alone
exceeds that (a hostile log) can make a merge differ from one pass, and then only
in which values are `other`, never in totals.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..core.events import token_phases
from ..core.memo import Memo
from ..core.stats import Stats
from .buckets import DEFAULT_BUCKETS
from .normalise import normalise_path

__all__ = ["DEFAULT_SERIES_LIMIT", "METRIC_LABELS", "OTHER", "MetricsSink", "exposition"]

Event = dict[str, Any]
Key = tuple[str, ...]

OTHER = "other"
DEFAULT_SERIES_LIMIT = 1000  # label sets per family: /metrics stays under ~10 MB whatever the log says
MAX_LABEL_CHARS = 120  # a longer label value (a hostile path) is cut here, with "…"
_CACHE_MAX = 1 << 16  # memo tables are cleared when they reach this size (hostile input)

REQUESTS = "logmetrics_requests_total"
REQUEST_DURATION = "logmetrics_request_duration_seconds"
TIMEOUTS = "logmetrics_timeouts_total"
ERRORS = "logmetrics_errors_total"
LOG_LINES = "logmetrics_log_lines_total"
MODEL_LOAD = "logmetrics_model_load_duration_seconds"
TOKENS = "logmetrics_tokens_total"
TOKENS_PER_SECOND = "logmetrics_tokens_per_second"
LAST_EVENT = "logmetrics_last_event_timestamp_seconds"
EVENTS = "logmetrics_events_total"

# Every family this sink exposes → its label names (for dashboards/alert checks; no registry needed).
METRIC_LABELS: dict[str, tuple[str, ...]] = {
    REQUESTS: ("app", "method", "path", "code"),
    REQUEST_DURATION: ("app", "method", "path", "code"),
    TIMEOUTS: ("app", "operation"),
    ERRORS: ("app",),
    LOG_LINES: ("app", "level"),
    MODEL_LOAD: ("app",),
    TOKENS: ("app", "phase"),
    TOKENS_PER_SECOND: ("app", "phase"),
    LAST_EVENT: ("app",),
    EVENTS: ("app", "kind"),
    "logmetrics_lines_read_total": (),
    "logmetrics_bytes_read_total": (),
    "logmetrics_lines_unrecognized_total": ("app",),
    "logmetrics_lines_malformed_total": ("reason",),
    "logmetrics_lines_dropped_total": ("reason",),
    "logmetrics_rotations_total": ("mode",),
    "logmetrics_redactions_total": ("rule",),
    "logmetrics_output_errors_total": ("reason",),
    "logmetrics_read_errors_total": ("reason",),
    "logmetrics_rule_budget_exceeded_total": ("rule",),
    "logmetrics_series_overflow_total": ("metric",),
    "logmetrics_files_watched": (),
    "logmetrics_read_lag_bytes": (),
    "logmetrics_label_overflow_total": ("metric", "label"),
}

# --- bounded label sets --------------------------------------------------------------------


class _Labels:
    """One label set's kept raw values (per label, first seen first kept) and its raw→kept memo.

    This is the memory guard, not the exposed cap (that is `_fold`, at collect time).
    """

    __slots__ = ("admitted", "cache", "limit", "names")

    def __init__(self, names: tuple[str, ...], limit: int) -> None:
        self.names = names
        self.limit = limit
        self.admitted: list[dict[str, None]] = [{} for _ in names]
        self.cache: Memo[Key, Key] = Memo(self._bound, _CACHE_MAX)  # raw → kept: `cache[raw]` on the hot path

    def _bound(self, raw: Key) -> Key:
        """A miss: admit new values while there is room."""
        out: list[str] = []
        for adm, v in zip(self.admitted, raw, strict=True):
            if len(v) > MAX_LABEL_CHARS:
                v = v[: MAX_LABEL_CHARS - 1] + "…"
            if v in adm:
                out.append(v)
            elif len(adm) < self.limit and v != OTHER:
                adm[v] = None
                out.append(v)
            else:
                out.append(OTHER)
        return tuple(out)

    def absorb(self, other: _Labels) -> None:
        """Admit `other`'s values in its order, as one pass over both streams would have."""
        for adm, oadm in zip(self.admitted, other.admitted, strict=True):
            for v in oadm:
                if v not in adm and len(adm) < self.limit:
                    adm[v] = None
        self.cache.clear()

    def remap(self, key: Key) -> Key:
        """A key from a merged-in sink, with the values this sink could not admit as `other`."""
        adm = self.admitted
        return tuple(v if v == OTHER or v in a else OTHER for a, v in zip(adm, key, strict=True))


def _admitted(keys: Iterable[Key], width: int, limit: int) -> list[dict[str, None]]:
    """Per label the first `limit` distinct values, in the order the series were first seen."""
    adm: list[dict[str, None]] = [{} for _ in range(width)]
    for k in keys:
        for a, v in zip(adm, k, strict=True):
            if v not in a and len(a) < limit and v != OTHER:
                a[v] = None
    return adm


def _fold_key(adm: list[dict[str, None]], k: Key) -> Key:
    return tuple(v if v in a else OTHER for a, v in zip(adm, k, strict=True))


class _Fold:
    """How one family's raw series become exposed ones, decided from all of them at scrape time.

    Label values past `label_limit` per label become `other` (first seen first kept); then label
    sets past `series_limit` (first seen first kept) go to one overflow set per app, `(app, other, …)`,
    so that a product of bounded labels (200 paths × 200 codes × 200 methods) cannot explode either.
    """

    __slots__ = ("key", "labelled", "overflowed")

    def __init__(self, keys: Iterable[Key], width: int, label_limit: int, series_limit: int) -> None:
        keys = list(keys)
        adm = _admitted(keys, width, label_limit)
        kept: dict[Key, None] = {}
        self.key: dict[Key, Key] = {}
        self.labelled: dict[Key, Key] = {}  # raw → after the label cap only (what label_overflow counts)
        self.overflowed: set[Key] = set()  # raw keys that went to an overflow set
        for k in keys:
            f = self.labelled[k] = _fold_key(adm, k)
            if f not in kept:
                if len(kept) < series_limit:
                    kept[f] = None
                else:
                    f = (f[0], *(OTHER,) * (width - 1)) if width > 1 else (OTHER,)
                    self.overflowed.add(k)
            self.key[k] = f

    def counts(self, series: dict[Key, float]) -> dict[Key, float]:
        out: dict[Key, float] = {}
        for k, v in series.items():
            f = self.key.get(k, k)
            out[f] = out.get(f, 0) + v
        return out

    def lists(self, series: dict[Key, list[int]]) -> dict[Key, list[int]]:
        out: dict[Key, list[int]] = {}
        for k, v in series.items():
            _add_list(out, self.key.get(k, k), v)
        return out

    def overflow(self, series: dict[Key, float]) -> float:
        """Observations that went to an overflow set."""
        return sum(series[k] for k in self.overflowed if k in series)

    def count_labels(self, series: dict[Key, float], count: Callable[[Key, float], None]) -> None:
        """`count(label-capped key, observations)` for every raw series (label_overflow's input)."""
        for k, v in series.items():
            count(self.labelled.get(k, k), v)


def _add_list(into: dict[Key, list[int]], k: Key, v: list[int]) -> None:
    """Element-wise add `v` to `into[k]` (histogram buckets + sum, token counters)."""
    mine = into.get(k)
    if mine is None:
        into[k] = list(v)
    else:
        for i, x in enumerate(v):
            mine[i] += x


def _merge_counts(into: dict[Key, float], other: dict[Key, float], labels: _Labels) -> None:
    for k, v in other.items():
        k = labels.remap(k)
        into[k] = into.get(k, 0) + v


def _merge_lists(into: dict[Key, list[int]], other: dict[Key, list[int]], labels: _Labels) -> None:
    for k, v in other.items():
        _add_list(into, labels.remap(k), v)


def _merge_max(into: dict[Key, str], other: dict[Key, str], labels: _Labels) -> None:
    for k, v in other.items():
        k = labels.remap(k)
        if v > into.get(k, ""):
            into[k] = v


# Histogram sums are kept as integers of these units per base unit, so that they add up
# exactly in any order: a merged sink reports the very same `_sum` as a single pass.
_SCALE: dict[str, float] = {REQUEST_DURATION: 1e9, MODEL_LOAD: 1e9, TOKENS_PER_SECOND: 1e6}


def _ts_epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


# --- the sink ------------------------------------------------------------------------------


class MetricsSink(Collector):
    """Aggregates events into label-tuple dicts; a custom Collector that builds families on scrape.

    `use_read_time=False` keeps events whose time is the read time (`ts_source: read`)
    out of `logmetrics_last_event_timestamp_seconds`: in a replay that time is "now",
    not the log's.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None,
        *,
        buckets: dict[str, list[float]] | None = None,
        label_limit: int = 200,
        stats: Stats | None = None,
        use_read_time: bool = True,
        memory_limit: int | None = None,
        series_limit: int = DEFAULT_SERIES_LIMIT,
    ) -> None:
        b = {**DEFAULT_BUCKETS, **(buckets or {})}
        self.bounds: dict[str, tuple[float, ...]] = {k: tuple(float(x) for x in v) for k, v in b.items()}
        self.label_limit = label_limit
        self.stats = stats
        self.use_read_time = use_read_time
        self._lock = threading.Lock()
        self.memory_limit = lim = memory_limit or max(10_000, 50 * label_limit)
        self.series_limit = series_limit
        # Raw label sets kept per family before new ones fold at once into (app, other, …): the memory
        # guard for the series budget, as `memory_limit` is for label values.
        self._series_memory = max(50_000, 20 * series_limit)
        # label sets and their series
        self._ev_labels = _Labels(("app", "kind", "level"), lim)
        self._events: dict[Key, float] = {}  # count per (app, kind, level)
        self._last: dict[Key, str] = {}  # newest ts per (app, kind, level)
        self._req_labels = _Labels(("app", "method", "path", "code"), lim)
        self._requests: dict[Key, float] = {}
        self._durations: dict[Key, list[int]] = {}  # bucket counts..., sum in ns
        self._to_labels = _Labels(("app", "operation"), lim)
        self._timeouts: dict[Key, float] = {}
        self._app_labels = _Labels(("app",), lim)
        self._loads: dict[Key, list[int]] = {}
        self._tok_labels = _Labels(("app", "phase"), lim)
        self._tokens: dict[Key, list[int]] = {}  # [tokens, observations]
        self._tps: dict[Key, list[int]] = {}
        self._codes: dict[int, str] = {}
        if registry is not None:
            registry.register(self)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for parallel replay: the lock stays behind."""
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- ingest (hot path) -----------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> None:
        """Add a batch of events; thread-safe; a few dict operations per event."""
        with self._lock:
            self._observe(events)

    def _observe(self, events: Sequence[Event]) -> None:
        ev_cache, events_c, last = self._ev_labels.cache, self._events, self._last
        use_read = self.use_read_time
        req_cache, requests, durations = self._req_labels.cache, self._requests, self._durations
        d_bounds = self.bounds["logmetrics_request_duration_seconds"]
        d_len = len(d_bounds) + 2
        codes = self._codes
        norm = normalise_path
        for e in events:
            app = e["app"]
            kind = e["kind"]
            raw: Key = (app, kind, e["level"])
            k = ev_cache[raw]
            events_c[k] = events_c.get(k, 0) + 1
            ts = e["ts"]
            if ts > last.get(k, "") and (use_read or e.get("ts_source") != "read"):
                last[k] = ts
            if kind == "log":
                continue
            if kind == "request":
                status = e["status"]
                code = codes.get(status)
                if code is None:
                    code = codes[status] = str(status)
                path = e.get("path")
                path = "" if path is None else norm(path)
                raw = (app, e.get("method") or "", path, code)
                k = req_cache[raw]
                n = requests.get(k)
                if n is None:
                    n = 0
                    if len(requests) >= self._series_memory:
                        k = (k[0], OTHER, OTHER, OTHER)
                        n = requests.get(k, 0)
                requests[k] = n + 1
                dur = e.get("duration_ms")
                if dur is not None:
                    h = durations.get(k)
                    if h is None:
                        h = durations[k] = [0] * d_len
                    h[bisect_left(d_bounds, dur / 1000.0)] += 1
                    h[-1] += round(dur * 1e6)  # ns: integer sums add up the same in any order
            elif kind == "timeout":
                raw = (app, e.get("operation") or "")
                k = self._to_labels.cache[raw]
                self._timeouts[k] = self._timeouts.get(k, 0) + 1
            elif kind == "model_load":
                dur = e.get("duration_ms")
                if dur is not None:
                    raw = (app,)
                    k = self._app_labels.cache[raw]
                    self._hist(self._loads, k, MODEL_LOAD, dur / 1000.0, round(dur * 1e6))
            elif kind == "inference":
                self._inference(e, app)

    def _hist(self, series: dict[Key, list[int]], k: Key, metric: str, value: float, scaled: int) -> None:
        bounds = self.bounds[metric]
        h = series.get(k)
        if h is None:
            h = series[k] = [0] * (len(bounds) + 2)
        h[bisect_left(bounds, value)] += 1
        h[-1] += scaled

    def _inference(self, e: Event, app: str) -> None:
        """Tokens and rates per phase, as `token_phases` assigns them."""
        labels = self._tok_labels
        for phase, n, rate in token_phases(e):
            k = labels.cache[(app, phase)]
            if n is not None:
                t = self._tokens.get(k)
                if t is None:
                    t = self._tokens[k] = [0, 0]
                t[0] += n
                t[1] += 1
            if rate is not None:
                self._hist(self._tps, k, TOKENS_PER_SECOND, rate, round(rate * _SCALE[TOKENS_PER_SECOND]))

    # -- merge --------------------------------------------------------------------------------

    def merge(self, other: MetricsSink) -> None:
        """Add a sink fed the *next* part of the input: equal to one sink fed both parts in order.

        Different `Stats` objects are merged too (one shared object is counted once).
        """
        if other is self:
            raise ValueError("cannot merge a sink into itself")
        if (other.bounds, other.label_limit, other.memory_limit, other.series_limit) != (
                self.bounds, self.label_limit, self.memory_limit, self.series_limit):
            raise ValueError("cannot merge sinks with different buckets or label limits")
        with self._lock, other._lock:
            for mine, theirs in ((self._ev_labels, other._ev_labels), (self._req_labels, other._req_labels),
                                 (self._to_labels, other._to_labels), (self._app_labels, other._app_labels),
                                 (self._tok_labels, other._tok_labels)):
                mine.absorb(theirs)
            _merge_counts(self._events, other._events, self._ev_labels)
            _merge_max(self._last, other._last, self._ev_labels)
            _merge_counts(self._requests, other._requests, self._req_labels)
            _merge_lists(self._durations, other._durations, self._req_labels)
            _merge_counts(self._timeouts, other._timeouts, self._to_labels)
            _merge_lists(self._loads, other._loads, self._app_labels)
            _merge_lists(self._tokens, other._tokens, self._tok_labels)
            _merge_lists(self._tps, other._tps, self._tok_labels)
            if self.stats is not None and other.stats is not None and other.stats is not self.stats:
                self.stats.merge(other.stats)

    # -- scrape -------------------------------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so the registry can refuse a clashing collector."""
        return list(self._families(empty=True))

    def collect(self) -> Iterable[Metric]:
        """Metric families built from the aggregates, under the lock (the tailer scrapes concurrently)."""
        with self._lock:
            return list(self._families(empty=False))

    def _families(self, *, empty: bool) -> Iterator[Metric]:
        overflow: dict[tuple[str, str], float] = {}

        def count_overflow(metric: str, names: Sequence[str], key: Key, n: float) -> None:
            for name, v in zip(names, key, strict=True):
                if v == OTHER:
                    overflow[(metric, name)] = overflow.get((metric, name), 0) + n

        series_overflow: dict[str, float] = {}
        lim, slim = self.label_limit, self.series_limit

        def fold(metric: str, names: Sequence[str], series: dict[Key, Any], counts: dict[Key, float]) -> _Fold:
            f = _Fold(series, len(names), lim, slim)
            f.count_labels(counts, lambda k, n: count_overflow(metric, names, k, n))
            if f.overflowed:
                series_overflow[metric] = series_overflow.get(metric, 0) + f.overflow(counts)
            return f

        # requests
        names = self._req_labels.names
        req = CounterMetricFamily(REQUESTS, "Requests seen in access lines.", labels=names)
        dur = HistogramMetricFamily(REQUEST_DURATION, "Request duration (seconds) from access lines.",
                                    labels=names)
        if not empty:
            f = fold(REQUESTS, names, self._requests, self._requests)
            for k, v in sorted(f.counts(self._requests).items()):
                req.add_metric(k, v)
            observed = {k: float(sum(h[:-1])) for k, h in self._durations.items()}
            f.count_labels(observed, lambda k, n: count_overflow(REQUEST_DURATION, names, k, n))
            if f.overflowed:  # the histogram shares the counter's series (durations ⊆ requests)
                series_overflow[REQUEST_DURATION] = f.overflow(observed)
            self._add_hists(dur, f.lists(self._durations), REQUEST_DURATION)
        yield req
        yield dur

        names = self._to_labels.names
        fam = CounterMetricFamily(TIMEOUTS, "Timeouts logged, by operation.", labels=names)
        if not empty:
            f = fold(TIMEOUTS, names, self._timeouts, self._timeouts)
            for k, v in sorted(f.counts(self._timeouts).items()):
                fam.add_metric(k, v)
        yield fam

        # per (app, kind, level) counts → errors, log lines, events, last event time
        errors: dict[Key, float] = {}
        lines: dict[Key, float] = {}
        kinds: dict[Key, float] = {}
        last: dict[Key, str] = {}
        per_app: dict[Key, float] = {}
        adm = _admitted(self._events, 3, lim)
        for raw, n in self._events.items():
            app, kind, level = _fold_key(adm, raw)
            a = (app,)
            per_app[a] = per_app.get(a, 0) + n
            if kind == "error":
                errors[a] = errors.get(a, 0) + n
            lines[(app, level)] = lines.get((app, level), 0) + n
            kinds[(app, kind)] = kinds.get((app, kind), 0) + n
            ts = self._last.get(raw)
            if ts is not None and ts > last.get(a, ""):
                last[a] = ts
        fam = CounterMetricFamily(ERRORS, "Error events (kind=error).", labels=("app",))
        for k, v in sorted(errors.items()):
            fam.add_metric(k, v)
            count_overflow(ERRORS, ("app",), k, v)
        yield fam
        fam = CounterMetricFamily(LOG_LINES, "Events by level (every event counts once).",
                                  labels=("app", "level"))
        for k, v in sorted(lines.items()):
            fam.add_metric(k, v)
            count_overflow(LOG_LINES, ("app", "level"), k, v)
        yield fam

        names = self._app_labels.names
        loads = HistogramMetricFamily(MODEL_LOAD, "Model load time (seconds).", labels=names)
        if not empty:
            f = fold(MODEL_LOAD, names, self._loads, {k: float(sum(h[:-1])) for k, h in self._loads.items()})
            self._add_hists(loads, f.lists(self._loads), MODEL_LOAD)
        yield loads

        names = self._tok_labels.names
        fam = CounterMetricFamily(TOKENS, "Tokens processed, by phase (prompt/completion).", labels=names)
        f = fold(TOKENS, names, self._tokens, {k: float(t[1]) for k, t in self._tokens.items()})
        for k, t in sorted(f.lists(self._tokens).items()):
            fam.add_metric(k, t[0])
        yield fam
        tps = HistogramMetricFamily(TOKENS_PER_SECOND, "Token rate reported by inference lines, by phase.",
                                    labels=names)
        if not empty:
            f = fold(TOKENS_PER_SECOND, names, self._tps, {k: float(sum(h[:-1])) for k, h in self._tps.items()})
            self._add_hists(tps, f.lists(self._tps), TOKENS_PER_SECOND)
        yield tps

        gauge = GaugeMetricFamily(LAST_EVENT, "Time of the newest event (the log's own time), Unix seconds.",
                                  labels=("app",))
        for k, ts in sorted(last.items()):
            gauge.add_metric(k, _ts_epoch(ts))
            count_overflow(LAST_EVENT, ("app",), k, per_app.get(k, 0))
        yield gauge

        # self-metrics
        fam = CounterMetricFamily(EVENTS, "Events emitted, by kind.", labels=("app", "kind"))
        for k, v in sorted(kinds.items()):
            fam.add_metric(k, v)
            count_overflow(EVENTS, ("app", "kind"), k, v)
        yield fam
        yield from self._stats_families()
        fam = CounterMetricFamily("logmetrics_label_overflow_total",
                                  "Label values replaced by 'other' (label_limit reached).",
                                  labels=("metric", "label"))
        for (metric, label), v in sorted(overflow.items()):
            fam.add_metric((metric, label), v)
        yield fam
        fam = CounterMetricFamily("logmetrics_series_overflow_total",
                                  "Observations whose label set went to (app, other, ...): series_limit reached.",
                                  labels=("metric",))
        for metric, v in sorted(series_overflow.items()):
            fam.add_metric((metric,), v)
        yield fam

    def _add_hists(self, fam: HistogramMetricFamily, series: dict[Key, list[int]], metric: str) -> None:
        les = [repr(b) for b in self.bounds[metric]] + ["+Inf"]
        scale = _SCALE[metric]
        for k, h in sorted(series.items()):
            acc = 0.0
            buckets: list[tuple[str, float]] = []
            for le, c in zip(les, h, strict=False):
                acc += c
                buckets.append((le, acc))
            fam.add_metric(k, buckets, sum_value=h[-1] / scale)

    def _stats_families(self) -> Iterator[Metric]:
        st = self.stats if self.stats is not None else Stats()
        yield CounterMetricFamily("logmetrics_lines_read_total", "Lines read.", value=st.lines)
        yield CounterMetricFamily("logmetrics_bytes_read_total", "Bytes read.", value=st.bytes)
        for name, doc, label, counter in (
            ("logmetrics_lines_unrecognized_total", "Lines no pattern matched (became kind=log).", "app",
             st.unrecognized),
            ("logmetrics_lines_malformed_total", "Lines cut (oversized) or not valid UTF-8 (still events).",
             "reason", st.malformed),
            ("logmetrics_lines_dropped_total", "Lines that produced no event.", "reason", st.dropped),
            ("logmetrics_rotations_total", "Log file rotations seen.", "mode", st.rotations),
            ("logmetrics_redactions_total", "Secrets replaced before output.", "rule", st.redactions),
            ("logmetrics_output_errors_total", "Failures writing the events output.", "reason",
             st.output_errors),
            ("logmetrics_read_errors_total", "Followed files that could not be read (retried).", "reason",
             st.read_errors),
            ("logmetrics_rule_budget_exceeded_total",
             "Lines on which a user's regex ran past its time budget (parser: no match; redaction: field masked).",
             "rule", st.budget_exceeded),
        ):
            fam = CounterMetricFamily(name, doc, labels=(label,))
            for v, n in sorted(dict(counter).items()):
                fam.add_metric((v,), n)
            yield fam
        yield GaugeMetricFamily("logmetrics_files_watched", "Files being followed.", value=st.files_watched)
        yield GaugeMetricFamily("logmetrics_read_lag_bytes", "Bytes written to followed files not read yet.",
                                value=st.read_lag_bytes)


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format (what /metrics and `replay --format prom` print)."""
    return generate_latest(registry)
