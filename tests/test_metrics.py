"""Metrics derivation: values read back from the exposition text, bounded labels, merge == one pass."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from logmetrics.config import DEFAULT_BUCKETS, Settings
from logmetrics.core.stats import Stats
from logmetrics.sinks.metrics import OTHER, MetricsSink, exposition
from logmetrics.sinks.normalise import normalise_path

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def ev(kind: str, app: str = "ollama", level: str = "info", ts: str = "2026-11-03T10:00:00.000Z",
       **kw: Any) -> dict[str, Any]:
    return {"ts": ts, "app": app, "kind": kind, "level": level, "msg": "m", **kw, "line": "l", "file": "f"}


def req(status: int, path: str = "/api/chat", method: str = "POST", ms: float | None = 100.0,
        **kw: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"status": status, "method": method, "path": path}
    if ms is not None:
        extra["duration_ms"] = ms
    return ev("request", **extra, **kw)


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the exposition, parsed back with prometheus_client's own parser."""
    out: Samples = {}
    for fam in text_string_to_metric_families(exposition(registry).decode()):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def L(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def B(labels: tuple[tuple[str, str], ...], le: str) -> tuple[tuple[str, str], ...]:
    """The label key of one histogram bucket."""
    return tuple(sorted((*labels, ("le", le))))


def sink_with(events: list[dict[str, Any]], **kw: Any) -> tuple[MetricsSink, CollectorRegistry]:
    reg = CollectorRegistry()
    sink = MetricsSink(reg, **kw)
    sink.write(events)
    return sink, reg


def test_requests_counter_and_histogram_value_by_value() -> None:
    events = [req(200, ms=30), req(200, ms=50), req(200, ms=700), req(500, ms=1_800_000.0),
              req(500, ms=4_000_000.0), req(200, path="/api/chat?stream=true", ms=None)]
    _, reg = sink_with(events)
    s = scrape(reg)
    ok = L(app="ollama", method="POST", path="/api/chat", code="200")
    bad = L(app="ollama", method="POST", path="/api/chat", code="500")
    assert s[("logmetrics_requests_total", ok)] == 4  # the query string is not a new series
    assert s[("logmetrics_requests_total", bad)] == 2
    b = "logmetrics_request_duration_seconds"
    # 30 ms and exactly 50 ms both fall in le=0.05 (le is inclusive); 700 ms in le=1
    assert s[(b + "_bucket", B(ok, "0.05"))] == 2
    assert s[(b + "_bucket", B(ok, "0.5"))] == 2
    assert s[(b + "_bucket", B(ok, "1.0"))] == 3
    assert s[(b + "_bucket", B(ok, "+Inf"))] == 3 == s[(b + "_count", ok)]
    assert s[(b + "_sum", ok)] == pytest.approx(0.78)
    # 1800 s is in le=1800 exactly; 4000 s only in +Inf
    assert s[(b + "_bucket", B(bad, "600.0"))] == 0
    assert s[(b + "_bucket", B(bad, "1800.0"))] == 1
    assert s[(b + "_bucket", B(bad, "+Inf"))] == 2 == s[(b + "_count", bad)]
    assert s[(b + "_sum", bad)] == pytest.approx(5800.0)


def test_histogram_buckets_are_cumulative_and_end_at_count() -> None:
    events = [req(200, ms=v) for v in (1, 60, 120, 600, 2000, 9000, 45_000, 100_000, 250_000)]
    _, reg = sink_with(events)
    s = scrape(reg)
    lab = L(app="ollama", method="POST", path="/api/chat", code="200")
    les = [*(repr(float(b)) for b in DEFAULT_BUCKETS["logmetrics_request_duration_seconds"]), "+Inf"]
    values = [s[("logmetrics_request_duration_seconds_bucket", B(lab, le))] for le in les]
    assert values == sorted(values)
    assert values[-1] == s[("logmetrics_request_duration_seconds_count", lab)] == 9
    assert values[:4] == [1, 2, 3, 3]  # ≤50ms: 1; ≤100ms: +60; ≤250ms: +120; ≤500ms: none


def test_other_metrics_from_their_events() -> None:
    events = [
        ev("timeout", operation="runner_start", level="error"),
        ev("timeout", operation="runner_start", level="error"),
        ev("timeout", app="nginx", operation="upstream", level="error"),
        ev("error", level="error", error="boom"),
        ev("model_load", duration_ms=5650.0),
        ev("model_load", duration_ms=38200.0),
        ev("inference", prompt_tokens=100, prompt_ms=200.0, tokens_per_s=500.0),
        ev("inference", completion_tokens=40, eval_ms=800.0, tokens_per_s=50.0),
        ev("inference", tokens_per_s=25.0),  # no phase keys: a completion rate
        ev("log", level="debug", ts="2026-11-03T10:00:05.500Z"),
        ev("log", level="warn", ts="2026-11-03T09:00:00.000Z"),
    ]
    stats = Stats(lines=20, bytes=999)
    stats.unrecognized["ollama"] = 3
    stats.malformed["invalid_utf8"] = 2
    stats.dropped["output_error"] = 1
    stats.rotations["rename"] = 4
    stats.redactions["bearer"] = 5
    stats.output_errors["disk_full"] = 6
    stats.files_watched = 7
    stats.read_lag_bytes = 8
    _, reg = sink_with(events, stats=stats)
    s = scrape(reg)
    assert s[("logmetrics_timeouts_total", L(app="ollama", operation="runner_start"))] == 2
    assert s[("logmetrics_timeouts_total", L(app="nginx", operation="upstream"))] == 1
    assert s[("logmetrics_errors_total", L(app="ollama"))] == 1
    assert ("logmetrics_errors_total", L(app="nginx")) not in s
    ml = "logmetrics_model_load_duration_seconds"
    assert s[(ml + "_count", L(app="ollama"))] == 2
    assert s[(ml + "_sum", L(app="ollama"))] == pytest.approx(43.85)
    assert s[(ml + "_bucket", L(app="ollama", le="10.0"))] == 1
    assert s[("logmetrics_tokens_total", L(app="ollama", phase="prompt"))] == 100
    assert s[("logmetrics_tokens_total", L(app="ollama", phase="completion"))] == 40
    tps = "logmetrics_tokens_per_second"
    assert s[(tps + "_count", L(app="ollama", phase="prompt"))] == 1
    assert s[(tps + "_sum", L(app="ollama", phase="prompt"))] == 500
    assert s[(tps + "_count", L(app="ollama", phase="completion"))] == 2
    assert s[(tps + "_sum", L(app="ollama", phase="completion"))] == 75
    assert s[("logmetrics_log_lines_total", L(app="ollama", level="error"))] == 3
    assert s[("logmetrics_log_lines_total", L(app="ollama", level="info"))] == 5
    assert s[("logmetrics_log_lines_total", L(app="nginx", level="error"))] == 1
    assert s[("logmetrics_events_total", L(app="ollama", kind="inference"))] == 3
    assert s[("logmetrics_events_total", L(app="ollama", kind="log"))] == 2
    assert s[("logmetrics_last_event_timestamp_seconds", L(app="ollama"))] == 1793700005.5
    assert s[("logmetrics_last_event_timestamp_seconds", L(app="nginx"))] == 1793700000.0
    # self-metrics from Stats
    assert s[("logmetrics_lines_read_total", ())] == 20
    assert s[("logmetrics_bytes_read_total", ())] == 999
    assert s[("logmetrics_lines_unrecognized_total", L(app="ollama"))] == 3
    assert s[("logmetrics_lines_malformed_total", L(reason="invalid_utf8"))] == 2
    assert s[("logmetrics_lines_dropped_total", L(reason="output_error"))] == 1
    assert s[("logmetrics_rotations_total", L(mode="rename"))] == 4
    assert s[("logmetrics_redactions_total", L(rule="bearer"))] == 5
    assert s[("logmetrics_output_errors_total", L(reason="disk_full"))] == 6
    assert s[("logmetrics_files_watched", ())] == 7
    assert s[("logmetrics_read_lag_bytes", ())] == 8
    assert not any(name == "logmetrics_label_overflow_total" for name, _ in s)


def test_stats_are_read_live_at_scrape_time() -> None:
    stats = Stats()
    _, reg = sink_with([], stats=stats)
    assert scrape(reg)[("logmetrics_lines_read_total", ())] == 0
    stats.lines = 42
    assert scrape(reg)[("logmetrics_lines_read_total", ())] == 42


def test_read_time_events_can_be_kept_out_of_the_last_event_gauge() -> None:
    events = [ev("log", ts="2026-11-03T10:00:00.000Z"), ev("log", ts="2030-01-01T00:00:00.000Z", ts_source="read")]
    _, reg = sink_with(events, use_read_time=False)
    assert scrape(reg)[("logmetrics_last_event_timestamp_seconds", L(app="ollama"))] == 1793700000.0
    _, reg = sink_with(events)
    assert scrape(reg)[("logmetrics_last_event_timestamp_seconds", L(app="ollama"))] == 1893456000.0


def test_buckets_are_configurable_per_metric() -> None:
    buckets = Settings.model_validate({"buckets": {"logmetrics_request_duration_seconds": [1, 10]}}).buckets
    _, reg = sink_with([req(200, ms=500), req(200, ms=5000), req(200, ms=50_000)], buckets=buckets)
    s = scrape(reg)
    lab = L(app="ollama", method="POST", path="/api/chat", code="200")
    les = sorted(dict(k[1])["le"] for k in s if k[0] == "logmetrics_request_duration_seconds_bucket")
    assert les == ["+Inf", "1.0", "10.0"]
    assert [s[("logmetrics_request_duration_seconds_bucket", B(lab, le))] for le in ("1.0", "10.0", "+Inf")
            ] == [1, 2, 3]
    # the other histograms keep their defaults
    assert len(DEFAULT_BUCKETS["logmetrics_model_load_duration_seconds"]) == len(
        buckets["logmetrics_model_load_duration_seconds"])


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("/api/v1/chats/3f2b9c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", "/api/v1/chats/:id"),
        ("/api/v1/chats/3f2b9c1e", "/api/v1/chats/:id"),
        ("/api/v1/chats/0011c60d-037b-4686", "/api/v1/chats/:id"),
        ("/api/v1/users/12345/settings?x=1", "/api/v1/users/:id/settings"),
        ("/api/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "/api/blobs/:id"),
        ("/api/v1/files/aZ3_kQ9xLmN0pR7sT2uV4w", "/api/v1/files/:id"),
        ("/api/chat#frag", "/api/chat"),
        ("/api/tags", "/api/tags"),
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/api/v1/chats/", "/api/v1/chats/"),
        ("/", "/"),
    ],
)
def test_path_normalisation(raw: str, want: str) -> None:
    assert normalise_path(raw) == want


