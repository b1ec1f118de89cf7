"""The replay summary: exact numbers, mergeable parts, the table drawn from the same dict."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from logmetrics.parse.engine import Engine, Stats
from logmetrics.sinks.normalise import normalise_message
from logmetrics.sinks.render import fmt_ms, headline, render_table
from logmetrics.sinks.summary import Summary, quantile
from tests.conftest import ROOT, replay_batches


def ev(kind: str, app: str = "ollama", level: str = "info", ts: str = "2026-11-03T10:00:00.000Z",
       **kw: Any) -> dict[str, Any]:
    return {"ts": ts, "app": app, "kind": kind, "level": level, "msg": "m", **kw, "line": "l", "file": "f.log"}


def req(status: int, ms: float | None, ts: str = "2026-11-03T10:00:00.000Z", **kw: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"status": status, "method": "POST", "path": "/api/chat"}
    if ms is not None:
        extra["duration_ms"] = ms
    return ev("request", ts=ts, **extra, **kw)


def summarise(events: list[dict[str, Any]], stats: Stats | None = None) -> dict[str, Any]:
    s = Summary(stats)
    s.write(events)
    return s.to_dict()


def test_quantiles_are_exact_not_bucket_estimates() -> None:
    vs = [float(x) for x in range(1, 101)]
    assert quantile(vs, 0.5) == 50.5
    assert quantile(vs, 0.9) == pytest.approx(90.1)
    assert quantile(vs, 0.99) == pytest.approx(99.01)
    assert quantile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        quantile([], 0.5)
    d = summarise([req(200, float(ms)) for ms in range(1, 101)])
    lat = d["apps"][0]["requests"]["latency_ms"]
    assert (lat["count"], lat["min"], lat["p50"], lat["p90"], lat["p95"], lat["p99"], lat["max"], lat["mean"]) == (
        100, 1.0, 50.5, 90.1, 95.05, 99.01, 100.0, 50.5)


def test_request_counts_status_histogram_and_timeline() -> None:
    events = [
        req(200, 50.0, ts="2026-11-03T10:00:01.000Z"),  # exactly 50 ms: in the ≤ 50 ms bucket
        req(200, 51.0, ts="2026-11-03T10:00:59.000Z"),
        req(500, 300_000.0, ts="2026-11-03T10:02:00.000Z"),
        req(502, None, ts="2026-11-03T10:02:30.000Z"),
        req(404, 5.0, ts="2026-11-03T10:03:00.000Z"),
        ev("timeout", operation="runner_start", level="error", ts="2026-11-03T10:02:10.000Z"),
        ev("timeout", operation="runner_start", level="error", ts="2026-11-03T10:03:10.000Z"),
        ev("timeout", operation="stream", level="error", ts="2026-11-03T10:03:11.000Z"),
        ev("error", level="error", error="boom 1", ts="2026-11-03T10:03:12.000Z"),
    ]
    app = summarise(events)["apps"][0]
    r = app["requests"]
    assert r["count"] == 5 and r["status"] == {"200": 2, "404": 1, "500": 1, "502": 1}
    assert (r["5xx"], r["5xx_ratio"]) == (2, 0.4)
    hist = {h["le"]: h["count"] for h in r["latency_histogram"]}
    assert hist[0.05] == 2 and hist[0.1] == 1 and hist[300.0] == 1 and sum(hist.values()) == 4
    assert list(hist)[-1] == "+Inf"
    assert app["timeouts"] == {"count": 3, "by_operation": {"runner_start": 2, "stream": 1}}
    assert app["timeline"]["rows"] == [
        ["2026-11-03T10:00", 2, 0, 0, 0],
        ["2026-11-03T10:02", 2, 2, 0, 1],
        ["2026-11-03T10:03", 1, 0, 1, 2],
    ]
    assert (app["first_ts"], app["last_ts"]) == ("2026-11-03T10:00:01.000Z", "2026-11-03T10:03:12.000Z")
    assert app["kinds"] == {"request": 5, "timeout": 3, "error": 1, "model_load": 0, "inference": 0, "log": 0}
    assert headline(app) == ("ollama: 5 requests, 2 5xx (40.0%), p95 4m15s, 3 timeouts (runner_start 2, "
                             "stream 1), 1 errors")


def test_errors_are_grouped_with_numbers_and_ids_normalised() -> None:
    msgs = [
        "connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.4.14",
        "connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.4.15",
        "chat 3f2b9c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e failed after 5m0s",
        "chat 0b1e2d3c-4d5a-4b6c-8d7e-9f0a1b2c3d4e failed after 12.5s",
        "model llama3:8b not found",
    ]
    app = summarise([ev("error", level="error", error=m) for m in msgs])["apps"][0]
    assert app["errors"]["count"] == 5 and app["errors"]["distinct"] == 3
    top = app["errors"]["top"]
    assert [(t["message"], t["count"]) for t in top] == [
        ("chat <id> failed after <dur>", 2),
        ("connect() failed (<n>: Connection refused) while connecting to upstream, client: <ip>", 2),
        ("model llama3:8b not found", 1),  # the digits in a name stay
    ]
    assert top[1]["example"] == msgs[0]  # the first instance is kept as the example
    assert normalise_message('request: "POST /api/chat HTTP/1.1", upstream: "http://127.0.0.1:11434/x"') == (
        'request: "POST /api/chat HTTP/1.1", upstream: "http://<ip>/x"')


def test_read_time_events_are_counted_but_not_timed() -> None:
    events = [req(200, 1.0, ts="2026-11-03T10:00:00.000Z"),
              req(200, 1.0, ts="2030-01-01T00:00:00.000Z", ts_source="read")]
    app = summarise(events)["apps"][0]
    assert app["events"] == 2 and app["events_without_time"] == 1
    assert app["last_ts"] == "2026-11-03T10:00:00.000Z"
    assert sum(row[1] for row in app["timeline"]["rows"]) == 1


def test_tokens_model_loads_and_recognition_share() -> None:
    stats = Stats()
    stats.unrecognized["ollama"] = 1
    events = [
        ev("inference", prompt_tokens=100, prompt_ms=200.0, tokens_per_s=500.0),
        ev("inference", completion_tokens=40, eval_ms=800.0, tokens_per_s=50.0),
        ev("inference", tokens_per_s=30.0),
        ev("model_load", duration_ms=5650.0, model="llama3:8b"),
        ev("model_load", duration_ms=38200.0),
        ev("log"),
    ]
    app = summarise(events, stats)["apps"][0]
    assert app["tokens"]["prompt"] == 100 and app["tokens"]["completion"] == 40
    assert app["tokens"]["per_second"]["prompt"]["p50"] == 500.0
    assert app["tokens"]["per_second"]["completion"]["count"] == 2
    assert app["tokens"]["per_second"]["completion"]["p50"] == 40.0
    assert app["model_loads"]["count"] == 2
    assert app["model_loads"]["seconds"]["max"] == 38.2
    assert app["model_loads"]["by_model"] == {"": 1, "llama3:8b": 1}
    assert app["lines_unrecognized"] == 1 and app["recognized_ratio"] == pytest.approx(5 / 6, abs=1e-3)


def _sample_batches() -> tuple[list[list[dict[str, Any]]], Stats]:
    engine = Engine(now=lambda: 1_700_000_000.0)
    return replay_batches(engine, str(ROOT / "samples")), engine.stats


@pytest.fixture(scope="module")
def sample_batches() -> tuple[list[list[dict[str, Any]]], Stats]:
    return _sample_batches()


def test_merge_of_parts_equals_one_pass(sample_batches: tuple[list[list[dict[str, Any]]], Stats]) -> None:
    batches, stats = sample_batches
    events = [e for b in batches for e in b]
    one = Summary(stats)
    one.write(events)
    assert len(events) > 3000
    for cuts in ([0, 1, 1000, 2500, len(events)], [0, len(events) // 2, len(events)]):
        parts = []
        for a, b in itertools.pairwise(cuts):
            s = Summary(stats)  # the same Stats object: counted once
            s.write(events[a:b])
            parts.append(s)
        merged = parts[0]
        for p in parts[1:]:
            merged.merge(p)
        assert merged.to_dict() == one.to_dict()
        assert render_table(merged.to_dict()) == render_table(one.to_dict())


def test_merge_adds_separate_stats() -> None:
    a, b = Summary(Stats(lines=3)), Summary(Stats(lines=4))
    a.merge(b)
    assert a.to_dict()["lines_read"] == 7
    with pytest.raises(ValueError):
        a.merge(a)


def test_table_is_plain_fixed_width_text_unless_coloured(
        sample_batches: tuple[list[list[dict[str, Any]]], Stats]) -> None:
    batches, stats = sample_batches
    s = Summary(stats)
    for b in batches:
        s.write(b)
    data = s.to_dict()
    text = render_table(data)
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 110
    lines = text.splitlines()
    assert lines[0].startswith("logmetrics replay: ")
    assert lines[2].startswith("  ollama: ") and "requests" in lines[2]  # headline first, biggest app first
    assert "request latency" in text and "timeline (UTC)" in text and "█" in text
    coloured = render_table(data, color=True, width=80)
    assert "\x1b[" in coloured


@pytest.mark.parametrize(("ms", "text"), [(0.178, "178µs"), (4.25, "4.2ms"), (42.0, "42ms"), (4200.0, "4.2s"),
                                          (130_000.0, "2m10s"), (3_723_000.0, "1h02m")])
def test_durations_read_like_people_say_them(ms: float, text: str) -> None:
    assert fmt_ms(ms) == text


def test_empty_input_renders() -> None:
    data = Summary().to_dict()
    assert data["apps"] == [] and data["first_ts"] is None
    assert "no timestamps" in render_table(data)