def test_hostile_log_keeps_series_bounded_and_counts_the_overflow() -> None:
    n = 100_000
    limit = 50
    events = [req(200, path=f"/wp/{_word(i)}", ms=1.0) for i in range(n)]
    events += [req(200 + i % 300, method=f"M{i}", path="/x", ms=None) for i in range(300)]
    sink, reg = sink_with(events, label_limit=limit)
    s = scrape(reg)
    series = [k for k in s if k[0] == "logmetrics_requests_total"]
    paths = {dict(k[1])["path"] for k in series}
    assert len(paths) == limit + 1 and OTHER in paths  # the first 50 paths seen, then "other"
    assert len(series) <= limit * 2 + 2
    over = "logmetrics_label_overflow_total"
    # the first 50 distinct paths were kept; every later event's path became "other"
    assert s[(over, L(metric="logmetrics_requests_total", label="path"))] == n - limit + 300
    assert s[(over, L(metric="logmetrics_request_duration_seconds", label="path"))] == n - limit
    # method: POST + 49 of the M-methods kept, 251 replaced; code: 50 distinct kept
    assert s[(over, L(metric="logmetrics_requests_total", label="method"))] == 300 - (limit - 1)
    codes = {dict(k[1])["code"] for k in series}
    assert len(codes) == limit + 1
    total = sum(v for k, v in s.items() if k[0] == "logmetrics_requests_total")
    assert total == n + 300  # nothing lost, only folded
    # memory is bounded too: raw values per label stop at memory_limit, the memo at 65,536 entries
    assert len({k[2] for k in sink._requests}) == sink.memory_limit + 1
    assert len(sink._req_labels.cache) <= 1 << 16


def _word(i: int) -> str:
    """Distinct letter-only segments (not collapsed as ids)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    i += 1
    while i:
        i, r = divmod(i, 26)
        out += letters[r]
    return "page" + out


def _mixed_stream() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(3000):
        ts = f"2026-11-03T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        events.append(req(200 + (i % 7) * 50, path=f"/p/{_word(i % 97)}", ms=(i * 37.3) % 400_000, ts=ts,
                          app=("ollama", "nginx", "openwebui")[i % 3]))
        if i % 11 == 0:
            events.append(ev("timeout", operation=f"op{i % 13}", level="error", ts=ts))
        if i % 17 == 0:
            events.append(ev("inference", prompt_tokens=i, prompt_ms=1.0, tokens_per_s=i / 7, ts=ts))
            events.append(ev("inference", completion_tokens=i % 50, tokens_per_s=(i % 90) / 3, ts=ts))
        if i % 29 == 0:
            events.append(ev("model_load", duration_ms=i * 1.1, ts=ts, app=f"app{i % 5}"))
        if i % 5 == 0:
            events.append(ev("error", level="error", error="x", ts=ts))
    return events


@pytest.mark.parametrize("limit", [200, 20, 3])
def test_merge_of_consecutive_parts_equals_one_pass(limit: int) -> None:
    events = _mixed_stream()
    _, one = sink_with(events, label_limit=limit, stats=Stats(lines=len(events)))
    cuts = [0, 700, 701, 2500, len(events)]
    parts = []
    for a, b in itertools.pairwise(cuts):
        parts.append(sink_with(events[a:b], label_limit=limit, stats=Stats(lines=b - a)))
    first = parts[0][0]
    for sink, _ in parts[1:]:
        first.merge(sink)
    assert exposition(parts[0][1]) == exposition(one)  # byte for byte, sums included
    if limit == 3:
        assert b"logmetrics_label_overflow_total{" in exposition(one)


def test_merge_refuses_mismatched_sinks() -> None:
    a, _ = sink_with([], label_limit=5)
    b, _ = sink_with([], label_limit=6)
    with pytest.raises(ValueError, match="label limits"):
        a.merge(b)
    with pytest.raises(ValueError, match="itself"):
        a.merge(a)


def test_registers_on_the_given_registry_only() -> None:
    reg = CollectorRegistry()
    MetricsSink(reg)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        MetricsSink(reg)  # same names: the registry refuses a second sink
    MetricsSink(CollectorRegistry())  # another registry is fine


def test_observe_and_scrape_from_threads() -> None:
    sink, reg = sink_with([])
    batch = [req(200, ms=5.0) for _ in range(100)]

    def feed() -> None:
        for _ in range(50):
            sink.write(batch)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        exposition(reg)  # concurrent scrapes must not fail
    for t in threads:
        t.join()
    s = scrape(reg)
    assert s[("logmetrics_requests_total", L(app="ollama", method="POST", path="/api/chat", code="200"))] == 20_000


def test_metric_labels_table_matches_what_is_exposed() -> None:
    from logmetrics.sinks.metrics import METRIC_LABELS

    reg = CollectorRegistry()
    MetricsSink(reg)
    described = {m.name + ("_total" if m.type == "counter" else ""): tuple(m._labelnames)  # type: ignore[attr-defined]
                 for m in reg.collect()}
    assert described == METRIC_LABELS


def test_a_product_of_bounded_labels_is_bounded_too() -> None:
    """200 paths × 200 codes × 200 methods: each label is capped at 200, the label sets at series_limit."""
    reg = CollectorRegistry()
    sink = MetricsSink(reg, label_limit=200)
    events = [
        {"ts": "2026-11-03T10:00:00.000Z", "app": "nginx", "kind": "request", "level": "info", "msg": "",
         "status": 100 + j, "method": f"M{(i * 7 + j) % 200}", "path": f"/p{i}/x", "duration_ms": 12.5}
        for i in range(200) for j in range(200)
    ]
    sink.write(events)
    text = generate_latest(reg).decode()
    assert len(text) < 10 * 2**20, len(text)
    series = [x for x in text.splitlines() if x.startswith("logmetrics_requests_total{")]
    assert len(series) == 1000 + 1  # the first 1000 label sets, then one (nginx, other, other, other)
    assert 'logmetrics_requests_total{app="nginx",code="other",method="other",path="other"} 39000.0' in text
    assert 'logmetrics_series_overflow_total{metric="logmetrics_requests_total"} 39000.0' in text
    assert 'logmetrics_series_overflow_total{metric="logmetrics_request_duration_seconds"} 39000.0' in text
    total = sum(float(x.rsplit(" ", 1)[1]) for x in series)
    assert total == 40_000  # nothing lost, only folded


def test_label_values_are_cut_to_a_bounded_length() -> None:
    reg = CollectorRegistry()
    sink = MetricsSink(reg)
    sink.write([{"ts": "2026-11-03T10:00:00.000Z", "app": "nginx", "kind": "request", "level": "info",
                   "msg": "", "status": 200, "method": "GET", "path": "/" + "a" * 100_000}])
    line = next(x for x in generate_latest(reg).decode().splitlines() if x.startswith("logmetrics_requests_total{"))
    assert len(line) < 300 and "…" in line
